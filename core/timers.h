/* timers.h - the send-timer table's lifecycle (core/timer.c). */
#ifndef HIVE_CORE_TIMERS_H
#define HIVE_CORE_TIMERS_H

/* max_timers: most timers pending at once (hive_send_after then -EAGAIN). */
int hive__timers_init(long max_timers);
void hive__timers_shutdown(void);

#endif
