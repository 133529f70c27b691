"""Random differential tests of the collection types: thousands of seeded random commands on
a small key space run on corekv and on a real redis-server, every reply compared.

A run (one per type, plus SORT and a mixed run over one shared key space in RESP2 and RESP3)
draws commands from the generators below: small key spaces (collisions, WRONGTYPE, empties),
bulk adds and removals that cross the encoding thresholds (128 hash/zset entries, 512 intset
entries, 64-byte values, 8 KiB list nodes), hash-tagged keys (one slot) and plain keys (spread
over shards at 4 shards), so multi-key commands span shards.

Replies are compared byte for byte, except where Redis leaves the order unspecified
(SMEMBERS and the set algebra, HGETALL/HKEYS/HVALS of a hashtable, SCAN: compared as
multisets) or the result random (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER: checked against
the key's contents; after an SPOP the reference is made to mirror corekv's pops). The contents
of every key (TYPE, elements, encoding where Redis 7.0 and 7.2 agree) are compared every
CHECK_EVERY commands and at the end. A mismatch does not stop the run: its keys are rebuilt
identically on both servers from the reference's contents and the run goes on; the test fails
at the end listing every mismatch with the commands that led to it (the history of the keys
involved, replayable from an empty database).

Each mismatch is reported once per (command, problem) with the history of its keys, and
shrunk (delta debugging, replayed on empty databases, at most COREKV_DIFF_MINIMIZE_SECONDS,
default 30) to a short reproduction, also written with exact arguments as JSON to
$TMPDIR/corekv-diff-<run>-s<shards>-seed<seed>-<n>.json (a list of commands, the last one
the failing check). The reference's encoding limits are set to corekv's for the run.

Environment: COREKV_DIFF_SEED (an integer, or "random"; default fixed per run),
COREKV_DIFF_OPS (commands per run; default 4000, 2500 under ASan), COREKV_DIFF_SHARDS
(default "1,4"). A family whose main command the server does not know is skipped; commands
the server does not know are not sent (listed in the failure message and on stdout).
"""
import json
import os
import random
import tempfile
import time

import pytest

from helpers import Err, decode, encode, spread_keys

SHARDS = [int(x) for x in os.environ.get("COREKV_DIFF_SHARDS", "1,4").split(",") if x.strip()]


def _asan(path):
    if "asan" in path.lower() or os.environ.get("COREKV_ASAN") == "1":
        return True
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


_ASAN = _asan(os.environ.get("COREKV_BIN", ""))
NOPS = int(os.environ.get("COREKV_DIFF_OPS", "2500" if _ASAN else "4000"))
SEED_ENV = os.environ.get("COREKV_DIFF_SEED", "")
CHECK_EVERY = 250
MAX_MISMATCHES = 12
HISTORY_SHOWN = 40
MINIMIZE_SECONDS = float(os.environ.get("COREKV_DIFF_MINIMIZE_SECONDS", "30"))

pytestmark = [pytest.mark.differential,
              pytest.mark.parametrize("server_mod", SHARDS, indirect=True,
                                      ids=lambda n: f"shards{n}")]

# ------------------------------------------------------------------------------- value pools

WORDS = ["a", "b", "c", "d", "e", "f", "g", "hello", "ab", "b\x00c", "\u00e9t\u00e9", "a b",
         "x\r\ny", ""]
NUMS = ["0", "1", "2", "3", "-1", "10", "007", " 3", "3.0", "1e3", "-0", "17", "100",
        "9223372036854775807", "-9223372036854775808", "9223372036854775808", "0x10"]
LONGS = ["v" * 63, "w" * 64, "y" * 65, "L" * 200]
INTS = [str(i) for i in range(600)]
SCORES = ["0", "1", "2", "-1", "1.5", "-2.5", "10", "100", "+inf", "-inf", "1e-5", "0.1",
          "3.14159", "1e300", "-0", "5", "7", "2.0000000000000004"]
BAD_NUMS = ["x", "nan", "1.5.1", "", "99999999999999999999", "1 "]
INDEXES = [0, 1, 2, 3, -1, -2, -3, 5, 10, 50, 100, 127, 128, 129, -100, 1000, -1000]


def pick_val(rng, long_p=0.1):
    x = rng.random()
    if x < long_p:
        return rng.choice(LONGS)
    return rng.choice(WORDS) if x < 0.65 else rng.choice(NUMS)


def pick_idx(rng):
    if rng.random() < 0.03:
        return rng.choice(["x", "1.5", "99999999999999999999", "-9223372036854775808"])
    return str(rng.choice(INDEXES))


def pick_count(rng, neg=False):
    c = rng.choice([0, 1, 2, 3, 5, 10, 50, 200] + ([-1, -3, -10] if neg else []))
    if rng.random() < 0.03:
        return rng.choice(["x", "-1", "1.0", "99999999999999999999"])
    return str(c)


# ------------------------------------------------------------------------------- operations

class Op:
    """args: the command; check: "exact", "unordered" (replies as multisets), "auto" /
    "auto_pairs" (exact if the reference's key is listpack/intset encoded, else as a multiset
    of elements / of field-value pairs), "rand" (validated against the key's contents),
    "scan" (a full cursor loop on each side), "len" (only the reply lengths), "enc" (OBJECT
    ENCODING with the 7.0/7.2 tolerance). resync: keys rebuilt from the reference after."""
    __slots__ = ("args", "check", "resync")

    def __init__(self, *args, check="exact", resync=()):
        self.args = tuple(str(a) for a in args)
        self.check = check
        self.resync = resync


def some(rng, pool, lo, hi):
    return [rng.choice(pool) for _ in range(rng.randint(lo, hi))]


def gen_list(rng, K):
    k, k2 = rng.choice(K), rng.choice(K)
    r = rng.random()
    side = lambda: rng.choice(["LEFT", "RIGHT"])  # noqa: E731
    if r < 0.20:
        if rng.random() < 0.04:  # bulk: crosses the 8 KiB listpack limit
            vals = some(rng, LONGS + WORDS, 100, 300)
        else:
            vals = [pick_val(rng) for _ in range(rng.randint(1, 4))]
        return Op(rng.choice(["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), k, *vals)
    if r < 0.32:
        cmd = rng.choice(["LPOP", "RPOP"])
        return Op(cmd, k) if rng.random() < 0.5 else Op(cmd, k, pick_count(rng, True))
    if r < 0.36:
        return Op("LLEN", k)
    if r < 0.42:
        return Op("LINDEX", k, pick_idx(rng))
    if r < 0.46:
        return Op("LSET", k, pick_idx(rng), pick_val(rng))
    if r < 0.54:
        return Op("LRANGE", k, pick_idx(rng), pick_idx(rng))
    if r < 0.56:
        return Op("LTRIM", k, pick_idx(rng), rng.choice(["-1", "-2", "100", "300", "5"]))
    if r < 0.61:
        return Op("LREM", k, rng.choice(["0", "1", "-1", "2", "-2", "x"]), pick_val(rng))
    if r < 0.67:
        return Op("LINSERT", k, rng.choice(["BEFORE", "AFTER", "before", "MIDDLE"]),
                  pick_val(rng), pick_val(rng))
    if r < 0.73:
        a = ["LPOS", k, pick_val(rng)]
        for opt, vals in (("RANK", ["1", "2", "-1", "-2", "0", "x"]),
                          ("COUNT", ["0", "1", "2", "-1"]), ("MAXLEN", ["0", "1", "5", "-1"])):
            if rng.random() < 0.35:
                a += [opt, rng.choice(vals)]
        return Op(*a)
    if r < 0.80:
        return Op("LMOVE", k, k2, side(), side())
    if r < 0.83:
        return Op("RPOPLPUSH", k, k2)
    if r < 0.89:
        ks = rng.sample(K, rng.randint(1, 3))
        a = ["LMPOP", str(len(ks)), *ks, side()]
        if rng.random() < 0.5:
            a += ["COUNT", pick_count(rng)]
        return Op(*a)
    if r < 0.91:  # wrong arity / syntax
        return Op(*rng.choice([("LPUSH", k), ("LMPOP", "0", k, "LEFT"), ("LMPOP", "2", k, "LEFT"),
                               ("LPOS", k, "a", "RANK"), ("LRANGE", k, "0"),
                               ("LMOVE", k, k2, "UP", "LEFT")]))
    if r < 0.93:  # blocking forms on possibly empty keys (time out after 10 ms)
        return Op(*rng.choice([("BLPOP", k, k2, "0.01"), ("BRPOP", k, "0.01"),
                               ("BLMOVE", k, k2, side(), side(), "0.01"),
                               ("BLMPOP", "0.01", "2", k, k2, side(), "COUNT", "2"),
                               ("BRPOPLPUSH", k, k2, "0.01")]))
    if r < 0.96:
        return Op("OBJECT", "ENCODING", k, check="enc")
    return Op(rng.choice(["TYPE", "EXISTS"]), k)


FIELDS = [f"f{i}" for i in range(160)] + ["x" * 65, "", "fld"]
COUNTERS = ["n0", "n1", "n2", "n3"]


def gen_hash(rng, K):
    k = rng.choice(K)
    f = lambda: rng.choice(FIELDS)  # noqa: E731
    r = rng.random()
    if r < 0.22:
        n = rng.randint(100, 140) if rng.random() < 0.05 else rng.randint(1, 3)
        a = [k]
        for _ in range(n):
            a += [f(), pick_val(rng, 0.02)]
        return Op(rng.choice(["HSET", "HSET", "HMSET"]), *a)
    if r < 0.25:
        return Op("HSETNX", k, f(), pick_val(rng, 0.02))
    if r < 0.33:
        return Op("HGET", k, f())
    if r < 0.37:
        return Op("HMGET", k, *[f() for _ in range(rng.randint(1, 4))])
    if r < 0.46:
        n = rng.randint(40, 120) if rng.random() < 0.06 else rng.randint(1, 3)
        return Op("HDEL", k, *[f() for _ in range(n)])
    if r < 0.49:
        return Op("HLEN", k)
    if r < 0.52:
        return Op("HSTRLEN", k, f())
    if r < 0.55:
        return Op("HEXISTS", k, f())
    if r < 0.61:
        return Op(rng.choice(["HKEYS", "HVALS"]), k, check="auto")
    if r < 0.65:
        return Op("HGETALL", k, check="auto_pairs")
    if r < 0.74:
        return Op("HINCRBY", k, rng.choice(FIELDS[:3] + COUNTERS),
                  rng.choice(["1", "-1", "5", "100", "9223372036854775807", "-9223372036854775808",
                              "x", "1.5"]))
    if r < 0.80:
        return Op("HINCRBYFLOAT", k, rng.choice(FIELDS[:3] + COUNTERS),
                  rng.choice(["1", "1.5", "-0.25", "1e308", "1e-3", "inf", "x", "-1", "3.0e1"]))
    if r < 0.87:
        a = ["HRANDFIELD", k]
        if rng.random() < 0.7:
            a.append(pick_count(rng, True))
            if rng.random() < 0.5:
                a.append("WITHVALUES")
        return Op(*a, check="rand")
    if r < 0.91:
        a = ["HSCAN", k, "0"]
        if rng.random() < 0.4:
            a += ["MATCH", rng.choice(["f1*", "*", "f?", "nomatch"])]
        if rng.random() < 0.4:
            a += ["COUNT", rng.choice(["1", "10", "1000"])]
        return Op(*a, check="scan")
    if r < 0.94:
        return Op("OBJECT", "ENCODING", k, check="enc")
    if r < 0.96:
        return Op(*rng.choice([("HSET", k, "f"), ("HSET", k), ("HGET", k), ("HINCRBY", k, "f"),
                               ("HRANDFIELD", k, "1", "WITHSCORES"), ("HMGET", k)]))
    return Op(rng.choice(["TYPE", "EXISTS", "DEL", "DEL"]), k)


SMEMBERS_POOL = INTS + WORDS[:8] + ["01", "-5", "9223372036854775807", "9223372036854775808",
                                    "-9223372036854775808", "1.0", "y" * 65]


def pick_member(rng):
    return rng.choice(INTS[:40]) if rng.random() < 0.6 else rng.choice(SMEMBERS_POOL)


def gen_set(rng, K):
    k = rng.choice(K)
    r = rng.random()
    if r < 0.20:
        x = rng.random()
        if x < 0.03:  # bulk: around the 512-entry intset limit
            vals = rng.sample(INTS, rng.randint(450, 560))
        elif x < 0.06:  # around 128 entries (7.2's set-max-listpack-entries)
            vals = rng.sample(INTS[:200] + WORDS[:8], rng.randint(100, 140))
        else:
            vals = [pick_member(rng) for _ in range(rng.randint(1, 4))]
        return Op("SADD", k, *vals)
    if r < 0.30:
        n = rng.randint(50, 300) if rng.random() < 0.08 else rng.randint(1, 3)
        return Op("SREM", k, *[pick_member(rng) for _ in range(n)])
    if r < 0.33:
        return Op("SCARD", k)
    if r < 0.38:
        return Op("SISMEMBER", k, pick_member(rng))
    if r < 0.41:
        return Op("SMISMEMBER", k, *[pick_member(rng) for _ in range(rng.randint(1, 4))])
    if r < 0.46:
        return Op("SMEMBERS", k, check="auto")
    if r < 0.51:
        return Op("SPOP", k, check="rand") if rng.random() < 0.4 else \
            Op("SPOP", k, pick_count(rng), check="rand")
    if r < 0.56:
        return Op("SRANDMEMBER", k, check="rand") if rng.random() < 0.3 else \
            Op("SRANDMEMBER", k, pick_count(rng, True), check="rand")
    if r < 0.62:
        return Op("SMOVE", k, rng.choice(K), pick_member(rng))
    ks = rng.sample(K, rng.randint(1, 3))
    if r < 0.72:
        return Op(rng.choice(["SINTER", "SUNION", "SDIFF"]), *ks, check="unordered")
    if r < 0.82:
        return Op(rng.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), rng.choice(K), *ks)
    if r < 0.86:
        a = ["SINTERCARD", str(len(ks)), *ks]
        if rng.random() < 0.5:
            a += ["LIMIT", rng.choice(["0", "1", "3", "-1", "x"])]
        return Op(*a)
    if r < 0.90:
        a = ["SSCAN", k, "0"]
        if rng.random() < 0.4:
            a += ["MATCH", rng.choice(["1*", "*", "?", "nomatch"])]
        if rng.random() < 0.4:
            a += ["COUNT", rng.choice(["1", "10", "1000"])]
        return Op(*a, check="scan")
    if r < 0.92:
        return Op("OBJECT", "ENCODING", k, check="enc")
    if r < 0.94:
        return Op(*rng.choice([("SADD", k), ("SINTERCARD", "0", k), ("SINTERCARD", "2", k),
                               ("SPOP", k, "-1"), ("SMOVE", k, k), ("SINTERCARD", "1", k, "LIMIT")]))
    return Op(rng.choice(["TYPE", "EXISTS", "DEL", "DEL"]), k)


ZMEMBERS = [f"m{i}" for i in range(160)] + ["a", "b", "c", "aa", "z" * 65, ""]
LEX = ["-", "+", "[a", "(a", "[m1", "(m5", "[m", "[z", "(", "[", "a", "[m100"]


def pick_score(rng):
    return rng.choice(BAD_NUMS) if rng.random() < 0.02 else rng.choice(SCORES)


def pick_range_score(rng):
    s = rng.choice(SCORES[:14])
    return ("(" + s) if rng.random() < 0.3 else s


def zstore_opts(rng, n, a):
    if rng.random() < 0.3:
        a += ["WEIGHTS"] + [rng.choice(["1", "2", "0", "-1", "0.5", "inf", "x"]) for _ in range(n)]
    if rng.random() < 0.3:
        a += ["AGGREGATE", rng.choice(["SUM", "MIN", "MAX", "avg"])]
    return a


def gen_zset(rng, K, skeys=()):
    k = rng.choice(K)
    m = lambda: rng.choice(ZMEMBERS[:30]) if rng.random() < 0.7 else rng.choice(ZMEMBERS)  # noqa
    r = rng.random()
    if r < 0.18:
        flags = [f for f in ("NX", "XX", "GT", "LT", "CH", "INCR") if rng.random() < 0.08]
        n = rng.randint(100, 140) if rng.random() < 0.05 else rng.randint(1, 3)
        a = ["ZADD", k, *flags]
        for _ in range(n):
            a += [pick_score(rng), m()]
        return Op(*a)
    if r < 0.22:
        return Op("ZINCRBY", k, pick_score(rng), m())
    if r < 0.29:
        n = rng.randint(40, 120) if rng.random() < 0.06 else rng.randint(1, 3)
        return Op("ZREM", k, *[m() for _ in range(n)])
    if r < 0.31:
        return Op("ZCARD", k)
    if r < 0.34:
        return Op("ZCOUNT", k, pick_range_score(rng), pick_range_score(rng))
    if r < 0.36:
        return Op("ZLEXCOUNT", k, rng.choice(LEX), rng.choice(LEX), check="lex")
    if r < 0.40:
        return Op(rng.choice(["ZSCORE", "ZRANK", "ZREVRANK"]), k, m())
    if r < 0.42:
        return Op("ZMSCORE", k, *[m() for _ in range(rng.randint(1, 3))])
    if r < 0.52:
        kind = rng.choice(["", "BYSCORE", "BYLEX"])
        lo, hi = {"": (pick_idx, pick_idx), "BYSCORE": (pick_range_score, pick_range_score),
                  "BYLEX": (lambda g: g.choice(LEX), lambda g: g.choice(LEX))}[kind]
        a = ["ZRANGE", k, lo(rng), hi(rng)] + ([kind] if kind else [])
        if rng.random() < 0.3:
            a.append("REV")
        if rng.random() < 0.3:
            a += ["LIMIT", rng.choice(["0", "1", "5", "-1"]), rng.choice(["1", "3", "-1", "0"])]
        if rng.random() < 0.4:
            a.append("WITHSCORES")
        return Op(*a, check="lex" if kind == "BYLEX" else "exact")
    if r < 0.58:
        cmd = rng.choice(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZRANGEBYLEX", "ZREVRANGEBYLEX",
                          "ZREVRANGE"])
        if cmd == "ZREVRANGE":
            a = [cmd, k, pick_idx(rng), pick_idx(rng)]
        elif "LEX" in cmd:
            a = [cmd, k, rng.choice(LEX), rng.choice(LEX)]
        else:
            a = [cmd, k, pick_range_score(rng), pick_range_score(rng)]
        if "LEX" not in cmd and rng.random() < 0.4:
            a.append("WITHSCORES")
        if cmd != "ZREVRANGE" and rng.random() < 0.3:
            a += ["LIMIT", rng.choice(["0", "2", "-1"]), rng.choice(["1", "10", "-1"])]
        return Op(*a, check="lex" if "LEX" in cmd else "exact")
    if r < 0.61:
        a = ["ZRANGESTORE", rng.choice(K), k, pick_idx(rng), pick_idx(rng)]
        if rng.random() < 0.3:
            a = a[:3] + [pick_range_score(rng), pick_range_score(rng), "BYSCORE"]
        return Op(*a)
    if r < 0.66:
        cmd = rng.choice(["ZREMRANGEBYRANK", "ZREMRANGEBYSCORE", "ZREMRANGEBYLEX"])
        if cmd == "ZREMRANGEBYRANK":
            return Op(cmd, k, pick_idx(rng), pick_idx(rng))
        if cmd == "ZREMRANGEBYLEX":
            return Op(cmd, k, rng.choice(LEX), rng.choice(LEX), check="lex", resync=(k,))
        return Op(cmd, k, pick_range_score(rng), pick_range_score(rng))
    if r < 0.71:
        cmd = rng.choice(["ZPOPMIN", "ZPOPMAX"])
        return Op(cmd, k) if rng.random() < 0.4 else Op(cmd, k, pick_count(rng, True))
    if r < 0.74:
        ks = rng.sample(K, rng.randint(1, 3))
        a = ["ZMPOP", str(len(ks)), *ks, rng.choice(["MIN", "MAX"])]
        if rng.random() < 0.5:
            a += ["COUNT", pick_count(rng)]
        return Op(*a)
    if r < 0.79:
        a = ["ZRANDMEMBER", k]
        if rng.random() < 0.7:
            a.append(pick_count(rng, True))
            if rng.random() < 0.5:
                a.append("WITHSCORES")
        return Op(*a, check="rand")
    if r < 0.82:
        a = ["ZSCAN", k, "0"]
        if rng.random() < 0.4:
            a += ["MATCH", rng.choice(["m1*", "*", "?", "nomatch"])]
        return Op(*a, check="scan")
    srcs = list(K) + list(skeys)  # set keys are valid sources of the algebra
    ks = rng.sample(srcs, rng.randint(1, 3))
    if r < 0.89:
        a = zstore_opts(rng, len(ks), [rng.choice(["ZUNION", "ZINTER", "ZDIFF"]), str(len(ks)), *ks])
        if a[0] == "ZDIFF":
            a = a[:2 + len(ks)]
        if rng.random() < 0.5:
            a.append("WITHSCORES")
        return Op(*a)
    if r < 0.94:
        cmd = rng.choice(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"])
        a = [cmd, rng.choice(K), str(len(ks)), *ks]
        return Op(*(a if cmd == "ZDIFFSTORE" else zstore_opts(rng, len(ks), a)))
    if r < 0.96:
        a = ["ZINTERCARD", str(len(ks)), *ks]
        if rng.random() < 0.4:
            a += ["LIMIT", rng.choice(["0", "1", "2", "-1"])]
        return Op(*a)
    if r < 0.97:
        return Op("OBJECT", "ENCODING", k, check="enc")
    if r < 0.985:
        return Op("DEL", k)
    return Op(*rng.choice([("ZADD", k, "1"), ("ZADD", k, "NX", "XX", "1", "a"),
                           ("ZUNION", "0", k), ("ZUNIONSTORE", k, "2", k),
                           ("ZRANGE", k, "0", "1", "LIMIT", "0", "1"), ("ZMPOP", "1", k),
                           ("ZRANGESTORE", k, k, "0", "1", "WITHSCORES"), ("ZINTERCARD", "0", k)]))


SORT_VALS = ["1", "01", "1.0", "2", "-3", "10", "2.5", "1e2", "7", "0", "abc", "b", "B"]
SORT_SRC = ["{s}l1", "{s}l2", "{s}set", "{s}z", "sl", "sset"]
SORT_AUX = [f"{{s}}w_{v}" for v in SORT_VALS] + [f"{{s}}h_{v}" for v in SORT_VALS] + \
    [f"w_{v}" for v in SORT_VALS] + ["{s}dst", "sdst"]


def gen_sort(rng, K):
    src = rng.choice(SORT_SRC)
    tag = "{s}" if src.startswith("{s}") and rng.random() < 0.85 else ""
    val = lambda: rng.choice(SORT_VALS[:10]) if rng.random() < 0.97 else rng.choice(SORT_VALS)  # noqa
    r = rng.random()
    if r < 0.25:
        if "set" in src:
            return Op("SADD", src, *[val() for _ in range(rng.randint(1, 4))])
        if src.endswith("z"):
            return Op("ZADD", src, rng.choice(SCORES[:10]), val())
        return Op(rng.choice(["LPUSH", "RPUSH"]), src, *[val() for _ in range(rng.randint(1, 4))])
    if r < 0.33:
        return Op("SET", f"{rng.choice(['', '{s}'])}w_{val()}", rng.choice(NUMS[:8] + ["x", "2.5"]))
    if r < 0.38:
        return Op("HSET", f"{{s}}h_{val()}", "f", rng.choice(NUMS[:8] + ["y", "0.5"]))
    if r < 0.42:
        if rng.random() < 0.3:
            return Op("DEL", src)
        if "set" in src:
            return Op("SREM", src, val())
        return Op("ZREM", src, val()) if src.endswith("z") else Op("LREM", src, "0", val())
    by = None
    a = [rng.choice(["SORT", "SORT", "SORT_RO"]), src]
    x = rng.random()
    if x < 0.25:
        by = f"{tag}w_*"
    elif x < 0.35:
        by = "{s}h_*->f" if tag else "nosort"
    elif x < 0.45:
        by = "nosort"
    if by:
        a += ["BY", by]
    limit = rng.random() < 0.3
    if limit:
        a += ["LIMIT", rng.choice(["0", "1", "2", "-1"]), rng.choice(["0", "2", "5", "-1"])]
    for _ in range(rng.choice([0, 0, 1, 2])):
        a += ["GET", rng.choice(["#", f"{tag}w_*", "{s}h_*->f", "nokey_*"])]
    if rng.random() < 0.3:
        a.append(rng.choice(["ASC", "DESC"]))
    alpha = rng.random() < 0.35
    if alpha:
        a.append("ALPHA")
    store = a[0] == "SORT" and rng.random() < 0.25
    if store:
        a += ["STORE", "{s}dst" if tag else rng.choice(["{s}dst", "sdst"])]
    if rng.random() < 0.02:
        a.append(rng.choice(["LIMIT", "BY", "STORE", "junk"]))
    # Ties that Redis leaves to its sort algorithm: ALPHA with BY (equal or missing
    # weights) and an unsorted set.
    tie = by is not None and (alpha or by == "nosort")
    if tie and not (by == "nosort" and "set" not in src):
        if store:
            return Op(*a, resync=(a[-1],))
        return Op(*a, check="len" if limit else "unordered")
    return Op(*a)


def gen_mixed(rng, K):
    r = rng.random()
    if r < 0.18:
        return gen_list(rng, K)
    if r < 0.36:
        return gen_hash(rng, K)
    if r < 0.54:
        return gen_set(rng, K)
    if r < 0.75:
        return gen_zset(rng, K, K)
    k, k2 = rng.choice(K), rng.choice(K)
    if r < 0.82:
        return Op("SET", k, pick_val(rng))
    if r < 0.86:
        return Op(rng.choice(["GET", "TYPE", "EXISTS", "STRLEN"]), k)
    if r < 0.90:
        return Op("DEL", *rng.sample(K, rng.randint(1, 2)))
    if r < 0.93:
        return Op(rng.choice(["RENAME", "RENAMENX"]), k, k2)
    if r < 0.96:
        return Op("COPY", k, k2, *(["REPLACE"] if rng.random() < 0.5 else []))
    if r < 0.98:
        return Op("OBJECT", "ENCODING", k, check="enc")
    return Op(rng.choice(["APPEND", "INCR"]), k, *(["x"] if rng.random() < 0.5 else []))


# ------------------------------------------------------------------------------- comparing

SMALL_ENCODINGS = (b"listpack", b"intset", b"ziplist")


def canon(v):
    """A value's order-free canonical form (lists sorted, maps as sorted pairs)."""
    if isinstance(v, list):
        return sorted((canon(x) for x in v), key=repr)
    if isinstance(v, dict):
        return sorted(((canon(k), canon(x)) for k, x in v.items()), key=repr)
    return v


def as_pairs(v):
    """Field-value (member-score) pairs of a flat RESP2 list, a RESP3 list of pairs or a map."""
    if isinstance(v, dict):
        return list(v.items())
    if v and isinstance(v[0], list):
        return [tuple(x) for x in v]
    return list(zip(v[0::2], v[1::2]))


def enc_ok(a, b):
    """corekv's OBJECT ENCODING a against Redis 7.0's b: lists are "quicklist" in 7.0 but
    follow 7.2 in corekv (listpack, then quicklist); small sets of strings are "listpack" in
    7.2, "hashtable" in 7.0. Everything else must be equal."""
    if a == b:
        return True
    if b == b"quicklist":
        return a == b"listpack"
    return b == b"hashtable" and a == b"listpack"


def same_score(x, want):
    return float(want) == x if isinstance(x, float) else x == want


def check_rand(op, a, b, snap):
    """SRANDMEMBER/SPOP/HRANDFIELD/ZRANDMEMBER: a (corekv's, decoded) must be a reply Redis
    could have given: as long as b, made of the key's elements, distinct for a positive
    count, values/scores those of the key. Returns a problem or None."""
    content = snap[1]
    if isinstance(a, Err) or isinstance(b, Err) or b is None or a is None:
        return None if a == b else "different reply"
    if len(op.args) == 2:  # one element (or nil)
        return None if content and a in content else "not an element of the key"
    if not isinstance(a, list) or len(a) != len(b):
        return f"length {len(a) if isinstance(a, list) else '?'} != {len(b)}"
    withv = len(op.args) > 3 and op.args[3].upper() in ("WITHVALUES", "WITHSCORES")
    items = as_pairs(a) if withv else [(x, None) for x in a]
    names = [x for x, _ in items]
    if int(op.args[2]) > 0 and len(set(names)) != len(names):
        return "repeated elements with a positive count"
    for x, v in items:
        if x not in content:
            return f"{x!r} is not an element of the key"
        if withv and not same_score(v, content[x]):
            return f"{x!r}: value {v!r}, the key has {content[x]!r}"
    return None


class Mismatch(Exception):
    pass


class Run:
    """One random run: both servers' connections, the command log and the mismatches."""

    def __init__(self, core_srv, ref_srv, keys, proto, seed, label):
        self.core, self.ref = core_srv.raw(), ref_srv.raw()
        self.oob_core, self.oob_ref = core_srv.raw(), ref_srv.raw()  # RESP2, for checks
        self.keys = list(keys)
        self.keyset = set(keys)
        self.proto, self.seed, self.label = proto, seed, label
        self.shards = core_srv.shards
        self.log = []      # (where, args): where is "both" or "ref" (the reference alone)
        self.mismatches = []
        self.failures = []  # (report lines, failing Op, command history before it)
        self.repros = []
        self.repeats = {}
        self.lex_mixed = False
        self.ops_done = self.skipped = 0
        if proto == 3:
            for c in (self.core, self.ref):
                assert c.cmd("HELLO", "3").startswith(b"%")

    def close(self):
        for c in (self.core, self.ref, self.oob_core, self.oob_ref):
            c.close()

    def both(self, args, log=True):
        data = encode(*args)
        self.core.send(data)
        self.ref.send(data)
        if log:
            self.log.append(("both", args))
        return self.core.read_reply(), self.ref.read_reply()

    def ref_only(self, *args):
        self.log.append(("ref", args))
        return self.oob_ref.call(*args)

    # -- key contents -------------------------------------------------------------------

    @staticmethod
    def snapshot(conn, key):
        t = conn.call("TYPE", key)
        if t == b"list":
            return "list", conn.call("LRANGE", key, "0", "-1")
        if t == b"hash":
            v = conn.call("HGETALL", key)
            return "hash", dict(zip(v[0::2], v[1::2]))
        if t == b"set":
            return "set", {x: None for x in conn.call("SMEMBERS", key)}
        if t == b"zset":
            v = conn.call("ZRANGE", key, "0", "-1", "WITHSCORES")
            return "zset", dict(zip(v[0::2], v[1::2])), v
        if t == b"string":
            return "string", conn.call("GET", key)
        return t.decode(), None

    def rebuild(self, keys):
        """Make keys identical on both servers: the reference's contents, written anew on
        both (so encodings follow from the same commands)."""
        for k in keys:
            snap = self.snapshot(self.oob_ref, k)
            self.both(("DEL", k))
            cmds = []
            if snap[0] == "list":
                cmds = [("RPUSH", k, *snap[1][i:i + 100]) for i in range(0, len(snap[1]), 100)]
            elif snap[0] == "hash":
                items = [x for kv in snap[1].items() for x in kv]
                cmds = [("HSET", k, *items[i:i + 200]) for i in range(0, len(items), 200)]
            elif snap[0] == "set":
                m = list(snap[1])
                cmds = [("SADD", k, *m[i:i + 100]) for i in range(0, len(m), 100)]
            elif snap[0] == "zset":
                flat = [x for i in range(0, len(snap[2]), 2) for x in (snap[2][i + 1], snap[2][i])]
                cmds = [("ZADD", k, *flat[i:i + 200]) for i in range(0, len(flat), 200)]
            elif snap[0] == "string":
                cmds = [("SET", k, snap[1])]
            for c in cmds:
                self.both(c)

    # -- reporting ----------------------------------------------------------------------

    def history(self, keys):
        """The logged commands that (transitively) touched keys, oldest first."""
        want, out = set(keys), []
        for where, args in reversed(self.log):
            ks = [a for a in args if a in self.keyset]
            if want & set(ks):
                want |= set(ks)
                out.append((where, args))
        return out[::-1]

    def record(self, op, a, b, why, keys):
        # One report per (command, problem): the same difference again is only counted.
        sig = (op.args[0].upper(), why, (a[:12], b[:12]) if op.check == "state" else None)
        self.repeats[sig] = self.repeats.get(sig, 0) + 1
        if self.repeats[sig] > 1:
            return self.rebuild(keys)
        hist = self.history(keys)
        shown = hist[-HISTORY_SHOWN:]
        lines = [f"[{self.label} shards={self.shards} seed={self.seed} op #{self.ops_done}] "
                 f"{why}", f"  command: {fmt_args(op.args)}",
                 f"    redis-server: {b[:600]!r}", f"    corekv:       {a[:600]!r}",
                 f"  history of the keys involved ({len(hist)} commands"
                 f"{', last %d shown' % len(shown) if len(shown) < len(hist) else ''}):"]
        lines += [("    " if w == "both" else "    (reference only) ") + fmt_args(c)
                  for w, c in shown]
        cmds = [c for w, c in hist if w == "both"]
        if op.check != "state":
            cmds = cmds[:-1]  # the command itself is the probe
        self.failures.append((lines, op, cmds))
        self.mismatches.append("\n".join(lines))
        self.rebuild(keys)
        if len(self.mismatches) >= MAX_MISMATCHES:
            raise Mismatch()

    # -- one command --------------------------------------------------------------------

    def mixed_scores(self, key):
        snap = self.snapshot(self.oob_ref, key)
        return snap[0] == "zset" and len(set(snap[1].values())) > 1

    def ref_encoding(self, key):
        e = self.oob_ref.call("OBJECT", "ENCODING", key)
        return e if isinstance(e, bytes) else None

    def do(self, op):
        self.ops_done += 1
        a, b, why = self.evaluate(op, log=True)
        if why:
            return self.record(op, a, b, why, [x for x in op.args if x in self.keyset])
        if op.check == "rand" and op.args[0].upper() == "SPOP":
            self.sync_spop(op.args[1], decode(a), decode(b))
        if op.resync and (op.check != "lex" or self.lex_mixed):
            self.rebuild(op.resync)

    def evaluate(self, op, log):
        """Runs op on both servers: (corekv's reply, the reference's, a problem or None)."""
        args = op.args
        if op.check == "state":
            return self.compare_key(args[1])
        if op.check == "scan":
            return self.do_scan(op, log)
        self.lex_mixed = op.check == "lex" and self.mixed_scores(args[1])
        if self.lex_mixed:
            # Lex ranges over different scores: Redis leaves the result unspecified (it
            # depends on its skiplist's random levels): only the reply type is compared.
            a, b = self.both(args, log)
            return a, b, None if a[:1] == b[:1] else "reply types differ"
        enc = self.ref_encoding(args[1]) if op.check in ("auto", "auto_pairs") else None
        snap = self.snapshot(self.oob_ref, args[1]) if op.check == "rand" else None
        a, b = self.both(args, log)
        return a, b, self.compare(op, a, b, enc, snap)

    def compare(self, op, a, b, enc, snap):
        if a == b:
            return None
        if op.check in ("exact", "lex") or a[:1] != b[:1] or b[:1] == b"-":
            return "replies differ"
        da, db = decode(a), decode(b)
        if op.check == "enc":
            return None if enc_ok(da, db) else "encodings differ"
        if op.check == "len":
            return None if len(da) == len(db) else "reply lengths differ"
        if op.check == "rand":
            why = check_rand(op, da, db, snap)
            return why and "random reply impossible: " + why
        if op.check in ("auto", "auto_pairs") and enc in SMALL_ENCODINGS:
            return f"replies differ (the reference's key is {enc.decode()}: order is defined)"
        if op.check == "auto_pairs":
            return None if canon(as_pairs(da)) == canon(as_pairs(db)) else "contents differ"
        return None if canon(da) == canon(db) else "contents differ (compared as multisets)"

    def sync_spop(self, key, a, b):
        """SPOP removed random members: make the reference drop corekv's instead."""
        pa = [] if a is None else (a if isinstance(a, list) else [a])
        pb = [] if b is None else (b if isinstance(b, list) else [b])
        if set(pa) != set(pb):
            if pb:
                self.ref_only("SADD", key, *pb)
            if pa:
                self.ref_only("SREM", key, *pa)

    def do_scan(self, op, log):
        """A small encoding answers in one call (compared exactly); a hashtable is scanned
        to the end on each side and the elements compared as sets."""
        args = op.args
        enc = self.ref_encoding(args[1])
        if enc in SMALL_ENCODINGS or enc is None:
            a, b = self.both(args, log)
            return a, b, None if a == b else "replies differ"
        if log:
            self.log.append(("both", args))
        got = [self.full_scan(c, args) for c in (self.core, self.ref)]
        pairs = args[0].upper() != "SSCAN"
        a, b = [canon(as_pairs(g) if pairs and isinstance(g, list) else g) for g in got]
        return (repr(a).encode(), repr(b).encode(),
                None if a == b else "full SCAN loops found different elements")

    @staticmethod
    def full_scan(conn, args):
        cursor, out = "0", []
        for _ in range(100000):
            rep = decode(conn.cmd(args[0], args[1], cursor, *args[3:]))
            if isinstance(rep, Err):
                return rep
            cursor, items = rep[0].decode(), rep[1]
            out += items
            if cursor == "0":
                break
        return out

    # -- whole state --------------------------------------------------------------------

    def compare_key(self, k):
        sa, sb = self.snapshot(self.oob_core, k), self.snapshot(self.oob_ref, k)
        if sa[:2] != sb[:2] or sa[2:] != sb[2:]:
            return repr(sa).encode(), repr(sb).encode(), "key contents differ"
        if sb[0] in ("hash", "set", "zset", "list"):
            ea, eb = (c.call("OBJECT", "ENCODING", k) for c in (self.oob_core, self.oob_ref))
            if not enc_ok(ea, eb):
                return ea, eb, "encodings differ"
        return b"", b"", None

    def check_state(self):
        for k in self.keys:
            op = Op("# contents of", k, check="state")
            a, b, why = self.evaluate(op, log=False)
            if why:
                self.record(op, a, b, why, [k])

    # -- shrinking a failure to a short reproduction ------------------------------------

    def reproduces(self, cmds, op):
        for c in (self.oob_core, self.oob_ref):
            assert c.cmd("FLUSHALL") == b"+OK\r\n"
        for i in range(0, len(cmds), 200):
            chunk = cmds[i:i + 200]
            data = b"".join(encode(*c) for c in chunk)
            for conn in (self.core, self.ref):
                conn.send(data)
                for _ in chunk:
                    conn.read_reply()
        got = self.evaluate(op, log=False)
        return got if got[2] else None

    def minimize(self, deadline):
        """Delta debugging on each failure's history: the shortest command list found,
        replayed on an empty database, after which the failing check still fails."""
        for lines, op, cmds in self.failures:
            if time.monotonic() > deadline or not self.reproduces(cmds, op):
                continue
            n = 2
            while len(cmds) > 0 and time.monotonic() < deadline:
                size = max(1, -(-len(cmds) // n))
                for i in range(0, len(cmds), size):
                    cand = cmds[:i] + cmds[i + size:]
                    if self.reproduces(cand, op):
                        cmds, n = cand, max(n - 1, 2)
                        break
                else:
                    if size == 1:
                        break
                    n = min(n * 2, len(cmds))
            got = self.reproduces(cmds, op)
            if got:
                a, b, why = got
                path = os.path.join(tempfile.gettempdir(), "corekv-diff-%s-s%d-seed%d-%d.json" % (
                    self.label, self.shards, self.seed, len(self.repros)))
                self.repros.append(path)
                with open(path, "w") as f:
                    json.dump([[x.decode("utf-8", "surrogateescape") if isinstance(x, bytes)
                                else x for x in c] for c in cmds + [op.args]], f)
                lines += [f"  reproduction from an empty database ({len(cmds)} commands, then "
                          f"the check; exact arguments in {path}): {why}"] + \
                    ["    " + fmt_args(c) for c in cmds] + \
                    [f"    {fmt_args(op.args)}", f"      redis-server: {b[:600]!r}",
                     f"      corekv:       {a[:600]!r}"]
        self.mismatches = ["\n".join(lines) for lines, _, _ in self.failures]


def fmt_args(args):
    out = []
    for a in args:
        s = a if isinstance(a, str) else a.decode("utf-8", "replace")
        if len(s) > 40:
            s = f"<{s[0]!r}*{len(s)}>" if s == s[0] * len(s) else f"<{s[:8]!r}... {len(s)} chars>"
        out.append(repr(s) if (not s or any(c in s for c in " \r\n\x00\"'")) else s)
    return " ".join(out)


# ------------------------------------------------------------------------------- the runs

# The commands of each family (the list); the first one decides whether the family
# is there at all. Blocking forms are used when the server knows them, not required.
FAMILIES = {
    "list": ["LPUSH", "RPUSH", "LPUSHX", "RPUSHX", "LPOP", "RPOP", "LLEN", "LINDEX", "LSET",
             "LRANGE", "LTRIM", "LREM", "LINSERT", "LPOS", "LMOVE", "RPOPLPUSH", "LMPOP"],
    "hash": ["HSET", "HSETNX", "HMSET", "HGET", "HMGET", "HDEL", "HLEN", "HSTRLEN", "HEXISTS",
             "HKEYS", "HVALS", "HGETALL", "HINCRBY", "HINCRBYFLOAT", "HRANDFIELD", "HSCAN"],
    "set": ["SADD", "SREM", "SCARD", "SISMEMBER", "SMISMEMBER", "SMEMBERS", "SPOP",
            "SRANDMEMBER", "SMOVE", "SINTER", "SUNION", "SDIFF", "SINTERSTORE", "SUNIONSTORE",
            "SDIFFSTORE", "SINTERCARD", "SSCAN"],
    "zset": ["ZADD", "ZINCRBY", "ZREM", "ZCARD", "ZCOUNT", "ZLEXCOUNT", "ZSCORE", "ZMSCORE",
             "ZRANK", "ZREVRANK", "ZRANGE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZRANGEBYLEX",
             "ZREVRANGEBYLEX", "ZREVRANGE", "ZRANGESTORE", "ZREMRANGEBYRANK", "ZREMRANGEBYSCORE",
             "ZREMRANGEBYLEX", "ZPOPMIN", "ZPOPMAX", "ZMPOP", "ZRANDMEMBER", "ZSCAN", "ZUNION",
             "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZINTERCARD"],
    "sort": ["SORT", "SORT_RO"],
}


def known_commands(srv, names):
    with srv.raw() as c:
        info = c.call("COMMAND", "INFO", *names)
    return {n for n, i in zip(names, info) if i is not None}


def family_keys(prefix):
    """Plain keys on 4 different shards at 4 shards, and hash-tagged keys in one slot."""
    return spread_keys(4, prefix + ":") + [f"{{{prefix}}}a", f"{{{prefix}}}b"]


# Encoding limits: a redis-server started without a config file has its compiled-in
# defaults (hash-max-listpack-entries 512), corekv redis.conf's (128). The reference is set
# to corekv's values for the run, and restored after.
LIMITS = ["hash-max-listpack-entries", "hash-max-listpack-value", "zset-max-listpack-entries",
          "zset-max-listpack-value", "set-max-intset-entries", "list-max-listpack-size"]


def align_limits(core, ref):
    """Returns the reference's settings to restore."""
    saved = {}
    with core.raw() as c, ref.raw() as r:
        for name in LIMITS:
            mine, theirs = c.call("CONFIG", "GET", name), r.call("CONFIG", "GET", name)
            if len(mine) == 2 and len(theirs) == 2 and mine[1] != theirs[1]:
                saved[name] = theirs[1]
                assert r.cmd("CONFIG", "SET", name, mine[1]) == b"+OK\r\n"
    return saved


def restore_limits(ref, saved):
    with ref.raw() as r:
        for name, v in saved.items():
            r.cmd("CONFIG", "SET", name, v)


def seed_for(label):
    if SEED_ENV == "random":
        return random.SystemRandom().randrange(1 << 32)
    if SEED_ENV:
        return int(SEED_ENV)
    return sum(ord(c) * 131 ** i for i, c in enumerate(label)) % 1000003


ALL = ["list", "hash", "set", "zset"]
RUNS = {  # label: (generator, keys, families needed, families used, protocol)
    "list": (gen_list, family_keys("L"), ["list"], ["list"], 2),
    "hash": (gen_hash, family_keys("H"), ["hash"], ["hash"], 2),
    "set": (gen_set, family_keys("S"), ["set"], ["set"], 2),
    "zset": (gen_zset, family_keys("Z"), ["zset"], ["zset"], 2),
    "sort": (gen_sort, SORT_SRC + SORT_AUX, ["sort"], ["sort"] + ALL, 2),
    # The mixed runs use whichever families are there (at least two).
    "mixed-resp2": (gen_mixed, family_keys("K"), [], ALL, 2),
    "mixed-resp3": (gen_mixed, family_keys("K"), [], ALL, 3),
}


@pytest.mark.parametrize("label", list(RUNS))
def test_random_differential(server, redis_ref, label):
    gen, keys, fams, used, proto = RUNS[label]
    names = sorted({n for f in used for n in FAMILIES[f]} | {
        "BLPOP", "BRPOP", "BLMOVE", "BLMPOP", "BRPOPLPUSH", "COPY", "RENAME", "RENAMENX",
        "SET", "GET", "DEL", "TYPE", "EXISTS", "OBJECT", "APPEND", "INCR", "STRLEN", "HELLO"})
    known = known_commands(server, names)
    missing_family = [f for f in fams if FAMILIES[f][0] not in known]
    if missing_family:
        pytest.skip(f"corekv does not know {', '.join(FAMILIES[f][0] for f in missing_family)} "
                    f"yet: the {'/'.join(missing_family)} commands are not there")
    if sum(FAMILIES[f][0] in known for f in used) < 2 and not fams:
        pytest.skip("fewer than two collection types are there yet")
    seed = seed_for(label)
    rng = random.Random(seed)
    saved = align_limits(server, redis_ref)
    try:
        _random_run(server, redis_ref, label, gen, keys, proto, seed, rng, known)
    finally:
        restore_limits(redis_ref, saved)


def _random_run(server, redis_ref, label, gen, keys, proto, seed, rng, known):
    run = Run(server, redis_ref, keys, proto, seed, label)
    skipped = {}
    try:
        for i in range(NOPS):
            op = gen(rng, keys)
            name = op.args[0].upper()
            if name not in known:
                skipped[name] = skipped.get(name, 0) + 1
                continue
            run.do(op)
            if i % CHECK_EVERY == CHECK_EVERY - 1:
                run.check_state()
        run.check_state()
    except Mismatch:
        pass
    except Exception as e:  # a crash, a hang, a protocol error: show where
        hist = run.history([k for k in run.log[-1][1] if k in run.keyset]) if run.log else []
        pytest.fail(f"[{label} shards={server.shards} seed={seed}] {type(e).__name__}: {e}\n"
                    f"  last command: {fmt_args(run.log[-1][1]) if run.log else '-'}\n"
                    "  history:\n" + "\n".join("    " + fmt_args(c) for _, c in hist[-60:]),
                    pytrace=False)
    again = sum(n - 1 for n in run.repeats.values())
    print(f"{label} shards={server.shards} seed={seed}: {run.ops_done} commands, "
          f"{len(run.mismatches)} mismatches (+{again} repeated); "
          f"not known, not sent: {skipped or 'none'}")
    if run.failures:
        run.minimize(time.monotonic() + MINIMIZE_SECONDS)
    run.close()
    if run.mismatches:
        pytest.fail(f"{len(run.mismatches)} distinct mismatch(es) ({again} more of the same "
                    f"kind not shown) in {run.ops_done} commands "
                    f"(rerun with COREKV_DIFF_SEED={seed}; commands corekv does not know, "
                    f"not sent: {sorted(skipped) or 'none'}):\n\n" + "\n\n".join(run.mismatches),
                    pytrace=False)


@pytest.mark.parametrize("family", [f for f in FAMILIES])
def test_family_complete(server, family):
    """Once a family is there, every command of it must be: the random runs skip the
    commands the server does not know, this says which."""
    if server.shards != SHARDS[0]:
        pytest.skip("shard-independent check")
    known = known_commands(server, FAMILIES[family])
    if FAMILIES[family][0] not in known:
        pytest.skip(f"{FAMILIES[family][0]} not known yet")
    missing = [n for n in FAMILIES[family] if n not in known]
    assert not missing, f"{family}: corekv does not know {missing}"
