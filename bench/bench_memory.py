"""bench/run.py's memory scenarios: data loaded pipelined into fresh servers, one at a
time, and the growth of RSS (VmRSS) and of INFO used_memory over the load, per element
or per key.

  memory       a hash of --mem-elements small fields, then a sorted set of as many
               members (one fresh server of each kind for both)
  memory-keys  --mem-keys string keys (key:%012d) with 16-byte values (val:%012d, not
               an integer, so neither server stores it as one); issue 7's goal is on its
               RSS growth
"""

import sys
import time

from bench_goals import evaluate, goal_text, scenario_goals
from bench_servers import Resp, Server, info_field, log, proc_rss

KEY_VALUE_BYTES = 16


def _hset(lo, hi):
    args = [b"HSET", b"memhash"]
    for i in range(lo, hi):
        args += [b"f:%07d" % i, b"v%07d" % i]
    return Resp.encode(*args)


def _zadd(lo, hi):
    args = [b"ZADD", b"memzset"]
    for i in range(lo, hi):
        args += [b"%d" % i, b"member:%07d" % i]
    return Resp.encode(*args)


def _sets(lo, hi):
    # SET key:%012d val:%012d, both 16 bytes, encoded by hand: the load is 1M-10M of them.
    return b"".join(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$16\r\nval:%012d\r\n" % (i, i)
                    for i in range(lo, hi))


# per type: (encode the elements [lo, hi) as commands, elements per command, commands per
# write, the command giving the count, unit)
LOADS = {
    "hash": (_hset, 1000, 20, ["HLEN", "memhash"], "element"),
    "zset": (_zadd, 1000, 20, ["ZCARD", "memzset"], "element"),
    "keys": (_sets, 1, 10000, ["DBSIZE"], "key"),
}
SCENARIOS = {"memory": ["hash", "zset"], "memory-keys": ["keys"]}


def load(server, typ, n):
    """n elements of typ into the server; False if it does not know the command."""
    encode, per, batch, _card, _unit = LOADS[typ]
    with Resp(server.port, timeout=120.0) as c:
        for start in range(0, n, per * batch):
            los = range(start, min(start + per * batch, n), per)
            c.sock.sendall(b"".join(encode(lo, min(lo + per, n)) for lo in los))
            for _ in los:
                r = c.reply()
                if isinstance(r, RuntimeError):
                    if "unknown command" in str(r):
                        return False
                    raise RuntimeError("%s: %s load replied %s" % (server.name, typ, r))
        got = c.call(*LOADS[typ][3])
    if got != n:
        raise RuntimeError("%s: %s is %r after loading %d" % (
            server.name, " ".join(LOADS[typ][3]), got, n))
    return True


def warm(server, writes=3, per=10000):
    """Pipelined traffic shaped like a load's (one key overwritten, then deleted), so
    that what the server allocates for I/O at its first load (input buffers, a
    reactor's buffer ring) is resident before the baseline and not counted per key."""
    cmd = b"*3\r\n$3\r\nSET\r\n$7\r\nmemwarm\r\n$16\r\n%s\r\n" % (b"w" * 16)
    with Resp(server.port, timeout=60.0) as c:
        for _ in range(writes):
            c.sock.sendall(cmd * per)
            for _ in range(per):
                c.reply()
        c.call("DEL", "memwarm")


def measure(server, types, n):
    """Loads each type in turn into the started server; per type its growth."""
    res = {}
    warm(server)
    before = (proc_rss(server.proc.pid), info_field(server.port, "memory", "used_memory"))
    for typ in types:
        t0 = time.monotonic()
        if not load(server, typ, n):
            log("%s: no %s type yet: skipped" % (server.name, typ))
            res[typ] = None
            continue
        after = (proc_rss(server.proc.pid), info_field(server.port, "memory", "used_memory"))
        res[typ] = {
            "rss_per_element": (after[0] - before[0]) / n,
            "used_memory_per_element": (after[1] - before[1]) / n
            if None not in (before[1], after[1]) else None,
            "rss_after": after[0], "used_memory_after": after[1],
            "load_s": time.monotonic() - t0}
        log("%s: %s of %d loaded in %.1f s: RSS +%.1f MB" % (
            server.name, typ, n, res[typ]["load_s"], (after[0] - before[0]) / 1e6))
        before = after
    return res


def memory_bench(args, workdir, started, scenario, n, io_modes):
    """Runs a memory scenario: a fresh corekv (one shard) per reactor of io_modes (None:
    corekv's default) and a fresh redis-server, one server at a time (each appended to
    started, so that a cleanup stops it); returns a row per type and reactor."""
    types = SCENARIOS[scenario]
    corekvs = [Server("corekv", args.corekv_bin, args.server_args, workdir, io=io,
                      name="corekv-%s%s" % (scenario, "@" + io if io else ""))
               for io in io_modes]
    redis = Server("redis", args.redis_bin, [], workdir, name="redis-" + scenario)
    res = {}
    for s in corekvs + [redis]:
        started.append(s)
        s.start()
        res[s.name] = measure(s, types, n)
        s.stop()
    rows = []
    for ck in corekvs:
        for typ in types:
            a, b = res[ck.name][typ], res[redis.name][typ]
            if a is None or b is None:
                continue
            suffix = " [%s]" % ck.io if ck.io else ""
            if ck.io == "auto" and ck.reactor:
                suffix = " [auto: %s]" % ck.reactor
            row = {"scenario": scenario, "label": "%s %s%s" % (scenario, typ, suffix),
                   "type": typ, "unit": LOADS[typ][4], "elements": n, "io": ck.io,
                   "reactor": ck.reactor, "corekv": a, "redis": b,
                   "rss_ratio": a["rss_per_element"] / b["rss_per_element"]}
            if a["used_memory_per_element"] and b["used_memory_per_element"]:
                row["used_memory_ratio"] = (a["used_memory_per_element"]
                                            / b["used_memory_per_element"])
            goals = scenario_goals("memory-keys", 0) if typ == "keys" else []
            row["goal_results"] = evaluate(goals, row)
            rows.append(row)
    return rows


def print_memory(rows, out=sys.stdout):
    if not rows:
        print("memory: no type could be loaded into both servers", file=out)
        return
    print("memory: each type loaded pipelined into a fresh server (corekv one shard); "
          "growth of RSS (VmRSS) and of INFO used_memory over the load, bytes per element "
          "or key; hash: f:%07d -> v%07d fields, zset: member:%07d with integer scores, "
          "keys: SET key:%012d val:%012d (16-byte values)", file=out)
    width = max([6] + [len(r["label"]) for r in rows])
    hdr = "%-*s %10s %13s %14s %8s %14s %15s %8s  %s" % (
        width, "type", "n", "redis RSS B", "corekv RSS B", "ratio", "redis used B",
        "corekv used B", "ratio", "goal")
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for r in rows:
        a, b = r["corekv"], r["redis"]
        um = lambda x: "-" if x is None else "%.1f" % x  # noqa: E731
        print("%-*s %10d %13.1f %14.1f %8.3f %14s %15s %8s  %s" % (
            width, r["label"], r["elements"], b["rss_per_element"], a["rss_per_element"],
            r["rss_ratio"], um(b["used_memory_per_element"]), um(a["used_memory_per_element"]),
            "%.3f" % r["used_memory_ratio"] if "used_memory_ratio" in r else "-",
            goal_text(r["goal_results"])), file=out)
