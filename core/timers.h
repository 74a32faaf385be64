/* timers.h - the send-timer table's lifecycle (core/timer.c). */
#ifndef HIVE_CORE_TIMERS_H
#define HIVE_CORE_TIMERS_H

int hive__timers_init(void);
void hive__timers_shutdown(void);

#endif
