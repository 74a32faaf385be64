/* message.c - building, reading and freeing message nodes (see message.h). */
#include "mailbox/message.h"

#include <string.h>

#include "mailbox/alloc.h"

_Static_assert(sizeof(hive_msg_t) == 56, "a message with 8 bytes of payload fills one 64-byte line");

static size_t node_size(const hive_msg_t *m)
{
    return sizeof *m + (m->kind == HIVE__MSG_PTR ? sizeof(hive__msg_ptr_t) : m->len);
}

static hive__msg_ptr_t *ptr_of(hive_msg_t *m) { return (hive__msg_ptr_t *)(void *)m->data; }

hive_msg_t *hive__msg_new_ptr(uint64_t tag, hive_pid_t from, void *ptr, void (*dtor)(void *))
{
    hive_msg_t *m = hive__alloc(sizeof *m + sizeof(hive__msg_ptr_t));
    if (!m)
        return NULL;
    hive__msg_init(m, tag, from, HIVE__MSG_PTR, 0);
    ptr_of(m)->ptr = ptr;
    ptr_of(m)->dtor = dtor;
    return m;
}

void hive__msg_discard(hive_msg_t *m)
{
    hive__free(m, node_size(m));
}

HIVE_API uint64_t hive_msg_tag(const hive_msg_t *m) { return m ? m->tag : 0; }

HIVE_API hive_pid_t hive_msg_from(const hive_msg_t *m) { return m ? m->from : HIVE_PID_NONE; }

HIVE_API const void *hive_msg_data(const hive_msg_t *m)
{
    return m && m->kind == HIVE__MSG_BYTES && m->len ? m->data : NULL;
}

HIVE_API size_t hive_msg_size(const hive_msg_t *m)
{
    return m && m->kind == HIVE__MSG_BYTES ? m->len : 0;
}

HIVE_API void *hive_msg_take_ptr(hive_msg_t *m)
{
    if (!m || m->kind != HIVE__MSG_PTR)
        return NULL;
    void *p = ptr_of(m)->ptr;
    ptr_of(m)->ptr = NULL;
    return p;
}

void hive__msg_hold(hive__msg_list_t *l, hive_msg_t *m)
{
    m->next = l->head;
    if (m->next)
        m->next->pprev = &m->next;
    l->head = m;
    m->pprev = &l->head;
}

static void unhold(hive_msg_t *m)
{
    *m->pprev = m->next;
    if (m->next)
        m->next->pprev = m->pprev;
    m->pprev = NULL;
}

void hive__msg_free_held(hive__msg_list_t *l)
{
    while (l->head)
        hive_msg_free(l->head);
}

HIVE_API void hive_msg_free(hive_msg_t *m)
{
    if (!m)
        return;
    if (m->pprev)
        unhold(m);
    if (m->kind == HIVE__MSG_PTR && ptr_of(m)->ptr && ptr_of(m)->dtor)
        ptr_of(m)->dtor(ptr_of(m)->ptr);
    hive__free(m, node_size(m));
}
