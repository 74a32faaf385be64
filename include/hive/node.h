/* hive/node.h - hive as a node of an Erlang/OTP cluster (issue 12).
 *
 * hive_node_start makes this runtime a C node ("hive@host") through
 * erl_interface's ei: it listens, registers with epmd if asked, accepts
 * connections from Erlang nodes and connects to them on demand. Processes
 * of other nodes then reach a hive process registered under a name as
 * {Name, 'hive@host'}, and a hive process sends to an Erlang pid or to
 * {Name, Node}. Messages are Erlang terms (hive/term.h).
 *
 * An Erlang message arrives as a hive message with tag HIVE_TAG_DIST; its
 * payload is read with hive_dist_msg(): the sender's pid (when the
 * distribution protocol names it: REG_SEND does, SEND does not) and the
 * term's bytes. A hive process's own Erlang pid is hive_node_pid(): an
 * Erlang process that received it can send to it ({SEND} reaches the hive
 * process directly).
 *
 * Exit signals from Erlang: EXIT2 (erlang:exit(HivePid, Reason)) reaches
 * the hive process as hive_send_exit: `kill` as hive_kill, `normal` as
 * normal, any other reason as HIVE_EXIT_USER with the term's text.
 *
 * Each connection is two hive processes (a reader and a writer) that wait
 * on the socket with hive_io_wait; ei's blocking calls (handshakes, epmd)
 * run on the blocking pool. A peer that sends garbage loses its connection,
 * nothing else.
 */
#ifndef HIVE_NODE_H
#define HIVE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hive/error.h>
#include <hive/link.h>
#include <hive/message.h>
#include <hive/process.h>
#include <hive/term.h>
#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Messages from Erlang nodes; payload: see hive_dist_msg. */
#define HIVE_TAG_DIST (HIVE_TAG_RESERVED + 0x10)

typedef struct hive_node_config {
    const char *name;        /* "hive" (host added: the short host name) or "hive@host" */
    const char *cookie;      /* NULL: read cookie_file */
    const char *cookie_file; /* NULL: $HOME/.erlang.cookie */
    bool publish;            /* register the name and port with epmd (default true) */
    int port;                /* listen port; 0 (default): any */
    int64_t timeout_ms;      /* handshake and epmd timeout (default 5000) */
} hive_node_config_t;

/* hive_node_config_init - the defaults above. */
HIVE_API void hive_node_config_init(hive_node_config_t *cfg);

/* hive_node_start - become an Erlang node (one per runtime). The runtime
 * must be running. A process, attached or foreign thread (ei's blocking
 * calls then run inline). 0, -EINVAL (bad name, no cookie; *diag says
 * why), -EALREADY (started), -ECONNREFUSED (epmd refused or is not
 * running), -EPERM (runtime not running), -ENOMEM. */
HIVE_API int hive_node_start(const hive_node_config_t *cfg, hive_diag_t *diag);
/* hive_node_stop - close every connection and the listener, unregister from
 * epmd. 0 or -EALREADY. Any thread that is not a worker. hive_runtime_stop
 * does it too (first), so a node started in the next run starts afresh. */
HIVE_API int hive_node_stop(void);
/* The node's full name ("hive@host"), "" when not started; its port. */
HIVE_API const char *hive_node_name(void);
HIVE_API int hive_node_port(void);

/* hive_node_pid - the Erlang pid that names hive process `pid` on this
 * node. 0, -EPERM (node not started), -EINVAL. Any thread. */
HIVE_API int hive_node_pid(hive_pid_t pid, hive_rpid_t *out);

/* hive_node_send - send the term in msg to an Erlang pid; connects to its
 * node first if needed. hive_node_send_named - to the process registered
 * as `name` on `node` ({Name, Node} ! Msg). A process (the connect waits
 * on the blocking pool). 0 (delivery is not confirmed, as in Erlang),
 * -EINVAL (bad term or name), -ECONNREFUSED (the node cannot be reached),
 * -EPERM (node not started, or not a process), -ENOMEM. */
HIVE_API int hive_node_send(const hive_rpid_t *to, const hive_term_buf_t *msg);
HIVE_API int hive_node_send_named(const char *name, const char *node,
                                  const hive_term_buf_t *msg);

/* ---- remote pids: links, monitors, exit signals ------------------------
 *
 * A remote pid has a local stand-in, its proxy: a hive process that ends
 * when the remote process ends (with its reason) or when the connection to
 * its node is lost (reason HIVE_EXIT_NOCONNECTION, Erlang's noconnection).
 * Each proxy monitors its remote pid (MONITOR_P from the proxy's own pid,
 * so an Erlang process sees it in monitored_by), which is how it learns of
 * that end even when nothing links to or monitors it: a hive node that
 * hears from many short-lived Erlang processes holds proxies only for
 * those alive (hive_node_proxy_count).
 * An EXIT or DOWN message about a remote pid names its proxy; map it back
 * with hive_node_proxy_rpid. Erlang's side works unchanged: link/1,
 * monitor/2, exit/2 on a hive pid do what they do on any node's pid (LINK,
 * UNLINK, EXIT, EXIT2, MONITOR_P, DEMONITOR_P, MONITOR_P_EXIT), and a hive
 * process's reason reaches Erlang as normal, killed, shutdown, noproc,
 * noconnection, stack_overflow, nomem, {panic, <<Text>>} or
 * {user, Code, <<Text>>}; an Erlang reason reaches hive as normal, killed
 * ('kill' from exit/2 is hive_kill), shutdown, noproc, noconnection, or
 * HIVE_EXIT_USER with the term's text. */

/* hive_node_proxy - the proxy of remote (started on first use; a pid of
 * this node gives the hive process itself). A process or any thread.
 * 0, -EINVAL, -EPERM (node not started), -ENOMEM, -EAGAIN (the
 * max_processes limit: every proxy is a process). */
HIVE_API int hive_node_proxy(const hive_rpid_t *remote, hive_pid_t *proxy);
/* hive_node_proxy_rpid - the remote pid a proxy stands for, also after the
 * proxy ended (until 4096 later proxies have ended too). 0, -ESRCH (not a
 * proxy), -EINVAL. Any thread. */
HIVE_API int hive_node_proxy_rpid(hive_pid_t proxy, hive_rpid_t *out);
/* hive_node_proxy_count - how many proxies are live (started and not yet
 * ended): one per remote pid in use whose process has not ended. Any
 * thread. */
HIVE_API size_t hive_node_proxy_count(void);
/* hive_node_link / hive_node_unlink - link the caller with a remote pid
 * (as hive_link: an unreachable node gives the caller an exit signal
 * noconnection, a dead pid noproc). A process. 0, -EINVAL (NULL, or a
 * node name with no NUL in its array), -EPERM (not a process, or the node
 * not started). */
HIVE_API int hive_node_link(const hive_rpid_t *remote);
HIVE_API int hive_node_unlink(const hive_rpid_t *remote);
/* hive_node_monitor - one DOWN (pid = the proxy) when the remote pid ends
 * or its node is lost. A process. 0, -EINVAL, -EPERM, -ENOMEM. */
HIVE_API int hive_node_monitor(const hive_rpid_t *remote, hive_ref_t *ref);
/* hive_node_demonitor - hive_demonitor(ref, HIVE_DEMONITOR_FLUSH), and the
 * remote node drops its side (DEMONITOR_P). The process that monitored.
 * 0 or -EPERM. (Plain hive_demonitor also works, locally only.) */
HIVE_API int hive_node_demonitor(hive_ref_t ref);

/* hive_node_call - gen_server:call({name, node}, Request): sends
 * {'$gen_call', {Self, Ref}, Request} and waits for {Ref, Reply}. On 0,
 * *reply is the reply message (the caller frees it with hive_msg_free) and
 * *result reads Reply within it. A process. 0, -ETIMEDOUT (no answer: the
 * server is down, busy or unknown; a late answer stays in the mailbox),
 * -EINVAL (bad request term, or a reply that is not {Ref, Reply}), -EPERM,
 * -ECONNREFUSED, -ENOMEM. */
HIVE_API int hive_node_call(const char *name, const char *node, const hive_term_buf_t *request,
                            int64_t timeout_ms, hive_msg_t **reply, hive_term_reader_t *result);

typedef struct hive_dist_msg {
    bool has_from;     /* the protocol named the sender */
    hive_rpid_t from;
    const void *term;  /* the term, version byte first: hive_term_reader_init */
    size_t len;
} hive_dist_msg_t;

/* hive_dist_msg - decode a HIVE_TAG_DIST message (pointers into m: valid
 * until it is freed). 0, or -EINVAL if m is not one. Any thread. */
HIVE_API int hive_dist_msg(const hive_msg_t *m, hive_dist_msg_t *out);

#ifdef __cplusplus
}
#endif
#endif
