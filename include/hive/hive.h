/* hive/hive.h - the whole public API of hive. */
#ifndef HIVE_HIVE_H
#define HIVE_HIVE_H

#include <hive/visibility.h>
#include <hive/error.h>
#include <hive/config.h>
#include <hive/runtime.h>
#include <hive/process.h>
#include <hive/message.h>
#include <hive/timer.h>
#include <hive/registry.h>
#include <hive/thread.h>
#include <hive/link.h>
#include <hive/subject.h>
#include <hive/actor.h>
#include <hive/task.h>
#include <hive/supervisor.h>
#include <hive/io.h>
#include <hive/term.h>
#include <hive/node.h>

#endif
