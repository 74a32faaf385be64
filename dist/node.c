/* node.c - hive as a C node of an Erlang cluster, over erl_interface (ei).
 *
 * ei does the parts that are hard to get right and rarely run: the
 * handshake (ei_accept_tmo, ei_connect_tmo) and epmd (ei_publish_tmo).
 * Those block, so they run on the blocking pool (hive_blocking). After the
 * handshake the connection is ours: its socket is made non-blocking and two
 * hive processes own it, a reader that waits with hive_io_wait and parses
 * frames (4-byte length; 0 is a tick; else 'p', control term, message term:
 * ei negotiates no atom cache and no fragments, so that is every frame),
 * and a writer that takes finished frames from its mailbox and writes them
 * in order. Nothing from the socket is trusted: each frame is bounded
 * (FRAME_MAX), each term is checked whole (hive__term_check) before any ei
 * decoder reads it, and any error ends that connection only.
 *
 * Hive pids on the wire: a hive pid is generation << 32 | slot, sent as an
 * Erlang pid {node, num = low 32 bits, serial = high 32 bits, creation}.
 *
 * Remote pids are first-class through proxies: a hive process per remote
 * pid in use (hive_node_proxy, or an Erlang process that links to or
 * monitors a hive one), trapping exits. Local processes link to and
 * monitor the proxy as any process; the proxy turns what it sees into
 * distribution signals (an EXIT from a linked local process becomes EXIT to
 * the remote pid, a DOWN of a local it monitors for a remote becomes
 * MONITOR_P_EXIT), and ends with the remote's reason when the remote pid
 * ends (EXIT, MONITOR_P_EXIT) or with `noconnection` when its node's
 * connection is lost, so links and monitors fire as in Erlang. To hear of
 * that end whoever uses it, each proxy monitors its remote pid itself
 * (MONITOR_P from the proxy's pid, sent once the proxy is in the table);
 * if the proxy ends first (killed, runtime stop) it withdraws that monitor
 * (DEMONITOR_P, over a connection still up). So live proxies are those of
 * live remote processes, however many short-lived ones have come and gone.
 *
 * The proxy table is per remote pid: an entry per proxy, found by remote pid
 * or by proxy pid through two chained hashes that double as they fill;
 * ended entries are kept (the last DEAD_KEEP) so that an EXIT or DOWN from
 * a proxy maps back to its remote pid. It and the connection table are
 * guarded by N.lock, a pthread mutex held only for table edits that never
 * wait (no hive call blocks under it).
 */
#include <ctype.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ei.h>

#include <hive/hive.h>
#include <hive/node.h>

#include "dist/term.h"
#include "mailbox/message.h"
#include "core/process.h"

#define MAX_CONNS 64
#define FRAME_MAX (64u << 20)
#define PASS_THROUGH 'p'

enum { C_FREE = 0, C_CONNECTING, C_UP };
enum { OP_LINK = 1, OP_SEND = 2, OP_EXIT = 3, OP_UNLINK = 4, OP_REG_SEND = 6,
       OP_EXIT2 = 8, OP_MONITOR_P = 19, OP_DEMONITOR_P = 20, OP_MONITOR_P_EXIT = 21,
       OP_SEND_SENDER = 22, OP_UNLINK_ID = 35, OP_UNLINK_ID_ACK = 36 };

/* A proxy's commands (its private tags). */
enum { P_LINK = 1, P_UNLINK, P_MONITOR, P_DEMONITOR, P_DIE, P_START };
#define P_ACK 0x100 /* a proxy's answer to the reader: P_LINK / P_MONITOR done */
#define DEAD_KEEP 4096 /* ended proxies kept for hive_node_proxy_rpid */
#define MAX_RMONS 1024
#define REF_MAX 320 /* an encoded reference: tag, len, node atom (<= 258), creation, words */

typedef struct conn {
    char node[MAXATOMLEN_UTF8];
    int state; /* C_*; N.lock */
    int fd;
    hive_pid_t reader, writer;
    char *buf; /* the reader's frame buffer; freed by conn_release */
    /* Who closes fd (N.lock): its writer, once the writer has taken it
     * (writer_main), so that no write is under way when it closes; else
     * conn_release. gen tells a writer whether the slot is still the one
     * it was started for (a released slot may be claimed again). */
    bool writer_closes;
    uint32_t gen; /* 24 bits used (see conn_arg) */
} conn_t;

static struct {
    pthread_mutex_t lock;
    _Atomic bool started; /* see started() */
    ei_cnode ec;
    char name[MAXATOMLEN_UTF8];
    int lfd, port, epmd_fd;
    unsigned tmo;
    hive_pid_t acceptor;
    conn_t conns[MAX_CONNS];
    struct proxy_table { /* see "the proxy table" below */
        struct proxy_ent **by_rpid, **by_pid; /* nbuckets chains each */
        size_t nbuckets, live, total;
        struct proxy_ent *dead_head, *dead_tail; /* oldest first */
        size_t ndead;
    } px;
    struct rmon { /* hive_node_monitor's monitors, for hive_node_demonitor */
        hive_ref_t ref; /* 0: free */
        hive_pid_t owner;
        hive_rpid_t remote;
        uint32_t ref_len;
        char erl_ref[REF_MAX];
    } rmons[MAX_RMONS];
} N = {.lock = PTHREAD_MUTEX_INITIALIZER, .lfd = -1, .epmd_fd = -1};

/* Whether the node runs. acquire: pairs with the release store in
 * hive_node_start, so a thread that sees true also sees N.ec, N.name, N.lfd
 * written before it (they are not written again until a later start). */
static bool started(void) { return atomic_load_explicit(&N.started, memory_order_acquire); }

/* The payload of a HIVE_TAG_DIST message: this header, then the term. */
typedef struct dist_hdr {
    uint32_t has_from;
    uint32_t len;
    hive_rpid_t from;
} dist_hdr_t;

/* A frame for a writer: bytes ready for the socket. */
typedef struct frame {
    size_t len;
    char bytes[];
} frame_t;

/* ---- handshake flags ----------------------------------------------------------
 * ei does not offer DFLAG_DIST_MONITOR | DFLAG_DIST_MONITOR_NAME, and an
 * Erlang node then neither sends MONITOR_P for its monitors of hive pids
 * nor MONITOR_P_EXIT when a process hive monitors ends. hive handles those
 * signals, so it offers the flags: ei's own socket callbacks, but writes of
 * the handshake's name ('N'/'n') and challenge ('N'/'n') messages get the two
 * bits set in their flags field (the digest covers the cookie and challenge
 * only). Only handshakes use ei's callbacks: after one the socket is ours. */
#define DFLAG_MONITORS 0x28 /* DFLAG_DIST_MONITOR 0x08 | DFLAG_DIST_MONITOR_NAME 0x20 */
extern ei_socket_callbacks ei_default_socket_callbacks; /* libei's (not in ei.h) */
static ei_socket_callbacks hs_cbs;

static int hs_write(void *ctx, const char *buf, ssize_t *len, unsigned tmo)
{
    char tmp[600];
    size_t n = (size_t)*len;
    if (n >= 11 && n <= sizeof tmp &&
        ((size_t)(unsigned char)buf[0] << 8 | (unsigned char)buf[1]) == n - 2 &&
        (buf[2] == 'N' || buf[2] == 'n')) {
        memcpy(tmp, buf, n);
        /* 'N': 8-byte flags at 3 (low byte at 10); 'n': version, 4-byte flags
         * at 5 (low byte at 8). */
        tmp[buf[2] == 'N' ? 10 : 8] |= DFLAG_MONITORS;
        return ei_default_socket_callbacks.write(ctx, tmp, len, tmo);
    }
    return ei_default_socket_callbacks.write(ctx, buf, len, tmo);
}

/* ---- configuration ------------------------------------------------------- */

void hive_node_config_init(hive_node_config_t *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->name = "hive";
    cfg->publish = true;
    cfg->timeout_ms = 5000;
}

static int fail(hive_diag_t *diag, int code, const char *fmt, const char *arg)
{
    if (diag) {
        diag->code = code;
        snprintf(diag->message, sizeof diag->message, fmt, arg ? arg : "");
    }
    return code;
}

static int read_cookie(const char *path, char *out, size_t cap)
{
    char def[4096];
    if (!path) {
        const char *home = getenv("HOME");
        if (!home)
            return -ENOENT;
        snprintf(def, sizeof def, "%s/.erlang.cookie", home);
        path = def;
    }
    FILE *f = fopen(path, "r");
    if (!f)
        return -ENOENT;
    size_t n = fread(out, 1, cap - 1, f);
    fclose(f);
    out[n] = 0;
    while (n && isspace((unsigned char)out[n - 1]))
        out[--n] = 0;
    return n ? 0 : -EINVAL;
}

/* ---- pids ------------------------------------------------------------------ */

int hive_node_pid(hive_pid_t pid, hive_rpid_t *out)
{
    if (!out || pid == HIVE_PID_NONE)
        return -EINVAL;
    if (!started())
        return -EPERM;
    memset(out, 0, sizeof *out);
    memcpy(out->node, N.name, strlen(N.name) + 1); /* <= 255 bytes: hive_node_start */
    out->num = (uint32_t)pid;
    out->serial = (uint32_t)(pid >> 32);
    out->creation = N.ec.creation;
    return 0;
}

/* The hive pid an Erlang pid names, or HIVE_PID_NONE if not one of ours. */
static hive_pid_t local_pid(const hive_rpid_t *p)
{
    if (strcmp(p->node, N.name) != 0)
        return HIVE_PID_NONE;
    return (hive_pid_t)p->serial << 32 | p->num;
}

/* ---- the proxy table ---------------------------------------------------------
 *
 * One entry per proxy, reached by two chained hashes: by the remote pid it
 * stands for (proxy_for) and by its own hive pid (hive_node_proxy_rpid,
 * proxy_gone). Buckets double when entries outnumber them, so lookups stay
 * short however many remote pids are in use. An ended proxy's entry is
 * marked dead and queued (FIFO); only the DEAD_KEEP most recent dead entries
 * are kept, so an EXIT or DOWN naming a proxy can still be mapped back to
 * its remote pid for a while. All of it under N.lock. */

typedef struct proxy_ent {
    hive_rpid_t rpid;
    hive_pid_t pid;
    bool dead;
    struct proxy_ent *next_r, *next_p; /* chains in px.by_rpid, px.by_pid */
    struct proxy_ent *next_dead;       /* the dead queue */
} proxy_ent_t;

static bool same_rpid(const hive_rpid_t *a, const hive_rpid_t *b)
{
    return a->num == b->num && a->serial == b->serial && a->creation == b->creation &&
           !strcmp(a->node, b->node);
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    return x ^ (x >> 33);
}

static size_t hash_rpid(const hive_rpid_t *p, size_t nbuckets)
{
    uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a over the node name */
    for (const char *c = p->node; *c; c++)
        h = (h ^ (unsigned char)*c) * UINT64_C(1099511628211);
    h ^= mix64((uint64_t)p->serial << 32 | p->num) ^ p->creation;
    return (size_t)(mix64(h) & (nbuckets - 1));
}

static size_t hash_pid(hive_pid_t pid, size_t nbuckets)
{
    return (size_t)(mix64((uint64_t)pid) & (nbuckets - 1));
}

/* The live entry for rp, or NULL. */
static proxy_ent_t *px_find_rpid(const hive_rpid_t *rp)
{
    if (!N.px.nbuckets)
        return NULL;
    for (proxy_ent_t *e = N.px.by_rpid[hash_rpid(rp, N.px.nbuckets)]; e; e = e->next_r)
        if (!e->dead && same_rpid(&e->rpid, rp))
            return e;
    return NULL;
}

/* The entry (live or kept dead) of proxy pid, or NULL. */
static proxy_ent_t *px_find_pid(hive_pid_t pid)
{
    if (!N.px.nbuckets || pid == HIVE_PID_NONE)
        return NULL;
    for (proxy_ent_t *e = N.px.by_pid[hash_pid(pid, N.px.nbuckets)]; e; e = e->next_p)
        if (e->pid == pid)
            return e;
    return NULL;
}

/* Double the buckets (or make the first 64). Keeps the old ones if memory
 * is short: chains only get longer. */
static void px_grow(void)
{
    size_t nb = N.px.nbuckets ? N.px.nbuckets * 2 : 64;
    proxy_ent_t **br = calloc(nb, sizeof *br), **bp = calloc(nb, sizeof *bp);
    if (!br || !bp) {
        free(br);
        free(bp);
        return;
    }
    for (size_t i = 0; i < N.px.nbuckets; i++) {
        for (proxy_ent_t *e = N.px.by_rpid[i], *next; e; e = next) {
            next = e->next_r;
            size_t h = hash_rpid(&e->rpid, nb);
            e->next_r = br[h];
            br[h] = e;
        }
        for (proxy_ent_t *e = N.px.by_pid[i], *next; e; e = next) {
            next = e->next_p;
            size_t h = hash_pid(e->pid, nb);
            e->next_p = bp[h];
            bp[h] = e;
        }
    }
    free(N.px.by_rpid);
    free(N.px.by_pid);
    N.px.by_rpid = br;
    N.px.by_pid = bp;
    N.px.nbuckets = nb;
}

/* A new live entry rp -> pid: 0 or -ENOMEM. */
static int px_insert(const hive_rpid_t *rp, hive_pid_t pid)
{
    if (N.px.total >= N.px.nbuckets)
        px_grow();
    if (!N.px.nbuckets)
        return -ENOMEM;
    proxy_ent_t *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->rpid = *rp;
    e->pid = pid;
    size_t hr = hash_rpid(rp, N.px.nbuckets), hp = hash_pid(pid, N.px.nbuckets);
    e->next_r = N.px.by_rpid[hr];
    N.px.by_rpid[hr] = e;
    e->next_p = N.px.by_pid[hp];
    N.px.by_pid[hp] = e;
    N.px.live++;
    N.px.total++;
    return 0;
}

/* Unlink e from both chains and free it. */
static void px_free(proxy_ent_t *e)
{
    proxy_ent_t **pp = &N.px.by_rpid[hash_rpid(&e->rpid, N.px.nbuckets)];
    while (*pp != e)
        pp = &(*pp)->next_r;
    *pp = e->next_r;
    pp = &N.px.by_pid[hash_pid(e->pid, N.px.nbuckets)];
    while (*pp != e)
        pp = &(*pp)->next_p;
    *pp = e->next_p;
    N.px.total--;
    free(e);
}

/* The proxy ended: its entry stops counting and joins the dead queue; the
 * oldest dead entry beyond DEAD_KEEP goes. */
static void px_kill(proxy_ent_t *e)
{
    if (e->dead)
        return;
    e->dead = true;
    N.px.live--;
    e->next_dead = NULL;
    if (N.px.dead_tail)
        N.px.dead_tail->next_dead = e;
    else
        N.px.dead_head = e;
    N.px.dead_tail = e;
    if (++N.px.ndead > DEAD_KEEP) {
        proxy_ent_t *old = N.px.dead_head;
        N.px.dead_head = old->next_dead;
        if (!N.px.dead_head)
            N.px.dead_tail = NULL;
        N.px.ndead--;
        px_free(old);
    }
}

/* The live proxies of node, as a malloc'd array (*n of them; NULL when
 * none or out of memory). */
static hive_pid_t *px_live_of(const char *node, size_t *n)
{
    *n = 0;
    hive_pid_t *out = N.px.live ? malloc(N.px.live * sizeof *out) : NULL;
    for (size_t i = 0; out && i < N.px.nbuckets; i++)
        for (proxy_ent_t *e = N.px.by_pid[i]; e; e = e->next_p)
            if (!e->dead && !strcmp(e->rpid.node, node) && *n < N.px.live)
                out[(*n)++] = e->pid;
    return out;
}

/* ---- delivery -------------------------------------------------------------- */

static int deliver(hive_pid_t to, const hive_rpid_t *from, const char *term, size_t len)
{
    if (to == HIVE_PID_NONE)
        return -ESRCH;
    size_t total = sizeof(dist_hdr_t) + len;
    if (total > (size_t)hive__proc_max_message_size())
        return -EMSGSIZE;
    char *buf = malloc(total);
    if (!buf)
        return -ENOMEM;
    dist_hdr_t h;
    memset(&h, 0, sizeof h);
    h.has_from = from != NULL;
    h.len = (uint32_t)len;
    if (from)
        h.from = *from;
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, term, len);
    hive_msg_t *m = hive__msg_new_bytes(HIVE_TAG_DIST, HIVE_PID_NONE, buf, total);
    free(buf);
    if (!m)
        return -ENOMEM;
    return hive__send_msg(to, m); /* it frees m when `to` is gone */
}

int hive_dist_msg(const hive_msg_t *m, hive_dist_msg_t *out)
{
    if (!m || !out || hive_msg_tag(m) != HIVE_TAG_DIST || hive_msg_size(m) < sizeof(dist_hdr_t))
        return -EINVAL;
    dist_hdr_t h;
    memcpy(&h, hive_msg_data(m), sizeof h);
    if (h.len != hive_msg_size(m) - sizeof h)
        return -EINVAL;
    out->has_from = h.has_from != 0;
    out->from = h.from;
    out->term = (const char *)hive_msg_data(m) + sizeof h;
    out->len = h.len;
    return 0;
}

/* An Erlang exit reason as a hive one. */
static hive_reason_t reason_of(hive_term_reader_t *r)
{
    char text[sizeof(((hive_reason_t *)0)->text)];
    hive_term_reader_t peek = *r;
    if (hive_term_get_atom(&peek, text, sizeof text) == 0) {
        if (!strcmp(text, "normal"))
            return hive_reason_normal();
        if (!strcmp(text, "kill")) {
            hive_reason_t k = {.kind = HIVE_EXIT_KILLED};
            return k;
        }
        static const struct {
            const char *atom;
            hive_exit_kind_t kind;
        } kinds[] = {{"shutdown", HIVE_EXIT_SHUTDOWN}, {"killed", HIVE_EXIT_KILLED},
                     {"noproc", HIVE_EXIT_NOPROC}, {"noconnection", HIVE_EXIT_NOCONNECTION}};
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
            if (!strcmp(text, kinds[i].atom)) {
                hive_reason_t k = {.kind = kinds[i].kind};
                return k;
            }
        }
    }
    if (hive_term_format(r, text, sizeof text))
        snprintf(text, sizeof text, "?");
    return hive_reason_user(0, text);
}

static hive_pid_t proxy_for(const hive_rpid_t *rp, bool create);
static void proxy_cmd(hive_pid_t proxy, int cmd, hive_pid_t local, const hive_reason_t *why,
                      const char *ref, size_t ref_len);
static int send_signal(const hive_rpid_t *remote, int op, hive_pid_t local,
                       const hive_reason_t *reason, const char *ref, size_t ref_len,
                       long long id);

/* One frame's payload (after the length). 0, or -EINVAL: drop the peer. */
static int handle_frame(const char *p, size_t len)
{
    if (len < 3 || p[0] != PASS_THROUGH || (unsigned char)p[1] != 131)
        return -EINVAL;
    size_t end;
    if (hive__term_check(p + 2, len - 2, &end))
        return -EINVAL;
    size_t ctrl_len = 1 + end; /* version byte + term */
    const char *msg = p + 1 + ctrl_len;
    size_t msg_len = len - 1 - ctrl_len;
    hive_term_reader_t mr;
    if (msg_len && hive_term_reader_init(&mr, msg, msg_len))
        return -EINVAL;
    hive_term_reader_t r;
    size_t arity;
    long long op;
    if (hive_term_reader_init(&r, p + 1, ctrl_len) || hive_term_get_tuple(&r, &arity) ||
        arity < 2 || hive_term_get_long(&r, &op))
        return -EINVAL;
    hive_rpid_t from, to;
    char name[MAXATOMLEN_UTF8];
    switch (op) {
    case OP_REG_SEND: /* {6, From, Unused, ToName} Msg */
        if (arity != 4 || !msg_len || hive_term_get_pid(&r, &from) || hive_term_skip(&r) ||
            hive_term_get_atom(&r, name, sizeof name))
            return -EINVAL;
        deliver(hive_whereis(name), &from, msg, msg_len);
        return 0;
    case OP_SEND: /* {2, Unused, ToPid} Msg */
        if (arity != 3 || !msg_len || hive_term_skip(&r) || hive_term_get_pid(&r, &to))
            return -EINVAL;
        deliver(local_pid(&to), NULL, msg, msg_len);
        return 0;
    case OP_SEND_SENDER: /* {22, From, ToPid} Msg */
        if (arity != 3 || !msg_len || hive_term_get_pid(&r, &from) || hive_term_get_pid(&r, &to))
            return -EINVAL;
        deliver(local_pid(&to), &from, msg, msg_len);
        return 0;
    case OP_EXIT2: { /* {8, From, ToPid, Reason} */
        if (arity != 4 || hive_term_get_pid(&r, &from) || hive_term_get_pid(&r, &to))
            return -EINVAL;
        hive_pid_t target = local_pid(&to);
        if (target != HIVE_PID_NONE)
            hive_send_exit(target, reason_of(&r));
        return 0;
    }
    case OP_LINK: { /* {1, From, To}: the remote links to a local */
        if (arity != 3 || hive_term_get_pid(&r, &from) || hive_term_get_pid(&r, &to))
            return -EINVAL;
        hive_pid_t local = local_pid(&to);
        hive_pid_t proxy = hive_is_alive(local) ? proxy_for(&from, true) : HIVE_PID_NONE;
        if (proxy == HIVE_PID_NONE) {
            hive_reason_t noproc = {.kind = HIVE_EXIT_NOPROC};
            send_signal(&from, OP_EXIT, local, &noproc, NULL, 0, 0);
        } else {
            proxy_cmd(proxy, P_LINK, local, NULL, NULL, 0);
        }
        return 0;
    }
    case OP_UNLINK: /* {4, From, To} */
    case OP_UNLINK_ID: { /* {35, Id, From, To}: answered with UNLINK_ID_ACK */
        long long id = 0;
        if (arity != (op == OP_UNLINK ? 3u : 4u) ||
            (op == OP_UNLINK_ID && hive_term_get_long(&r, &id)) ||
            hive_term_get_pid(&r, &from) || hive_term_get_pid(&r, &to))
            return -EINVAL;
        hive_pid_t proxy = proxy_for(&from, false);
        if (proxy != HIVE_PID_NONE)
            proxy_cmd(proxy, P_UNLINK, local_pid(&to), NULL, NULL, 0);
        if (op == OP_UNLINK_ID)
            send_signal(&from, OP_UNLINK_ID_ACK, local_pid(&to), NULL, NULL, 0, id);
        return 0;
    }
    case OP_EXIT: /* {3, From, To, Reason}: the remote ended, linked to To */
    case OP_MONITOR_P_EXIT: { /* {21, From, To, Ref, Reason}: it ended, watched */
        if (arity != (op == OP_EXIT ? 4u : 5u) || hive_term_get_pid(&r, &from) ||
            hive_term_get_pid(&r, &to) || (op == OP_MONITOR_P_EXIT && hive_term_skip(&r)))
            return -EINVAL;
        hive_pid_t proxy = proxy_for(&from, false);
        if (proxy != HIVE_PID_NONE) {
            hive_reason_t why = reason_of(&r);
            proxy_cmd(proxy, P_DIE, HIVE_PID_NONE, &why, NULL, 0);
        }
        return 0;
    }
    case OP_MONITOR_P: /* {19, From, To (pid or name), Ref} */
    case OP_DEMONITOR_P: { /* {20, From, To, Ref} */
        hive_term_type_t t;
        hive_pid_t local;
        if (arity != 4 || hive_term_get_pid(&r, &from) || hive_term_peek(&r, &t, NULL))
            return -EINVAL;
        if (t == HIVE_TERM_ATOM) {
            if (hive_term_get_atom(&r, name, sizeof name))
                return -EINVAL;
            local = hive_whereis(name);
        } else if (hive_term_get_pid(&r, &to) == 0) {
            local = local_pid(&to);
        } else {
            return -EINVAL;
        }
        size_t ref_at = r.index;
        if (hive_term_skip(&r) || r.index - ref_at > REF_MAX)
            return -EINVAL;
        const char *ref = r.data + ref_at;
        size_t ref_len = r.index - ref_at;
        if (op == OP_DEMONITOR_P) {
            hive_pid_t proxy = proxy_for(&from, false);
            if (proxy != HIVE_PID_NONE)
                proxy_cmd(proxy, P_DEMONITOR, local, NULL, ref, ref_len);
            return 0;
        }
        hive_pid_t proxy = hive_is_alive(local) ? proxy_for(&from, true) : HIVE_PID_NONE;
        if (proxy == HIVE_PID_NONE) {
            hive_reason_t noproc = {.kind = HIVE_EXIT_NOPROC};
            send_signal(&from, OP_MONITOR_P_EXIT, local, &noproc, ref, ref_len, 0);
        } else {
            proxy_cmd(proxy, P_MONITOR, local, NULL, ref, ref_len);
        }
        return 0;
    }
    default:
        return 0; /* signals hive does not act on (group leader, aliases...) */
    }
}

/* ---- connections ---------------------------------------------------------- */

/* A reader's or writer's start argument, by value (nothing to free if the
 * process is killed before it runs): slot index and fd. */
_Static_assert(MAX_CONNS <= 256, "a slot index fits 8 bits of a process argument");
static void *conn_arg(int idx, int fd)
{
    /* The caller holds the slot (C_CONNECTING): only a claim changes gen. */
    uint64_t gen = N.conns[idx].gen & 0xffffff;
    return (void *)(uintptr_t)((uint64_t)idx << 56 | gen << 32 | (uint32_t)fd);
}
static int arg_idx(void *a) { return (int)((uint64_t)(uintptr_t)a >> 56); }
static uint32_t arg_gen(void *a) { return (uint32_t)((uint64_t)(uintptr_t)a >> 32) & 0xffffff; }
static int arg_fd(void *a) { return (int)(uint32_t)(uintptr_t)a; }

static void conn_release(int idx)
{
    pthread_mutex_lock(&N.lock);
    conn_t *c = &N.conns[idx];
    hive_pid_t writer = c->writer;
    int fd = c->fd;
    bool writer_closes = c->writer_closes;
    c->writer_closes = false;
    free(c->buf);
    c->buf = NULL;
    size_t nlost = 0;
    hive_pid_t *lost = px_live_of(c->node, &nlost);
    c->state = C_FREE;
    c->node[0] = 0;
    c->fd = -1;
    c->reader = c->writer = HIVE_PID_NONE;
    pthread_mutex_unlock(&N.lock);
    /* A writer that took the fd closes it as it ends: a write of its may be
     * under way on another worker right now (closing here raced with it,
     * and the fd's number could be reused by the next accept meanwhile).
     * Otherwise close it here - before the kill, which may end a caller
     * that has a kill of its own pending (the slot is free already: no
     * writer can take the fd now). */
    if (fd >= 0 && !writer_closes)
        ei_close_connection(fd);
    if (writer != HIVE_PID_NONE)
        hive_kill(writer);
    /* Every remote pid of that node is gone for us: noconnection. */
    hive_reason_t nc = {.kind = HIVE_EXIT_NOCONNECTION};
    for (size_t i = 0; i < nlost; i++)
        proxy_cmd(lost[i], P_DIE, HIVE_PID_NONE, &nc, NULL, 0);
    free(lost);
}

static void reader_exit(void *arg, const hive_reason_t *reason)
{
    conn_release((int)(intptr_t)arg);
}

static int read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = hive_io_read(fd, (char *)buf + got, n - got, HIVE_INFINITY);
        if (k <= 0)
            return k ? (int)k : -ECONNRESET;
        got += (size_t)k;
    }
    return 0;
}

static int send_frame(hive_pid_t writer, const char *bytes, size_t len)
{
    frame_t *f = malloc(sizeof *f + len);
    if (!f)
        return -ENOMEM;
    f->len = len;
    memcpy(f->bytes, bytes, len);
    int rc = hive_send_ptr(writer, 1, f, free);
    if (rc)
        free(f);
    return rc;
}

static void reader_main(void *arg)
{
    struct {
        int idx, fd;
    } a = {arg_idx(arg), arg_fd(arg)};
    if (hive_on_exit(reader_exit, (void *)(intptr_t)a.idx)) {
        conn_release(a.idx);
        return;
    }
    char *buf = NULL; /* also in the slot, so that conn_release frees it */
    size_t cap = 0;
    for (;;) {
        unsigned char hdr[4];
        if (read_full(a.fd, hdr, 4))
            break;
        size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
        if (len == 0) { /* a tick: answer with one */
            pthread_mutex_lock(&N.lock);
            hive_pid_t w = N.conns[a.idx].writer;
            pthread_mutex_unlock(&N.lock);
            send_frame(w, (const char *)hdr, 4);
            continue;
        }
        if (len > FRAME_MAX)
            break;
        if (len > cap) {
            char *nb = realloc(buf, len);
            if (!nb)
                break;
            buf = nb;
            cap = len;
            pthread_mutex_lock(&N.lock);
            N.conns[a.idx].buf = buf;
            pthread_mutex_unlock(&N.lock);
        }
        if (read_full(a.fd, buf, len) || handle_frame(buf, len))
            break;
    }
    /* reader_exit releases the connection and buf. */
}

/* The writer's hold on its fd: closed at its end if it took it. */
typedef struct {
    int fd;
    bool owns;
} writer_fd_t;

static void writer_exit(void *arg, const hive_reason_t *reason)
{
    (void)reason;
    writer_fd_t *w = arg;
    if (w->owns)
        ei_close_connection(w->fd);
    free(w);
}

static void writer_main(void *arg)
{
    int fd = arg_fd(arg);
    writer_fd_t *hold = malloc(sizeof *hold);
    if (hold)
        *hold = (writer_fd_t){.fd = fd, .owns = false};
    if (hold && hive_on_exit(writer_exit, hold)) {
        free(hold);
        hold = NULL;
    }
    /* If the slot is still the one we were started for, take the fd - or,
     * with no exit handler to close it, leave it to conn_release and shut
     * the socket down, so that the reader sees the connection end now
     * rather than when the peer's ticks time out (under N.lock:
     * conn_release closes the fd only after its own section). If the slot
     * was released meanwhile, conn_release closed the fd (or will): do not
     * touch it. */
    pthread_mutex_lock(&N.lock);
    conn_t *c = &N.conns[arg_idx(arg)];
    if (c->state != C_FREE && c->gen == arg_gen(arg) && c->fd == fd) {
        if (hold)
            c->writer_closes = hold->owns = true;
        else
            shutdown(fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&N.lock);
    if (!hold || !hold->owns)
        return;
    bool dead = false;
    for (;;) {
        hive_msg_t *m;
        if (hive_receive(HIVE_INFINITY, &m))
            continue;
        frame_t *f = hive_msg_take_ptr(m);
        hive_msg_free(m);
        if (!f)
            continue;
        ssize_t w = dead ? -1 : hive_io_write(fd, f->bytes, f->len, 30000);
        free(f);
        if (w < 0 && !dead) {
            /* The reader notices the dead socket and releases the slot,
             * which ends us; till then frames are dropped (the fd stays
             * open: only our end closes it). */
            shutdown(fd, SHUT_RDWR);
            dead = true;
        }
    }
}

/* Start the reader and writer for a handshaken fd in slot idx (state
 * C_CONNECTING, claimed by the caller). 0 or an error (slot released). */
static int conn_start(int idx, int fd)
{
    if (hive_io_set_nonblocking(fd)) {
        ei_close_connection(fd);
        pthread_mutex_lock(&N.lock);
        N.conns[idx].state = C_FREE;
        pthread_mutex_unlock(&N.lock);
        return -EBADF;
    }
    /* Small frames, request/reply traffic: no Nagle delay (Erlang's own
     * distribution sets nodelay too). */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    hive_pid_t w, r;
    pthread_mutex_lock(&N.lock);
    N.conns[idx].fd = fd;
    pthread_mutex_unlock(&N.lock);
    int rc = hive_spawn(writer_main, conn_arg(idx, fd), &w);
    if (rc) {
        conn_release(idx);
        return rc;
    }
    pthread_mutex_lock(&N.lock);
    N.conns[idx].writer = w;
    pthread_mutex_unlock(&N.lock);
    rc = hive_spawn(reader_main, conn_arg(idx, fd), &r);
    if (rc) {
        conn_release(idx);
        return rc;
    }
    pthread_mutex_lock(&N.lock);
    N.conns[idx].reader = r;
    N.conns[idx].state = C_UP;
    pthread_mutex_unlock(&N.lock);
    return 0;
}

/* Claim a free slot for node (state C_CONNECTING): its index or -EAGAIN. */
static int conn_claim(const char *node)
{
    for (int i = 0; i < MAX_CONNS; i++) {
        if (N.conns[i].state == C_FREE) {
            N.conns[i].state = C_CONNECTING;
            N.conns[i].gen++;
            N.conns[i].writer_closes = false;
            snprintf(N.conns[i].node, sizeof N.conns[i].node, "%s", node);
            N.conns[i].fd = -1;
            N.conns[i].reader = N.conns[i].writer = HIVE_PID_NONE;
            N.conns[i].buf = NULL;
            return i;
        }
    }
    return -EAGAIN;
}

typedef struct connect_job {
    char node[MAXATOMLEN_UTF8];
    int fd;
} connect_job_t;

static long connect_blocking(void *arg)
{
    connect_job_t *j = arg;
    j->fd = ei_connect_tmo(&N.ec, j->node, N.tmo);
    return 0;
}

/* The writer of an up connection to node, connecting first if needed. */
static int writer_for(const char *node, hive_pid_t *writer)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int idx = -1, state = C_FREE;
        pthread_mutex_lock(&N.lock);
        if (!started()) {
            pthread_mutex_unlock(&N.lock);
            return -EPERM;
        }
        for (int i = 0; i < MAX_CONNS; i++) {
            if (N.conns[i].state != C_FREE && !strcmp(N.conns[i].node, node)) {
                idx = i;
                state = N.conns[i].state;
                if (state == C_UP)
                    break;
            }
        }
        if (state == C_UP) {
            *writer = N.conns[idx].writer;
            pthread_mutex_unlock(&N.lock);
            return 0;
        }
        if (state == C_CONNECTING) { /* someone else is connecting: wait */
            pthread_mutex_unlock(&N.lock);
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((t.tv_sec - t0.tv_sec) * 1000 > (long)N.tmo + 1000)
                return -ECONNREFUSED;
            hive_sleep(1);
            continue;
        }
        idx = conn_claim(node);
        pthread_mutex_unlock(&N.lock);
        if (idx < 0)
            return idx;
        connect_job_t j;
        snprintf(j.node, sizeof j.node, "%s", node);
        j.fd = -1;
        int rc = hive_blocking(connect_blocking, &j, NULL);
        if (rc || j.fd < 0) {
            pthread_mutex_lock(&N.lock);
            N.conns[idx].state = C_FREE;
            pthread_mutex_unlock(&N.lock);
            return rc ? rc : -ECONNREFUSED;
        }
        rc = conn_start(idx, j.fd);
        if (rc)
            return rc;
    }
}

/* ---- sending ---------------------------------------------------------------- */

/* The writer of node's connection if it is up; never connects nor waits
 * (for exit handlers). 0 or -ECONNREFUSED. */
static int writer_if_up(const char *node, hive_pid_t *writer)
{
    int rc = -ECONNREFUSED;
    pthread_mutex_lock(&N.lock);
    for (int i = 0; i < MAX_CONNS && rc; i++) {
        if (N.conns[i].state == C_UP && !strcmp(N.conns[i].node, node)) {
            *writer = N.conns[i].writer;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&N.lock);
    return rc;
}

/* Frame = length, 'p', control, msg (may be NULL: a signal); handed to
 * node's writer, connecting first when `connect` (else only if up). */
static int send_ctrl(const char *node, ei_x_buff *ctrl, const hive_term_buf_t *msg, bool connect)
{
    hive_term_reader_t check;
    if (msg && hive_term_reader_init(&check, msg->data, msg->len))
        return -EINVAL;
    hive_pid_t writer;
    int rc = connect ? writer_for(node, &writer) : writer_if_up(node, &writer);
    if (rc)
        return rc;
    size_t msg_len = msg ? msg->len : 0;
    size_t len = 1 + (size_t)ctrl->index + msg_len;
    if (len > FRAME_MAX)
        return -EMSGSIZE;
    frame_t *f = malloc(sizeof *f + 4 + len);
    if (!f)
        return -ENOMEM;
    f->len = 4 + len;
    unsigned char *p = (unsigned char *)f->bytes;
    p[0] = (unsigned char)(len >> 24), p[1] = (unsigned char)(len >> 16);
    p[2] = (unsigned char)(len >> 8), p[3] = (unsigned char)len;
    p[4] = PASS_THROUGH;
    memcpy(p + 5, ctrl->buff, (size_t)ctrl->index);
    if (msg_len)
        memcpy(p + 5 + ctrl->index, msg->data, msg_len);
    rc = hive_send_ptr(writer, 1, f, free);
    if (rc) {
        free(f);
        return rc == -ESRCH ? -ECONNREFUSED : rc;
    }
    return 0;
}

static void to_erlang_pid(const hive_rpid_t *p, erlang_pid *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->node, sizeof e->node, "%s", p->node);
    e->num = p->num;
    e->serial = p->serial;
    e->creation = p->creation;
}

int hive_node_send(const hive_rpid_t *to, const hive_term_buf_t *msg)
{
    if (!to || !msg || !memchr(to->node, 0, sizeof to->node) || !strchr(to->node, '@'))
        return -EINVAL;
    if (!started())
        return -EPERM;
    hive_pid_t local = local_pid(to);
    if (local != HIVE_PID_NONE) {
        hive_term_reader_t check;
        if (!msg || hive_term_reader_init(&check, msg->data, msg->len))
            return -EINVAL;
        return deliver(local, NULL, msg->data, msg->len);
    }
    ei_x_buff c;
    erlang_pid e;
    to_erlang_pid(to, &e);
    if (ei_x_new_with_version(&c) < 0)
        return -ENOMEM;
    int rc = -EINVAL;
    if (ei_x_encode_tuple_header(&c, 3) == 0 && ei_x_encode_long(&c, OP_SEND) == 0 &&
        ei_x_encode_atom(&c, "") == 0 && ei_x_encode_pid(&c, &e) == 0)
        rc = send_ctrl(to->node, &c, msg, true);
    ei_x_free(&c);
    return rc;
}

int hive_node_send_named(const char *name, const char *node, const hive_term_buf_t *msg)
{
    if (!name || !node || !msg || !strchr(node, '@') || strlen(name) >= MAXATOMLEN ||
        strlen(node) >= MAXATOMLEN)
        return -EINVAL;
    if (!started())
        return -EPERM;
    hive_rpid_t self;
    erlang_pid from;
    if (hive_self() != HIVE_PID_NONE && hive_node_pid(hive_self(), &self) == 0)
        to_erlang_pid(&self, &from);
    else
        from = *ei_self(&N.ec);
    ei_x_buff c;
    if (ei_x_new_with_version(&c) < 0)
        return -ENOMEM;
    int rc = -EINVAL;
    if (ei_x_encode_tuple_header(&c, 4) == 0 && ei_x_encode_long(&c, OP_REG_SEND) == 0 &&
        ei_x_encode_pid(&c, &from) == 0 && ei_x_encode_atom(&c, "") == 0 &&
        ei_x_encode_atom(&c, name) == 0)
        rc = send_ctrl(node, &c, msg, true);
    ei_x_free(&c);
    return rc;
}

/* ---- remote pids: proxies and signals ---------------------------------------- */

/* A hive reason as an Erlang exit reason. */
static int encode_reason(ei_x_buff *x, const hive_reason_t *r)
{
    static const char *const atoms[] = {
        [HIVE_EXIT_NORMAL] = "normal", [HIVE_EXIT_SHUTDOWN] = "shutdown",
        [HIVE_EXIT_KILLED] = "killed", [HIVE_EXIT_NOPROC] = "noproc",
        [HIVE_EXIT_STACK_OVERFLOW] = "stack_overflow", [HIVE_EXIT_NOMEM] = "nomem",
        [HIVE_EXIT_NOCONNECTION] = "noconnection"};
    unsigned k = (unsigned)r->kind;
    size_t tl = strnlen(r->text, sizeof r->text);
    if (k == HIVE_EXIT_PANIC)
        return ei_x_encode_tuple_header(x, 2) || ei_x_encode_atom(x, "panic") ||
               ei_x_encode_binary(x, r->text, (long)tl);
    if (k == HIVE_EXIT_USER)
        return ei_x_encode_tuple_header(x, 3) || ei_x_encode_atom(x, "user") ||
               ei_x_encode_long(x, r->code) || ei_x_encode_binary(x, r->text, (long)tl);
    if (k < sizeof atoms / sizeof atoms[0] && atoms[k])
        return ei_x_encode_atom(x, atoms[k]);
    return ei_x_encode_atom(x, "unknown");
}

/* Send a signal about local process `local` to `remote`:
 *   OP_EXIT {3, Local, Remote, Reason}           OP_LINK {1, Local, Remote}
 *   OP_UNLINK {4, Local, Remote}                 OP_UNLINK_ID_ACK {36, Id, Local, Remote}
 *   OP_MONITOR_P {19, Local, Remote, Ref}        OP_DEMONITOR_P {20, Local, Remote, Ref}
 *   OP_MONITOR_P_EXIT {21, Local, Remote, Ref, Reason}
 * ref: an encoded reference (no version byte). */
static int signal_to(const hive_rpid_t *remote, int op, hive_pid_t local,
                     const hive_reason_t *reason, const char *ref, size_t ref_len, long long id,
                     bool connect)
{
    hive_rpid_t lp;
    erlang_pid le, re;
    if (hive_node_pid(local, &lp))
        return -EINVAL;
    to_erlang_pid(&lp, &le);
    to_erlang_pid(remote, &re);
    ei_x_buff c;
    if (ei_x_new_with_version(&c) < 0)
        return -ENOMEM;
    int arity = op == OP_EXIT || op == OP_MONITOR_P || op == OP_DEMONITOR_P ||
                        op == OP_UNLINK_ID_ACK
                    ? 4
                : op == OP_MONITOR_P_EXIT ? 5
                                          : 3;
    int bad = ei_x_encode_tuple_header(&c, arity) || ei_x_encode_long(&c, op) ||
              (op == OP_UNLINK_ID_ACK && ei_x_encode_longlong(&c, id)) ||
              ei_x_encode_pid(&c, &le) || ei_x_encode_pid(&c, &re);
    if (!bad && (op == OP_MONITOR_P || op == OP_DEMONITOR_P || op == OP_MONITOR_P_EXIT))
        bad = !ref || ei_x_append_buf(&c, ref, (int)ref_len) < 0;
    if (!bad && (op == OP_EXIT || op == OP_MONITOR_P_EXIT))
        bad = encode_reason(&c, reason) != 0;
    int rc = bad ? -EINVAL : send_ctrl(remote->node, &c, NULL, connect);
    ei_x_free(&c);
    return rc;
}

static int send_signal(const hive_rpid_t *remote, int op, hive_pid_t local,
                       const hive_reason_t *reason, const char *ref, size_t ref_len,
                       long long id)
{
    return signal_to(remote, op, local, reason, ref, ref_len, id, true);
}

/* MONITOR_P from local to remote with a new reference, kept in ref (REF_MAX
 * bytes, encoded without version byte) for DEMONITOR_P. 0 or an error. */
static int monitor_p(const hive_rpid_t *remote, hive_pid_t local, char *ref, uint32_t *ref_len)
{
    erlang_ref er;
    ei_x_buff x;
    if (ei_make_ref(&N.ec, &er) < 0 || ei_x_new(&x) < 0)
        return -ENOMEM;
    int rc = ei_x_encode_ref(&x, &er) < 0 || x.index > REF_MAX ? -EINVAL : 0;
    if (!rc) {
        memcpy(ref, x.buff, (size_t)x.index);
        *ref_len = (uint32_t)x.index;
        rc = send_signal(remote, OP_MONITOR_P, local, NULL, ref, *ref_len, 0);
    }
    ei_x_free(&x);
    return rc;
}

/* A proxy's command: {local, reason, ref}. */
typedef struct proxy_msg {
    hive_pid_t local;
    hive_pid_t ack_to; /* P_LINK, P_MONITOR: whom to answer P_ACK when done */
    hive_reason_t why;
    uint32_t ref_len;
    char ref[REF_MAX];
} proxy_msg_t;

static void proxy_cmd(hive_pid_t proxy, int cmd, hive_pid_t local, const hive_reason_t *why,
                      const char *ref, size_t ref_len)
{
    proxy_msg_t m;
    memset(&m, 0, sizeof m);
    m.local = local;
    if (why)
        m.why = *why;
    if (ref && ref_len <= REF_MAX) {
        memcpy(m.ref, ref, ref_len);
        m.ref_len = (uint32_t)ref_len;
    }
    /* Erlang orders signals and messages between a pair of processes; the
     * proxy adds a hop, so the reader waits until a link or monitor is in
     * place before it delivers the next frame (a message right after
     * link/1 must not overtake it). */
    bool sync = (cmd == P_LINK || cmd == P_MONITOR) && hive_self() != HIVE_PID_NONE;
    m.ack_to = sync ? hive_self() : HIVE_PID_NONE;
    if (hive_send(proxy, (uint64_t)cmd, &m, sizeof m) == 0 && sync) {
        hive_msg_t *ack;
        if (hive_receive_tag(P_ACK, (int64_t)N.tmo, &ack) == 0)
            hive_msg_free(ack);
    }
}

/* A proxy's own state; its exit handler frees it. `mon`: its monitor of
 * the remote pid (MON_NONE: not sent yet; MON_ON: in place, withdrawn with
 * DEMONITOR_P if the proxy ends for another reason than the remote's end or
 * the lost connection; MON_OFF: fired or moot). Only the proxy and then its
 * exit handler touch it, one after the other. */
enum { MON_NONE, MON_ON, MON_OFF };
typedef struct proxy_state {
    hive_rpid_t rp;
    hive_pid_t self;
    int mon;
    uint32_t ref_len;
    char ref[REF_MAX];
} proxy_state_t;

static void proxy_gone(void *arg, const hive_reason_t *reason)
{
    proxy_state_t *st = arg;
    pthread_mutex_lock(&N.lock);
    proxy_ent_t *e = px_find_pid(st->self);
    if (e && !e->dead) {
        px_kill(e); /* the slot is free; the entry stays a while for proxy_rpid */
        /* Its remote ended: its monitors have fired, nothing to withdraw. */
        for (int k = 0; k < MAX_RMONS; k++)
            if (N.rmons[k].ref && same_rpid(&N.rmons[k].remote, &st->rp))
                N.rmons[k].ref = 0;
    }
    pthread_mutex_unlock(&N.lock);
    /* Killed, or the runtime stops, while the remote lives: its node drops
     * our monitor (only over a connection that is up: no waiting here). */
    if (st->mon == MON_ON)
        signal_to(&st->rp, OP_DEMONITOR_P, st->self, NULL, st->ref, st->ref_len, 0, false);
    free(st);
}

/* A monitor the proxy holds on a local process for its remote pid. */
typedef struct proxy_mon {
    hive_ref_t ref;
    hive_pid_t local;
    uint32_t ref_len;
    char erl_ref[REF_MAX];
} proxy_mon_t;

static void proxy_main(void *arg)
{
    proxy_state_t *st = arg;
    st->self = hive_self();
    if (hive_on_exit(proxy_gone, st)) {
        free(st);
        return; /* proxy_for sees it dead and makes another */
    }
    const hive_rpid_t rp = st->rp;
    hive_trap_exits(true);
    proxy_mon_t *mons = NULL;
    size_t nmons = 0;
    for (;;) {
        hive_msg_t *m;
        if (hive_receive(HIVE_INFINITY, &m))
            continue;
        uint64_t tag = hive_msg_tag(m);
        proxy_msg_t pm;
        if (tag < HIVE_TAG_RESERVED && hive_msg_size(m) == sizeof pm)
            memcpy(&pm, hive_msg_data(m), sizeof pm);
        else
            memset(&pm, 0, sizeof pm);
        hive_exit_info_t ei;
        hive_down_info_t di;
        if (tag == HIVE_TAG_EXIT && hive_exit_info(m, &ei) == 0) {
            /* A linked local process ended: the remote pid hears of it. */
            send_signal(&rp, OP_EXIT, ei.from, &ei.reason, NULL, 0, 0);
        } else if (tag == HIVE_TAG_DOWN && hive_down_info(m, &di) == 0) {
            for (size_t i = 0; i < nmons; i++) {
                if (mons[i].ref == di.ref) {
                    send_signal(&rp, OP_MONITOR_P_EXIT, di.pid, &di.reason, mons[i].erl_ref,
                                mons[i].ref_len, 0);
                    mons[i] = mons[--nmons];
                    break;
                }
            }
        } else if (tag == P_START && st->mon == MON_NONE) {
            /* Published: watch the remote pid, so that this proxy ends when
             * it does (MONITOR_P_EXIT -> P_DIE) whoever uses the proxy. A
             * node that cannot be reached: noconnection, as Erlang. */
            if (monitor_p(&rp, st->self, st->ref, &st->ref_len) == 0) {
                st->mon = MON_ON;
            } else {
                hive_msg_free(m);
                free(mons);
                st->mon = MON_OFF;
                hive_reason_t nc = {.kind = HIVE_EXIT_NOCONNECTION};
                hive_exit(nc);
            }
        } else if (tag == P_LINK) {
            hive_link(pm.local);
            if (pm.ack_to != HIVE_PID_NONE)
                hive_send(pm.ack_to, P_ACK, NULL, 0);
        } else if (tag == P_UNLINK) {
            hive_unlink(pm.local);
        } else if (tag == P_MONITOR) {
            proxy_mon_t *nm = realloc(mons, (nmons + 1) * sizeof *mons);
            if (nm) {
                mons = nm;
                proxy_mon_t *x = &mons[nmons];
                if (hive_monitor(pm.local, &x->ref) == 0) {
                    x->local = pm.local;
                    x->ref_len = pm.ref_len;
                    memcpy(x->erl_ref, pm.ref, pm.ref_len);
                    nmons++;
                }
            }
            if (pm.ack_to != HIVE_PID_NONE)
                hive_send(pm.ack_to, P_ACK, NULL, 0);
        } else if (tag == P_DEMONITOR) {
            for (size_t i = 0; i < nmons; i++) {
                if (mons[i].ref_len == pm.ref_len && !memcmp(mons[i].erl_ref, pm.ref, pm.ref_len)) {
                    hive_demonitor(mons[i].ref, HIVE_DEMONITOR_FLUSH);
                    mons[i] = mons[--nmons];
                    break;
                }
            }
        } else if (tag == P_DIE) {
            /* The remote ended (its node dropped our monitor with it) or
             * its connection is gone: nothing to withdraw. */
            hive_msg_free(m);
            free(mons);
            st->mon = MON_OFF;
            hive_exit(pm.why); /* links and monitors of the proxy fire */
        }
        hive_msg_free(m);
    }
}

/* The proxy of rp, started when `create` and there is none: 0, or -ENOMEM,
 * -EAGAIN (no process can be spawned), -ESRCH (none and !create). */
static int proxy_get(const hive_rpid_t *rp, bool create, hive_pid_t *out)
{
    *out = HIVE_PID_NONE;
    for (int attempt = 0; attempt < 3; attempt++) {
        hive_pid_t found = HIVE_PID_NONE;
        pthread_mutex_lock(&N.lock);
        proxy_ent_t *e = px_find_rpid(rp);
        if (e)
            found = e->pid;
        pthread_mutex_unlock(&N.lock);
        if (found != HIVE_PID_NONE && hive_is_alive(found)) {
            *out = found;
            return 0;
        }
        if (!create)
            return -ESRCH;
        /* Spawn outside the lock (a spawn may yield), then publish unless
         * another process published one meanwhile. The new proxy does
         * nothing remote until P_START, sent once it is published, so a
         * loser is killed without a trace. */
        proxy_state_t *st = calloc(1, sizeof *st);
        hive_pid_t p;
        if (!st)
            return -ENOMEM;
        st->rp = *rp;
        int rc = hive_spawn(proxy_main, st, &p);
        if (rc) {
            free(st);
            return rc;
        }
        pthread_mutex_lock(&N.lock);
        e = px_find_rpid(rp);
        found = e ? e->pid : HIVE_PID_NONE;
        if (e && !hive_is_alive(found)) {
            px_kill(e); /* ended without its exit handler (killed before it ran) */
            found = HIVE_PID_NONE;
        }
        if (found == HIVE_PID_NONE)
            rc = px_insert(rp, p);
        pthread_mutex_unlock(&N.lock);
        if (found != HIVE_PID_NONE || rc) {
            hive_kill(p); /* unused: nothing links to it yet */
            if (rc)
                return rc;
            continue;
        }
        hive_send(p, P_START, NULL, 0);
        *out = p;
        return 0;
    }
    return -EAGAIN;
}

static hive_pid_t proxy_for(const hive_rpid_t *rp, bool create)
{
    hive_pid_t p;
    return proxy_get(rp, create, &p) ? HIVE_PID_NONE : p;
}

int hive_node_proxy(const hive_rpid_t *remote, hive_pid_t *proxy)
{
    if (!remote || !proxy || !memchr(remote->node, 0, sizeof remote->node))
        return -EINVAL;
    if (!started())
        return -EPERM;
    if (local_pid(remote) != HIVE_PID_NONE) {
        *proxy = local_pid(remote);
        return 0;
    }
    return proxy_get(remote, true, proxy);
}

int hive_node_proxy_rpid(hive_pid_t proxy, hive_rpid_t *out)
{
    if (!out)
        return -EINVAL;
    int rc = -ESRCH;
    pthread_mutex_lock(&N.lock);
    proxy_ent_t *e = px_find_pid(proxy);
    if (e) {
        *out = e->rpid;
        rc = 0;
    }
    pthread_mutex_unlock(&N.lock);
    return rc;
}

size_t hive_node_proxy_count(void)
{
    pthread_mutex_lock(&N.lock);
    size_t n = N.px.live;
    pthread_mutex_unlock(&N.lock);
    return n;
}

/* Link or monitor setup shared by hive_node_link / hive_node_monitor. */
static int remote_watch(const hive_rpid_t *remote, bool link, hive_ref_t *ref)
{
    hive_pid_t self = hive_self(), proxy;
    if (self == HIVE_PID_NONE)
        return -EPERM;
    int rc = hive_node_proxy(remote, &proxy);
    if (rc)
        return rc;
    if (local_pid(remote) != HIVE_PID_NONE) /* one of ours: a plain link */
        return link ? hive_link(proxy) : hive_monitor(proxy, ref);
    rc = link ? hive_link(proxy) : hive_monitor(proxy, ref);
    if (rc)
        return rc;
    if (link) {
        rc = send_signal(remote, OP_LINK, self, NULL, NULL, 0, 0);
    } else {
        char erl_ref[REF_MAX];
        uint32_t ref_len = 0;
        rc = monitor_p(remote, self, erl_ref, &ref_len);
        if (!rc) {
            /* Kept for hive_node_demonitor (a full table only means that
             * monitor cannot be withdrawn from the remote side). */
            pthread_mutex_lock(&N.lock);
            for (int i = 0; i < MAX_RMONS; i++) {
                if (N.rmons[i].ref == 0) {
                    N.rmons[i].ref = *ref;
                    N.rmons[i].owner = self;
                    N.rmons[i].remote = *remote;
                    N.rmons[i].ref_len = ref_len;
                    memcpy(N.rmons[i].erl_ref, erl_ref, ref_len);
                    break;
                }
            }
            pthread_mutex_unlock(&N.lock);
        }
    }
    if (rc) { /* the node cannot be reached: as Erlang, noconnection */
        hive_reason_t nc = {.kind = HIVE_EXIT_NOCONNECTION};
        proxy_cmd(proxy, P_DIE, HIVE_PID_NONE, &nc, NULL, 0);
    }
    return 0;
}

int hive_node_link(const hive_rpid_t *remote) { return remote_watch(remote, true, NULL); }

int hive_node_unlink(const hive_rpid_t *remote)
{
    hive_pid_t self = hive_self();
    if (!remote || !memchr(remote->node, 0, sizeof remote->node))
        return -EINVAL; /* hashed and compared as a string below */
    if (self == HIVE_PID_NONE || !started())
        return -EPERM;
    hive_pid_t proxy = local_pid(remote);
    if (proxy != HIVE_PID_NONE)
        return hive_unlink(proxy);
    proxy = proxy_for(remote, false);
    if (proxy == HIVE_PID_NONE)
        return 0;
    hive_unlink(proxy);
    send_signal(remote, OP_UNLINK, self, NULL, NULL, 0, 0);
    return 0;
}

int hive_node_demonitor(hive_ref_t ref)
{
    hive_pid_t self = hive_self();
    if (self == HIVE_PID_NONE)
        return -EPERM;
    struct rmon m = {0};
    pthread_mutex_lock(&N.lock);
    for (int i = 0; i < MAX_RMONS; i++) {
        if (ref && N.rmons[i].ref == ref && N.rmons[i].owner == self) {
            m = N.rmons[i];
            N.rmons[i].ref = 0;
            break;
        }
    }
    pthread_mutex_unlock(&N.lock);
    int rc = hive_demonitor(ref, HIVE_DEMONITOR_FLUSH);
    if (m.ref)
        send_signal(&m.remote, OP_DEMONITOR_P, self, NULL, m.erl_ref, m.ref_len, 0);
    return rc;
}

int hive_node_monitor(const hive_rpid_t *remote, hive_ref_t *ref)
{
    if (!ref)
        return -EINVAL;
    return remote_watch(remote, false, ref);
}

/* ---- calling a gen_server ------------------------------------------------------ */

typedef struct call_match {
    const char *ref; /* the call's encoded reference (no version byte) */
    size_t ref_len;
} call_match_t;

/* {Ref, Reply} with our Ref. Pure: runs inside the receive. */
static bool is_reply(const hive_msg_t *m, void *arg)
{
    const call_match_t *c = arg;
    hive_dist_msg_t d;
    hive_term_reader_t r;
    size_t arity;
    if (hive_dist_msg(m, &d) || hive_term_reader_init(&r, d.term, d.len) ||
        hive_term_get_tuple(&r, &arity) || arity != 2)
        return false;
    return r.len - r.index >= c->ref_len && !memcmp(r.data + r.index, c->ref, c->ref_len);
}

int hive_node_call(const char *name, const char *node, const hive_term_buf_t *request,
                   int64_t timeout_ms, hive_msg_t **reply, hive_term_reader_t *result)
{
    if (!hive__timeout_ok(timeout_ms))
        return -EINVAL;
    hive_term_reader_t check;
    hive_rpid_t self;
    if (!reply || !result || !request ||
        hive_term_reader_init(&check, request->data, request->len))
        return -EINVAL;
    if (!started() || hive_self() == HIVE_PID_NONE)
        return -EPERM;
    hive_node_pid(hive_self(), &self);
    erlang_pid me;
    to_erlang_pid(&self, &me);
    erlang_ref er;
    ei_x_buff ref, msg;
    if (ei_make_ref(&N.ec, &er) < 0 || ei_x_new(&ref) < 0)
        return -ENOMEM;
    if (ei_x_new_with_version(&msg) < 0) {
        ei_x_free(&ref);
        return -ENOMEM;
    }
    int rc = -EINVAL;
    /* {'$gen_call', {Self, Ref}, Request}: gen_server answers Self ! {Ref, Reply}. */
    if (ei_x_encode_ref(&ref, &er) == 0 && ei_x_encode_tuple_header(&msg, 3) == 0 &&
        ei_x_encode_atom(&msg, "$gen_call") == 0 && ei_x_encode_tuple_header(&msg, 2) == 0 &&
        ei_x_encode_pid(&msg, &me) == 0 && ei_x_append(&msg, &ref) == 0 &&
        ei_x_append_buf(&msg, request->data + 1, (int)request->len - 1) == 0) {
        hive_term_buf_t b = {.data = msg.buff, .len = (size_t)msg.index,
                             .cap = (size_t)msg.buffsz};
        rc = hive_node_send_named(name, node, &b);
    }
    ei_x_free(&msg);
    if (rc) {
        ei_x_free(&ref);
        return rc;
    }
    call_match_t c = {ref.buff, (size_t)ref.index};
    hive_msg_t *m;
    rc = hive_receive_match(is_reply, &c, timeout_ms, &m);
    ei_x_free(&ref);
    if (rc)
        return rc;
    hive_dist_msg_t d;
    size_t arity;
    if (hive_dist_msg(m, &d) || hive_term_reader_init(result, d.term, d.len) ||
        hive_term_get_tuple(result, &arity) || hive_term_skip(result)) {
        hive_msg_free(m);
        return -EINVAL;
    }
    *reply = m;
    return 0;
}

/* ---- accepting --------------------------------------------------------------- */

/* The listener and timeout travel in the job: the pool thread must not
 * read N.lfd, which hive_node_stop() clears while a handshake may still be
 * running there (its acceptor killed, the job carrying on: TSan saw the
 * race). The job's fields are written before hive_blocking() queues it. */
typedef struct accept_job {
    ErlConnect con;
    int lfd;
    unsigned tmo;
    int fd;
} accept_job_t;

static long accept_blocking(void *arg)
{
    accept_job_t *j = arg;
    j->fd = ei_accept_tmo(&N.ec, j->lfd, &j->con, j->tmo);
    return 0;
}

static void acceptor_main(void *arg)
{
    for (;;) {
        if (hive_io_wait(N.lfd, HIVE_IO_READ, HIVE_INFINITY) < 0)
            return;
        accept_job_t j;
        memset(&j, 0, sizeof j);
        j.lfd = N.lfd;
        j.tmo = N.tmo;
        j.fd = -1;
        if (hive_blocking(accept_blocking, &j, NULL) || j.fd < 0)
            continue; /* a failed handshake (garbage, wrong cookie): next */
        pthread_mutex_lock(&N.lock);
        int idx = conn_claim(j.con.nodename);
        pthread_mutex_unlock(&N.lock);
        if (idx < 0) {
            ei_close_connection(j.fd);
            continue;
        }
        conn_start(idx, j.fd);
    }
}

/* ---- start and stop ---------------------------------------------------------- */

typedef struct publish_job {
    int fd;
} publish_job_t;

static long publish_blocking(void *arg)
{
    publish_job_t *j = arg;
    j->fd = ei_publish_tmo(&N.ec, N.port, N.tmo);
    return 0;
}

/* hive_runtime_stop stops the node first: its sockets, its epmd entry and
 * `started` must not outlive the run whose processes served them. */
static void stop_with_runtime(void) { hive_node_stop(); }

const char *hive_node_name(void) { return started() ? N.name : ""; }
int hive_node_port(void) { return started() ? N.port : 0; }

int hive_node_start(const hive_node_config_t *cfg, hive_diag_t *diag)
{
    if (diag) {
        diag->code = 0;
        diag->message[0] = 0;
    }
    hive_node_config_t def;
    if (!cfg) {
        hive_node_config_init(&def);
        cfg = &def;
    }
    if (hive_runtime_workers() == 0)
        return fail(diag, -EPERM, "the runtime is not running%.200s", NULL);
    if (cfg->port < 0 || cfg->port > 65535) {
        char port[32];
        snprintf(port, sizeof port, "%d", cfg->port);
        return fail(diag, -EINVAL, "port %.200s out of range (0..65535; 0: any)", port);
    }
    if (started())
        return fail(diag, -EALREADY, "the node is already started%.200s", NULL);
    if (!cfg->name || !*cfg->name || strlen(cfg->name) > HIVE_NODE_NAME_MAX)
        return fail(diag, -EINVAL, "bad node name '%.200s'", cfg->name);
    char alive[MAXATOMLEN], host[MAXATOMLEN], cookie[512];
    const char *at = strchr(cfg->name, '@');
    if (at) {
        snprintf(alive, sizeof alive, "%.*s", (int)(at - cfg->name), cfg->name);
        snprintf(host, sizeof host, "%s", at + 1);
    } else {
        snprintf(alive, sizeof alive, "%s", cfg->name);
        if (gethostname(host, sizeof host))
            return fail(diag, -EINVAL, "gethostname failed%.200s", NULL);
        host[sizeof host - 1] = 0;
        char *dot = strchr(host, '.');
        if (dot)
            *dot = 0;
    }
    if (!*alive || !*host)
        return fail(diag, -EINVAL, "bad node name '%.200s' (want alive@host)", cfg->name);
    if (cfg->cookie) {
        if (!*cfg->cookie || strlen(cfg->cookie) >= sizeof cookie)
            return fail(diag, -EINVAL, "bad cookie%.200s", NULL);
        snprintf(cookie, sizeof cookie, "%s", cfg->cookie);
    } else if (read_cookie(cfg->cookie_file, cookie, sizeof cookie)) {
        return fail(diag, -EINVAL, "no cookie: cannot read %.200s",
                    cfg->cookie_file ? cfg->cookie_file : "$HOME/.erlang.cookie");
    }
    if (ei_init() != 0)
        return fail(diag, -ENOMEM, "ei_init failed%.200s", NULL);
    char full[2 * MAXATOMLEN + 1];
    snprintf(full, sizeof full, "%s@%s", alive, host);
    if (strlen(full) > HIVE_NODE_NAME_MAX)
        return fail(diag, -EINVAL, "node name too long: %.200s", full);
    /* creation: epmd gives the real one on publish; until then a value
     * that differs between runs. */
    unsigned creation = (unsigned)time(NULL) | 1u;
    hs_cbs = ei_default_socket_callbacks;
    hs_cbs.write = hs_write;
    if (ei_connect_xinit_ussi(&N.ec, host, alive, full, NULL, cookie, creation, &hs_cbs,
                              sizeof hs_cbs, NULL) < 0)
        return fail(diag, -EINVAL, "ei_connect_xinit refused node name %.200s", full);
    snprintf(N.name, sizeof N.name, "%s", full);
    N.tmo = cfg->timeout_ms > 0 ? (unsigned)cfg->timeout_ms : 5000;
    N.port = cfg->port;
    N.lfd = ei_listen(&N.ec, &N.port, 16);
    if (N.lfd < 0)
        return fail(diag, -EADDRINUSE, "cannot listen (port %.200s)", NULL);
    if (cfg->publish) {
        publish_job_t j = {-1};
        hive_blocking(publish_blocking, &j, NULL);
        if (j.fd < 0) {
            ei_close_connection(N.lfd);
            N.lfd = -1;
            return fail(diag, -ECONNREFUSED, "epmd refused %.200s (is epmd running?)", full);
        }
        N.epmd_fd = j.fd;
    }
    hive__runtime_set_stop_hook(stop_with_runtime);
    /* release: pairs with the acquire in started(); N.ec, N.name, N.lfd
     * and the rest above are published with it. */
    atomic_store_explicit(&N.started, true, memory_order_release);
    int rc = hive_spawn(acceptor_main, NULL, &N.acceptor);
    if (rc) {
        hive_node_stop();
        return fail(diag, rc, "cannot spawn the acceptor%.200s", NULL);
    }
    return 0;
}

/* Wait (up to ~5 s, in 1 ms sleeps) until none of pids[0..n) is alive
 * (HIVE_PID_NONE: nobody); a process is dead for hive_is_alive only once
 * its exit handlers have run. */
static void await_ended(const hive_pid_t *pids, int n)
{
    for (int spins = 0; spins < 5000; spins++) {
        bool alive = false;
        for (int i = 0; i < n && !alive; i++)
            alive = pids[i] != HIVE_PID_NONE && hive_is_alive(pids[i]);
        if (!alive)
            return;
        hive_sleep(1);
    }
}

int hive_node_stop(void)
{
    if (!started())
        return -EALREADY;
    pthread_mutex_lock(&N.lock);
    /* relaxed: stopping publishes nothing; a sender that still sees true
     * finds the connections closing and fails with -ECONNREFUSED. Under
     * N.lock, so writer_for's check cannot interleave with the scan. */
    atomic_store_explicit(&N.started, false, memory_order_relaxed);
    hive_pid_t readers[MAX_CONNS + 1], writers[MAX_CONNS]; /* + the acceptor */
    int n = 0;
    for (int i = 0; i < MAX_CONNS; i++)
        if (N.conns[i].state == C_UP) {
            writers[n] = N.conns[i].writer;
            readers[n++] = N.conns[i].reader;
        }
    pthread_mutex_unlock(&N.lock);
    if (N.acceptor != HIVE_PID_NONE)
        hive_kill(N.acceptor);
    for (int i = 0; i < n; i++)
        hive_kill(readers[i]);
    /* Readers release their slots in their exit handlers; wait for them
     * (and the acceptor) before the listener goes. */
    readers[n] = N.acceptor;
    await_ended(readers, n + 1);
    N.acceptor = HIVE_PID_NONE;
    /* A reader killed before it ran never registered its exit handler. */
    for (int i = 0; i < MAX_CONNS; i++)
        if (N.conns[i].state == C_UP)
            conn_release(i);
    /* The writers, killed by the releases, close their sockets as they
     * end: wait for that too, so that every connection is closed when this
     * returns. */
    await_ended(writers, n);
    if (N.lfd >= 0)
        close(N.lfd);
    if (N.epmd_fd >= 0)
        close(N.epmd_fd); /* epmd forgets the name when this closes */
    N.lfd = N.epmd_fd = -1;
    return 0;
}
