"""Every write command survives kill -9: its effect is in the append-only log, in a form that
replays to the same state (REFERENCE.md section 14, item 9; DESIGN.md section 8).

SCENARIOS has, for every command COMMAND lists with the "write" flag, one or more variants
(options whose effects differ, relative and absolute TTLs, random picks, keys on different
shards, commands that write nothing). All variants run on one server (appendfsync always),
each on its own keys; the whole keyspace is read (type, contents, PEXPIRETIME of every key),
the process is killed with SIGKILL and started again on the same directory, and the keyspace
must be identical. Then a second round on the restarted server (the log goes on after a
replay), killed and compared again. A write command added to corekv without a scenario here
fails test_every_write_command_has_a_scenario.

Special cases (FLUSHALL, blocking pops served while waiting, MULTI/EXEC, expiry, other fsync
policies and clean stops) are in test_persist_commands_special.py.
"""
import time

import pytest

from persist_cmd_helpers import (COREKV_BIN, Keys, PersistServer, read_state,
                                 restart_and_compare, run_commands, shard_params,
                                 write_commands)
from helpers import is_redis_binary

SELF_TEST = is_redis_binary(COREKV_BIN)  # the harness against redis-server itself

# Absolute times well in the future (and one long past), fixed when the module loads.
FUT_S = int(time.time()) + 5000
FUT_MS = FUT_S * 1000 + 123
MEMBERS_300 = [f"m{i}" for i in range(300)]  # a hashtable-encoded set
INTS_10 = [str(i) for i in range(1, 11)]     # an intset
WORDS_10 = [f"w{i}" for i in range(10)]      # a listpack set

# Covered by test_persist_commands_special.py (they touch every key of every scenario).
SEPARATE = {"flushall", "flushdb"}

SCENARIOS = []


def V(cmd, label, *cmds):
    SCENARIOS.append((cmd, label, cmds))


# ---- strings ----
V("set", "plain", ("SET", "$A", "v"))
V("set", "clears ttl", ("SET", "$A", "old", "EX", 500), ("SET", "$A", "new"))
V("set", "nx absent", ("SET", "$A", "v", "NX"))
V("set", "nx present", ("SET", "$A", "v", "EX", 500), ("SET", "$A", "w", "NX", "EX", 9))
V("set", "xx present ex", ("SET", "$A", "v"), ("SET", "$A", "w", "XX", "EX", 300))
V("set", "xx absent", ("SET", "$A", "w", "XX", "PX", 5))
V("set", "get px", ("SET", "$A", "v"), ("SET", "$A", "w", "GET", "PX", 400000))
V("set", "exat", ("SET", "$A", "v", "EXAT", FUT_S))
V("set", "pxat", ("SET", "$A", "v", "PXAT", FUT_MS))
V("set", "keepttl", ("SET", "$A", "v", "EX", 700), ("SET", "$A", "w", "KEEPTTL"))
V("set", "exat past", ("SET", "$A", "v", "EXAT", 1000))
V("set", "ex over other type", ("RPUSH", "$A", "x"), ("SET", "$A", "v", "EX", 800))
V("setnx", "absent", ("SETNX", "$A", "v"))
V("setnx", "present", ("SET", "$A", "v", "EX", 500), ("SETNX", "$A", "w"))
V("setex", "new", ("SETEX", "$A", 300, "v"))
V("setex", "over ttl", ("SET", "$A", "x", "EX", 9000), ("SETEX", "$A", 300, "v"))
V("psetex", "new", ("PSETEX", "$A", 300000, "v"))
V("getset", "clears ttl", ("SET", "$A", "v", "EX", 500), ("GETSET", "$A", "w"))
V("getset", "absent", ("GETSET", "$A", "w"))
V("getdel", "present", ("SET", "$A", "v", "EX", 500), ("GETDEL", "$A"))
V("getdel", "absent", ("GETDEL", "$A"))
V("getex", "ex", ("SET", "$A", "v"), ("GETEX", "$A", "EX", 300))
V("getex", "px", ("SET", "$A", "v"), ("GETEX", "$A", "PX", 300000))
V("getex", "exat", ("SET", "$A", "v"), ("GETEX", "$A", "EXAT", FUT_S))
V("getex", "pxat", ("SET", "$A", "v"), ("GETEX", "$A", "PXAT", FUT_MS))
V("getex", "pxat past deletes", ("SET", "$A", "v"), ("GETEX", "$A", "PXAT", 1000))
V("getex", "persist", ("SET", "$A", "v", "EX", 300), ("GETEX", "$A", "PERSIST"))
V("getex", "no option", ("SET", "$A", "v", "EX", 300), ("GETEX", "$A"))
V("append", "new", ("APPEND", "$A", "abc"))
V("append", "keeps ttl", ("SET", "$A", "12", "EX", 600), ("APPEND", "$A", "34"))
V("incr", "new and ttl", ("INCR", "$A"), ("SET", "$B", "41", "EX", 600), ("INCR", "$B"))
V("decr", "new", ("DECR", "$A"), ("DECR", "$A"))
V("incrby", "ttl kept", ("SET", "$A", "5", "PX", 600000), ("INCRBY", "$A", 1000))
V("decrby", "new", ("DECRBY", "$A", 7))
V("incrbyfloat", "keeps ttl", ("SET", "$A", "10.5", "EX", 900), ("INCRBYFLOAT", "$A", "0.1"))
V("incrbyfloat", "new, exponent", ("INCRBYFLOAT", "$A", "3.0e3"), ("INCRBYFLOAT", "$A", "-0.3"))
V("incrbyfloat", "error", ("SET", "$A", "abc"), ("!INCRBYFLOAT", "$A", "1"))
V("setrange", "new and grow", ("SETRANGE", "$A", 5, "xy"), ("SET", "$B", "hello", "EX", 400),
  ("SETRANGE", "$B", 1, "EY"))
V("mset", "cross", ("SET", "$B", "x", "EX", 100), ("MSET", "$A", "1", "$B", "2", "$C", "3"))
V("mset", "one shard", ("MSET", "$Ga", "1", "$Gb", "2"))
V("msetnx", "cross ok", ("MSETNX", "$A", "1", "$B", "2", "$C", "3"))
V("msetnx", "cross refused", ("SET", "$C", "x"), ("MSETNX", "$A", "1", "$B", "2", "$C", "3"))
V("msetnx", "one shard", ("MSETNX", "$Ga", "1", "$Gb", "2"))

# ---- keys ----
V("del", "cross", ("MSET", "$A", 1, "$B", 2, "$C", 3), ("DEL", "$A", "$B", "$C", "$A"))
V("del", "one shard", ("MSET", "$Ga", 1, "$Gb", 2), ("DEL", "$Ga", "$Gx"))
V("unlink", "cross", ("MSET", "$A", 1, "$B", 2), ("RPUSH", "$C", 1), ("UNLINK", "$A", "$C"))
V("expire", "relative", ("SET", "$A", "v"), ("EXPIRE", "$A", 300))
V("expire", "nx xx gt lt", ("SET", "$A", "v"), ("EXPIRE", "$A", 300, "NX"),
  ("EXPIRE", "$A", 100, "GT"), ("EXPIRE", "$A", 400, "GT"), ("EXPIRE", "$A", 200, "LT"),
  ("EXPIRE", "$A", 900, "XX"), ("EXPIRE", "$A", 5, "NX"))
V("expire", "negative deletes", ("SET", "$A", "v"), ("EXPIRE", "$A", -1))
V("expire", "missing", ("EXPIRE", "$A", 100))
V("pexpire", "relative", ("RPUSH", "$A", "v"), ("PEXPIRE", "$A", 300123))
V("pexpire", "zero deletes", ("SADD", "$A", "v"), ("PEXPIRE", "$A", 0))
V("expireat", "future", ("SET", "$A", "v"), ("EXPIREAT", "$A", FUT_S))
V("expireat", "past deletes", ("SET", "$A", "v"), ("EXPIREAT", "$A", 1000))
V("pexpireat", "future", ("HSET", "$A", "f", "v"), ("PEXPIREAT", "$A", FUT_MS))
V("pexpireat", "past deletes", ("SET", "$A", "v"), ("PEXPIREAT", "$A", 1000))
V("persist", "ttl removed", ("SET", "$A", "v", "EX", 100), ("PERSIST", "$A"), ("PERSIST", "$B"))
V("rename", "cross with ttl", ("SET", "$A", "v", "EX", 500), ("RENAME", "$A", "$B"))
V("rename", "cross over other", ("RPUSH", "$A", "1", "2"), ("SET", "$B", "old"),
  ("RENAME", "$A", "$B"))
V("rename", "one shard", ("ZADD", "$Ga", 1, "x"), ("PEXPIRE", "$Ga", 400000),
  ("RENAME", "$Ga", "$Gb"))
V("rename", "missing", ("!RENAME", "$A", "$B"))
V("renamenx", "cross ok", ("SET", "$A", "v", "EX", 500), ("RENAMENX", "$A", "$B"))
V("renamenx", "cross refused", ("SET", "$A", "v"), ("SET", "$B", "w"), ("RENAMENX", "$A", "$B"))
V("renamenx", "one shard", ("SET", "$Ga", "v"), ("RENAMENX", "$Ga", "$Gb"))
V("copy", "cross with ttl", ("HSET", "$A", "f", "v"), ("PEXPIRE", "$A", 600000),
  ("COPY", "$A", "$B"))
V("copy", "cross replace", ("SADD", "$A", 1, 2), ("SET", "$B", "x"),
  ("COPY", "$A", "$B", "REPLACE"))
V("copy", "cross refused", ("SET", "$A", "v"), ("SET", "$B", "w"), ("COPY", "$A", "$B"))
V("copy", "one shard", ("RPUSH", "$Ga", 1, 2), ("COPY", "$Ga", "$Gb", "DB", 0))

# ---- lists ----
V("lpush", "new and ttl", ("LPUSH", "$A", 1, 2, 3), ("RPUSH", "$B", "x"), ("EXPIRE", "$B", 700),
  ("LPUSH", "$B", "y"))
V("rpush", "new", ("RPUSH", "$A", *WORDS_10))
V("lpushx", "absent and present", ("LPUSHX", "$A", 1), ("RPUSH", "$B", 1), ("LPUSHX", "$B", 0))
V("rpushx", "absent and present", ("RPUSHX", "$A", 1), ("RPUSH", "$B", 1), ("RPUSHX", "$B", 2))
V("lpop", "one, count, emptied", ("RPUSH", "$A", 1, 2, 3, 4), ("LPOP", "$A"), ("LPOP", "$A", 2),
  ("RPUSH", "$B", 1), ("LPOP", "$B", 5))
V("rpop", "one, count", ("RPUSH", "$A", 1, 2, 3, 4), ("RPOP", "$A"), ("RPOP", "$A", 2))
V("lset", "index", ("RPUSH", "$A", 1, 2, 3), ("LSET", "$A", -1, "z"), ("!LSET", "$A", 9, "q"))
V("linsert", "before after", ("RPUSH", "$A", 1, 2, 3), ("LINSERT", "$A", "BEFORE", 2, "x"),
  ("LINSERT", "$A", "AFTER", 3, "y"), ("LINSERT", "$A", "AFTER", 99, "n"))
V("lrem", "some, emptied", ("RPUSH", "$A", 1, 2, 1, 2, 1), ("LREM", "$A", -2, 1),
  ("RPUSH", "$B", "x", "x"), ("LREM", "$B", 0, "x"))
V("ltrim", "range, emptied", ("RPUSH", "$A", *WORDS_10), ("LTRIM", "$A", 2, -3),
  ("RPUSH", "$B", 1, 2), ("LTRIM", "$B", 5, 9))
V("lmpop", "cross count", ("RPUSH", "$C", 1, 2, 3), ("LMPOP", 3, "$A", "$B", "$C", "LEFT",
                                                    "COUNT", 2))
V("lmpop", "one shard right", ("RPUSH", "$Gb", 1, 2, 3), ("LMPOP", 2, "$Ga", "$Gb", "RIGHT"))
V("rpoplpush", "cross", ("RPUSH", "$A", 1, 2, 3), ("RPUSH", "$B", "x"), ("RPOPLPUSH", "$A", "$B"))
V("rpoplpush", "rotate one key", ("RPUSH", "$A", 1, 2, 3), ("RPOPLPUSH", "$A", "$A"))
V("lmove", "cross left right", ("RPUSH", "$A", 1, 2, 3), ("LMOVE", "$A", "$B", "LEFT", "RIGHT"),
  ("LMOVE", "$A", "$B", "RIGHT", "LEFT"))
V("lmove", "one shard, emptied", ("RPUSH", "$Ga", 1), ("LMOVE", "$Ga", "$Gb", "LEFT", "LEFT"))
V("lmove", "wrongtype dst", ("RPUSH", "$A", 1), ("SET", "$B", "s"),
  ("!LMOVE", "$A", "$B", "LEFT", "LEFT"))

# ---- blocking commands with data at hand (served while waiting: the special tests) ----
V("blpop", "cross keys", ("RPUSH", "$B", 1, 2), ("BLPOP", "$A", "$B", 1))
V("blpop", "times out", ("BLPOP", "$A", "0.01"))
V("brpop", "one shard", ("RPUSH", "$Gb", 1, 2), ("BRPOP", "$Ga", "$Gb", 1))
V("blmove", "cross", ("RPUSH", "$A", 1, 2), ("BLMOVE", "$A", "$B", "RIGHT", "LEFT", 1))
V("blmove", "one shard", ("RPUSH", "$Ga", 1, 2), ("BLMOVE", "$Ga", "$Gb", "LEFT", "LEFT", 1))
V("brpoplpush", "cross", ("RPUSH", "$A", 1, 2), ("BRPOPLPUSH", "$A", "$B", 1))
V("blmpop", "cross count", ("RPUSH", "$B", 1, 2, 3), ("BLMPOP", 1, 2, "$A", "$B", "RIGHT",
                                                       "COUNT", 2))
V("bzpopmin", "cross", ("ZADD", "$B", 1, "a", 2, "b"), ("BZPOPMIN", "$A", "$B", 1))
V("bzpopmax", "one shard", ("ZADD", "$Gb", 1, "a", 2, "b"), ("BZPOPMAX", "$Ga", "$Gb", 1))
V("bzmpop", "cross count", ("ZADD", "$C", 1, "a", 2, "b", 3, "c"),
  ("BZMPOP", 1, 2, "$A", "$C", "MAX", "COUNT", 2))

# ---- hashes ----
V("hset", "new, update", ("HSET", "$A", "f", 1, "g", 2), ("HSET", "$A", "f", 3, "h", 4))
V("hsetnx", "absent, present", ("HSETNX", "$A", "f", 1), ("HSETNX", "$A", "f", 2))
V("hmset", "new", ("HMSET", "$A", "f", 1, "g", 2))
V("hdel", "some, emptied", ("HSET", "$A", "f", 1, "g", 2), ("HDEL", "$A", "f", "x"),
  ("HSET", "$B", "f", 1), ("HDEL", "$B", "f"))
V("hincrby", "new, existing", ("HINCRBY", "$A", "f", 5), ("HINCRBY", "$A", "f", -7))
V("hincrbyfloat", "existing, new", ("HSET", "$A", "f", "1.5"), ("HINCRBYFLOAT", "$A", "f", "0.1"),
  ("HINCRBYFLOAT", "$A", "g", "2.5e2"))

# ---- sets ----
V("sadd", "new, existing", ("SADD", "$A", 1, 2, 3), ("SADD", "$A", 3, "x"), ("SADD", "$A", 1))
V("srem", "some, emptied", ("SADD", "$A", 1, 2, 3), ("SREM", "$A", 1, 9), ("SADD", "$B", "x"),
  ("SREM", "$B", "x"))
V("spop", "one", ("SADD", "$A", *WORDS_10), ("SPOP", "$A"))
V("spop", "one emptied", ("SADD", "$A", "x"), ("SPOP", "$A"))
V("spop", "few of listpack", ("SADD", "$A", *WORDS_10), ("SPOP", "$A", 2))
V("spop", "most of listpack", ("SADD", "$A", *WORDS_10), ("SPOP", "$A", 9))
V("spop", "few of intset", ("SADD", "$A", *INTS_10), ("SPOP", "$A", 3))
V("spop", "most of intset", ("SADD", "$A", *INTS_10), ("SPOP", "$A", 8))
V("spop", "few of hashtable", ("SADD", "$A", *MEMBERS_300), ("SPOP", "$A", 20))
V("spop", "most of hashtable", ("SADD", "$A", *MEMBERS_300), ("SPOP", "$A", 280))
V("spop", "all", ("SADD", "$A", *WORDS_10), ("SPOP", "$A", 10), ("SADD", "$B", 1),
  ("SPOP", "$B", 5))
V("spop", "missing, zero", ("SPOP", "$A"), ("SADD", "$B", 1), ("SPOP", "$B", 0))
V("smove", "cross", ("SADD", "$A", 1, 2), ("SADD", "$B", 3), ("SMOVE", "$A", "$B", 1),
  ("SMOVE", "$A", "$B", 9), ("SMOVE", "$A", "$C", 2))
V("smove", "one shard", ("SADD", "$Ga", 1, 2), ("SMOVE", "$Ga", "$Gb", 2))
V("sinterstore", "cross", ("SADD", "$A", 1, 2, 3), ("SADD", "$B", 2, 3, 4),
  ("SINTERSTORE", "$C", "$A", "$B"))
V("sinterstore", "empty deletes dst", ("SADD", "$A", 1), ("SADD", "$B", 2), ("SET", "$C", "x"),
  ("SINTERSTORE", "$C", "$A", "$B"))
V("sinterstore", "one shard", ("SADD", "$Ga", 1, 2), ("SADD", "$Gb", 2),
  ("SINTERSTORE", "$Gc", "$Ga", "$Gb"))
V("sunionstore", "cross", ("SADD", "$A", 1, "x"), ("SADD", "$B", *MEMBERS_300[:50]),
  ("SUNIONSTORE", "$C", "$A", "$B"))
V("sunionstore", "onto a source", ("SADD", "$A", 1), ("SADD", "$B", 2),
  ("SUNIONSTORE", "$A", "$A", "$B"))
V("sdiffstore", "cross", ("SADD", "$A", *INTS_10), ("SADD", "$B", 1, 2), ("SADD", "$C", 3),
  ("SDIFFSTORE", "$C", "$A", "$B", "$C"))
V("sdiffstore", "big first set", ("SADD", "$A", *MEMBERS_300), ("SADD", "$B", *MEMBERS_300[5:]),
  ("SDIFFSTORE", "$C", "$A", "$B"))
V("sdiffstore", "one shard", ("SADD", "$Ga", 1, 2), ("SDIFFSTORE", "$Gd", "$Ga", "$Gb"))

# ---- sort ----
V("sort", "list store", ("RPUSH", "$Gl", 3, 1, 2), ("SORT", "$Gl", "STORE", "$Gd"))
V("sort", "set nosort store", ("SADD", "$Gs", *MEMBERS_300[:40]),
  ("SORT", "$Gs", "BY", "nosort", "ALPHA", "STORE", "$Gd"))
V("sort", "set limit store", ("SADD", "$Gs", *MEMBERS_300),
  ("SORT", "$Gs", "ALPHA", "DESC", "LIMIT", 3, 50, "STORE", "$Gd"))
V("sort", "by and get patterns", ("RPUSH", "$Gl", "a", "b", "c"),
  ("MSET", "$Gw_a", 3, "$Gw_b", 1, "$Gw_c", 1), ("HSET", "$Gh_a", "f", "A"),
  ("SORT", "$Gl", "BY", "$Gw_*", "GET", "#", "GET", "$Gh_*->f", "STORE", "$Gd"))
V("sort", "cross shards", ("RPUSH", "$A", "a", "b", "c"), ("MSET", "$A.w_a", 2, "$A.w_b", 1),
  ("SORT", "$A", "BY", "$A.w_*", "GET", "$A.w_*", "STORE", "$B"))
V("sort", "empty deletes dst", ("SET", "$Gd", "x"), ("SORT", "$Gnone", "STORE", "$Gd"))
V("sort", "no store", ("RPUSH", "$A", 2, 1), ("SORT", "$A"))

# ---- sorted sets ----
V("zadd", "new, update", ("ZADD", "$A", 1, "a", 2, "b"), ("ZADD", "$A", 5, "a", "-inf", "c"))
V("zadd", "nx xx gt lt ch", ("ZADD", "$A", 1, "a", 2, "b"), ("ZADD", "$A", "NX", 9, "a", 3, "c"),
  ("ZADD", "$A", "XX", "CH", 7, "b", 4, "d"), ("ZADD", "$A", "GT", 0, "a", 8, "c"),
  ("ZADD", "$A", "LT", "CH", 0.5, "b"))
V("zadd", "incr", ("ZADD", "$A", "INCR", "1.5", "a"), ("ZADD", "$A", "INCR", "0.25", "a"),
  ("ZADD", "$A", "NX", "INCR", 1, "a"))
V("zadd", "xx absent", ("ZADD", "$A", "XX", 1, "a"))
V("zincrby", "new, existing", ("ZINCRBY", "$A", "0.1", "a"), ("ZINCRBY", "$A", "0.2", "a"))
V("zrem", "some, emptied", ("ZADD", "$A", 1, "a", 2, "b"), ("ZREM", "$A", "a", "x"),
  ("ZADD", "$B", 1, "a"), ("ZREM", "$B", "a"))
V("zremrangebyrank", "middle", ("ZADD", "$A", 1, "a", 2, "b", 3, "c", 4, "d"),
  ("ZREMRANGEBYRANK", "$A", 1, -2))
V("zremrangebyscore", "range", ("ZADD", "$A", 1, "a", 2, "b", 3, "c"),
  ("ZREMRANGEBYSCORE", "$A", "(1", 3))
V("zremrangebylex", "all", ("ZADD", "$A", 0, "a", 0, "b"), ("ZREMRANGEBYLEX", "$A", "-", "+"))
V("zpopmin", "one, count", ("ZADD", "$A", 1, "a", 2, "b", 3, "c"), ("ZPOPMIN", "$A"),
  ("ZPOPMIN", "$A", 5))
V("zpopmax", "count", ("ZADD", "$A", 1, "a", 2, "b", 3, "c"), ("ZPOPMAX", "$A", 2))
V("zrangestore", "cross byscore rev limit", ("ZADD", "$A", 1, "a", 2, "b", 3, "c", 4, "d"),
  ("ZRANGESTORE", "$B", "$A", "+inf", 2, "BYSCORE", "REV", "LIMIT", 1, 2))
V("zrangestore", "one shard, empty deletes", ("ZADD", "$Ga", 1, "a"), ("SET", "$Gb", "x"),
  ("ZRANGESTORE", "$Gc", "$Ga", 0, -1), ("ZRANGESTORE", "$Gb", "$Ga", 5, 9))
V("zmpop", "cross count", ("ZADD", "$B", 1, "a", 2, "b", 3, "c"),
  ("ZMPOP", 2, "$A", "$B", "MIN", "COUNT", 2))
V("zunionstore", "cross weights max", ("ZADD", "$A", 1, "a", 2, "b"), ("ZADD", "$B", 5, "b"),
  ("ZUNIONSTORE", "$C", 2, "$A", "$B", "WEIGHTS", 2, "0.5", "AGGREGATE", "MAX"))
V("zunionstore", "sets and zsets", ("SADD", "$A", "x", "y"), ("ZADD", "$B", "0.1", "x"),
  ("ZUNIONSTORE", "$B", 2, "$A", "$B"))
V("zinterstore", "cross", ("ZADD", "$A", 1, "a", 2, "b"), ("ZADD", "$B", 3, "b", 4, "c"),
  ("ZINTERSTORE", "$C", 2, "$A", "$B"))
V("zinterstore", "empty deletes dst", ("ZADD", "$A", 1, "a"), ("SET", "$C", "x"),
  ("ZINTERSTORE", "$C", 2, "$A", "$B"))
V("zdiffstore", "cross", ("ZADD", "$A", 1, "a", 2, "b"), ("ZADD", "$B", 3, "b"),
  ("ZDIFFSTORE", "$C", 2, "$A", "$B"))
V("zdiffstore", "one shard", ("ZADD", "$Ga", 1, "a"), ("ZDIFFSTORE", "$Gc", 1, "$Ga"))


def _covered():
    return {cmd for cmd, _label, _cmds in SCENARIOS} | SEPARATE


@pytest.mark.skipif(SELF_TEST, reason="redis-server has write commands corekv lacks")
def test_every_write_command_has_a_scenario(tmp_path):
    srv = PersistServer(1, tmp_path, name="cover")
    srv.start()
    try:
        with srv.raw() as c:
            writes = write_commands(c)
    finally:
        srv.terminate()
    missing = sorted(writes - _covered())
    assert not missing, f"write commands without a crash scenario in {__file__}: {missing}"
    stale = sorted(_covered() - writes)
    assert not stale, f"scenarios for commands that are not write commands: {stale}"


def _run_round(c, first_index, scenarios, shards, names):
    problems = []
    for i, (cmd, label, cmds) in enumerate(scenarios, start=first_index):
        keys = Keys(i, shards)
        names[keys.prefix] = f"{cmd}: {label}"
        problems += run_commands(c, keys, cmds, names[keys.prefix])
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("shards", [1] if SELF_TEST else shard_params(),
                         ids=lambda n: f"shards{n}")
def test_every_write_command_survives_kill9(tmp_path, shards):
    srv = PersistServer(shards, tmp_path, fsync="always")
    srv.start()
    names = {}
    try:
        with srv.raw() as c:
            problems = _run_round(c, 0, SCENARIOS, shards, names)
            assert not problems, "scenario replies:\n" + "\n".join(problems)
            before = read_state(c)
        assert len(before) > 150, f"only {len(before)} keys: the scenarios did not write"
        restart_and_compare(srv, before, "round 1", names)

        # The restarted server logs on after its replay: a second round over the first's
        # keys (every third scenario again, on new keys), killed and compared again.
        with srv.raw() as c:
            again = SCENARIOS[::3]
            problems = _run_round(c, len(SCENARIOS), again, shards, names)
            assert not problems, "scenario replies (round 2):\n" + "\n".join(problems)
            before = read_state(c)
        restart_and_compare(srv, before, "round 2", names)
    finally:
        if srv.alive():
            srv.terminate()
