"""bench/run.py's scenarios: what each one sends, with which tool, to which corekv, and
the goals it is held to (bench_goals). See bench/README.md for the list.

A scenario is a dict: name (unique; "@<reactor>" appended with --io-modes), base_name
(without it), label, tool ("redis-benchmark", "loadgen", "fanout", "memory"), test,
pipeline, pair (which corekv/redis-server pair: "one", "two", "cross", "aof-<mode>"),
corekv (the pair's key: pair plus "@<reactor>"), io (the reactor or None), group, goals,
and what its tool needs (script, command, setup, key_lists, base ...)."""

import binascii
import os
import sys

from bench_goals import scenario_goals

# loadgen's multi5 and mset10: -P is in scripts (transactions, MSETs) per batch.
LOADGEN_PIPELINE = 4
MSET_KEYS = 10

# Issue 7's single commands through the fast load generator (bench/loadgen), every
# reply checked: GET and SET on the preloaded keys, INCR on counter:*, HSET and SADD on
# redis-benchmark's myhash and myset (element:*, as its HSET and SADD tests).
LG_TESTS = "get,set,incr,hset,sadd"
LG_SCRIPTS = {
    "get": "GET key:__rand__ => $",
    "set": "SET key:__rand__ {v} => +OK",
    "incr": "INCR counter:__rand__ => :",
    "hset": "HSET myhash element:__rand__ {v} => :",
    "sadd": "SADD myset element:__rand__ => :",
}
LG_DURATION_SCALE = 1 / 3
# Two shards, keys spread over both and connections on either: these lg tests at -P16,
# each beside its one-shard run of the same round.
SHARD_TESTS = "get,set"
SHARD_PIPELINE = 16

# Append-only log scenarios: SET with the log on, per --appendfsync mode.
AOF_MODES = "always,everysec"

# Pub/sub fan-out (bench/fanout.c).
FANOUT_CHANNEL = "fanout:bench"
FANOUT_WINDOWS = "32,256,1024"

# Collection scenarios: redis-benchmark's own tests (one key each: mylist, myset,
# myhash, myzset; members drawn from -r), run at every -P, for a third of
# --duration each (they are many). Every run starts from a state set up outside
# the measured window, the same on both servers: LPUSH from an empty list, LPOP
# from a list holding at least n elements (never popping an empty one),
# LRANGE_100 on a list of 600 elements of -d bytes (redis-benchmark fills it with
# its LPUSH phase, which we do not time: we send "LRANGE mylist 0 99" as a
# command of its own). SADD/HSET/ZADD accumulate up to -r members over the runs,
# alike on both servers.
COLLECTION_TESTS = "lpush,lpop,sadd,hset,zadd,lrange_100"
COLLECTION_DURATION_SCALE = 1 / 3
COLLECTION_SETUP = {"lpush": ("mylist", 0), "lpop": ("mylist", None),
                    "lrange_100": ("mylist", 600)}
COLLECTION_COMMAND = {"lrange_100": ["LRANGE", "mylist", "0", "99"]}

IO_MODES = ("auto", "epoll", "uring")


def multi5_script(datasize):
    """One shard: MULTI, SET, INCR, GET, SET, INCR, EXEC, every reply checked.
    GET and SET use the preloaded keys; INCR its own counter:* keys."""
    v = "x" * datasize
    return ["MULTI => +OK",
            "SET key:__rand__ %s => +QUEUED" % v,
            "INCR counter:__rand__ => +QUEUED",
            "GET key:__rand__ => +QUEUED",
            "SET key:__rand__ %s => +QUEUED" % v,
            "INCR counter:__rand__ => +QUEUED",
            "EXEC => *[+OK : $ +OK :]"]


def mset10_script(datasize, nlists):
    """MSET of MSET_KEYS preloaded keys, the i-th drawn from key list i % nlists
    (list j: the keys corekv's shard j owns), so every MSET spans every shard."""
    v = "x" * datasize
    pairs = " ".join("__key%d__ %s" % (i % nlists, v) for i in range(MSET_KEYS))
    return ["MSET %s => +OK" % pairs]


def lg_script(test, datasize):
    return [LG_SCRIPTS[test].format(v="x" * datasize)]


def key_shard(key, nshards):
    """corekv's shard of a key: CRC16 (XMODEM) slot of the key, scaled to the
    shard count (src/base/slot.c, rt_key_shard). No hash tags in our keys."""
    slot = binascii.crc_hqx(key, 0) & 16383
    return (slot * nshards) >> 14


def write_shard_key_lists(workdir, keyspace, nshards):
    """key:%012d of the preloaded key space split by corekv shard, one file each."""
    lists = [[] for _ in range(nshards)]
    for k in range(keyspace):
        key = b"key:%012d" % k
        lists[key_shard(key, nshards)].append(key)
    paths = []
    for j, keys in enumerate(lists):
        if not keys:
            raise RuntimeError("no key of -r %d falls on shard %d of %d" % (keyspace, j, nshards))
        path = os.path.join(workdir, "keys-shard%d.txt" % j)
        with open(path, "wb") as f:
            f.write(b"\n".join(keys) + b"\n")
        paths.append(path)
    return paths


def _scenario(name, label, tool, test, pipeline, pair, kind=None, shards=1, **more):
    sc = {"name": name, "base_name": name, "label": label, "tool": tool, "test": test,
          "pipeline": pipeline, "pair": pair, "corekv": pair, "io": None,
          "group": more.pop("group", test),
          "goals": scenario_goals(kind, pipeline, shards) if kind else []}
    sc.update(more)
    return sc


def lg_scenario(test, p, args):
    return _scenario("lg-%s-P%d" % (test, p), "lg %s -P%d" % (test.upper(), p), "loadgen",
                     "lg-" + test, p, "one", "lg", group="lg",
                     script=lg_script(test, args.datasize), key_lists=False,
                     duration_scale=LG_DURATION_SCALE)


def full_plan(args):
    """Every scenario this run can do, in order, before --only and --io-modes."""
    plan = [_scenario("%s-P%d" % (t, p), "%s -P%d" % (t.upper(), p), "redis-benchmark",
                      t, p, "one", "redis-benchmark")
            for t in args.tests for p in args.pipelines]
    lg = [(t, p) for t in args.lg_tests for p in args.pipelines]
    lg += [(t, SHARD_PIPELINE) for t in args.shard_tests if (t, SHARD_PIPELINE) not in lg]
    plan += [lg_scenario(t, p, args) for t, p in lg]
    plan += [_scenario("%s-P%d" % (t, p), "%s -P%d" % (t.upper(), p), "redis-benchmark",
                       t, p, "one", duration_scale=COLLECTION_DURATION_SCALE,
                       setup=COLLECTION_SETUP.get(t), command=COLLECTION_COMMAND.get(t))
             for t in args.collections for p in args.pipelines]
    plan.append(_scenario("multi5", "multi5 -P%d" % LOADGEN_PIPELINE, "loadgen", "multi5",
                          LOADGEN_PIPELINE, "one", script=multi5_script(args.datasize),
                          key_lists=False))
    plan.append(_scenario("mset10", "mset10 -P%d" % LOADGEN_PIPELINE, "loadgen", "mset10",
                          LOADGEN_PIPELINE, "cross",
                          script=mset10_script(args.datasize, args.cross_shards),
                          key_lists=True))
    for t in args.shard_tests:
        base = lg_scenario(t, SHARD_PIPELINE, args)
        plan.append(dict(base, name="shard2-%s-P%d" % (t, SHARD_PIPELINE),
                         base_name="shard2-%s-P%d" % (t, SHARD_PIPELINE),
                         label="shard2 %s -P%d" % (t.upper(), SHARD_PIPELINE),
                         test="shard2-" + t, group="shard2", pair="two", corekv="two",
                         goals=scenario_goals("shard2", SHARD_PIPELINE),
                         base=base["name"], client_ids=True))
    plan += [_scenario("set-aof-%s-P%d" % (m, p), "SET aof-%s -P%d" % (m, p),
                       "redis-benchmark", "set-aof-" + m, p, "aof-" + m,
                       bench_test="set", aof_mode=m)
             for m in args.aof_modes for p in args.pipelines]
    if args.subscribers > 0:
        plan += [_scenario("fanout-P%d-s%d" % (w, shards), "fanout-P%d s%d" % (w, shards),
                           "fanout", "fanout", w, key, "fanout", shards=shards)
                 for w in args.fanout_windows
                 for key, shards in (("one", 1), ("cross", args.cross_shards))]
    if args.mem_elements > 0:
        plan.append(_scenario("memory", "memory", "memory", "memory", 0, "mem",
                              mem_n=args.mem_elements))
    if args.mem_keys > 0:
        plan.append(_scenario("memory-keys", "memory-keys", "memory", "memory-keys", 0,
                              "mem", group="memory", mem_n=args.mem_keys))
    return plan


def scenario_plan(args):
    """The scenarios of this run: --only's choice (by name, test or group; a two-shard
    scenario brings its one-shard base along), each once per --io-modes reactor."""
    plan = full_plan(args)
    if args.only:
        def names(sc):
            return (sc["name"].lower(), sc["test"].lower(), sc["group"].lower())

        picked = [sc for sc in plan if any(o in names(sc) for o in args.only)]
        unknown = [o for o in args.only if not any(o in names(sc) for sc in plan)]
        if unknown or not picked:
            sys.exit("error: --only %s: no such scenario; there are %s" % (
                ",".join(unknown or args.only), ", ".join(sc["name"] for sc in plan)))
        wanted = {sc["name"] for sc in picked} | {sc["base"] for sc in picked if "base" in sc}
        plan = [sc for sc in plan if sc["name"] in wanted]
    out = []
    for sc in plan:
        if sc["tool"] == "memory" or args.io_modes == [None]:
            out.append(dict(sc))
            continue
        for io in args.io_modes:
            v = dict(sc, name="%s@%s" % (sc["name"], io), label="%s [%s]" % (sc["label"], io),
                     corekv="%s@%s" % (sc["pair"], io), io=io)
            if "base" in sc:
                v["base"] = "%s@%s" % (sc["base"], io)
            out.append(v)
    return out
