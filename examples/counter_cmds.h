/* A small command set built only on <corekv/rt.h>: named counters. */
#ifndef COREKV_EXAMPLE_COUNTER_CMDS_H
#define COREKV_EXAMPLE_COUNTER_CMDS_H

#include <corekv/rt.h>

/* PING, INCR key, GET key, DEL key [key ...] (split across shards), DBSIZE (all
 * shards), QUIT. */
extern const struct rt_commands counter_commands;

#endif
