"""Big collections keep their complexity: a list and a sorted set of 1,000,000 elements (built
with pipelining), on which the O(1) / O(log n) operations must cost about what they cost on a
1,000-element key. Times are only ever compared with each other (big key against small key,
same commands, same connection, best of several interleaved rounds), never with absolute
thresholds. Also checks that windows in the middle (LRANGE, ZRANGE, ZRANGEBYSCORE LIMIT) and
LINSERT near the head return the right elements.

Under the ASan build (COREKV_BIN containing "asan", COREKV_ASAN=1, or a binary linked with
AddressSanitizer) the big keys have 200,000 elements; COREKV_BIG_SIZE sets the size.
Runs at one shard (COREKV_BIG_SHARDS to change)."""
import os
import random
import time

import pytest

from helpers import decode, encode

SMALL = 1000
MAX_RATIO = 10.0   # per-op time on the big key over the same on the small key
OPS = 2000         # commands per timed batch
ROUNDS = 5         # interleaved rounds; the best time of each key is kept


def _asan(path):
    if "asan" in path.lower() or os.environ.get("COREKV_ASAN") == "1":
        return True
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


_BIN = os.environ.get("COREKV_BIN", os.path.join(os.path.dirname(__file__), "..", "..",
                                                  "build", "corekv"))
BIG = int(os.environ.get("COREKV_BIG_SIZE", "200000" if _asan(_BIN) else "1000000"))
SHARDS = [int(x) for x in os.environ.get("COREKV_BIG_SHARDS", "1").split(",") if x.strip()]

pytestmark = [pytest.mark.slow,
              pytest.mark.parametrize("server_mod", SHARDS, indirect=True,
                                      ids=lambda n: f"shards{n}")]


def pipeline(conn, cmds, chunk=500):
    """Send cmds in chunks, read every reply; returns the decoded replies."""
    out = []
    for i in range(0, len(cmds), chunk):
        part = cmds[i:i + chunk]
        conn.send(b"".join(encode(*c) for c in part))
        out += [conn.read_reply() for _ in part]
    return [decode(r) for r in out]


def timed(conn, cmds):
    t0 = time.perf_counter()
    conn.send(b"".join(encode(*c) for c in cmds))
    replies = [conn.read_reply() for _ in cmds]
    dt = time.perf_counter() - t0
    bad = [r for r in replies if r.startswith(b"-")]
    assert not bad, f"{cmds[0]}: error reply {bad[0]!r}"
    return dt


def compare_cost(conn, name, make, big_key, small_key, big_n, small_n):
    """make(key, n, rng) -> commands; asserts the per-op time ratio big/small."""
    best = {big_key: float("inf"), small_key: float("inf")}
    for rnd in range(ROUNDS):
        for key, n in ((small_key, small_n), (big_key, big_n)):
            cmds = make(key, n, random.Random(rnd))
            best[key] = min(best[key], timed(conn, cmds) / len(cmds))
    ratio = best[big_key] / best[small_key]
    print(f"{name}: {best[small_key] * 1e6:.2f} us/op on {small_n:,} elements, "
          f"{best[big_key] * 1e6:.2f} us/op on {big_n:,}: ratio {ratio:.2f}")
    assert ratio < MAX_RATIO, (
        f"{name}: {best[big_key] * 1e6:.1f} us/op on a {big_n:,}-element key vs "
        f"{best[small_key] * 1e6:.1f} us/op on {small_n:,}: {ratio:.1f}x (limit {MAX_RATIO}x)")
    return ratio


# ------------------------------------------------------------------------------------ lists

def build_list(conn, key, n):
    cmds = [("RPUSH", key, *range(i, min(i + 1000, n))) for i in range(0, n, 1000)]
    assert pipeline(conn, cmds)[-1] == n


def test_big_list(server):
    conn = server.raw(timeout=120)
    big, small = "biglist", "smalllist"
    build_list(conn, big, BIG)
    build_list(conn, small, SMALL)
    assert conn.call("LLEN", big) == BIG

    def push_pop(key, n, rng):  # the length stays n
        return [c for i in range(OPS // 2) for c in (("LPUSH", key, f"x{i}"), ("RPOP", key))]

    compare_cost(conn, "LPUSH+RPOP", push_pop, big, small, BIG, SMALL)
    # The pairs above rotated the lists: rebuild for the content checks below.
    conn.call("DEL", big, small)
    build_list(conn, big, BIG)
    build_list(conn, small, SMALL)
    compare_cost(conn, "LINDEX 0 / -1",
                 lambda k, n, rng: [("LINDEX", k, rng.choice(["0", "-1", "1", "-2"]))
                                    for _ in range(OPS)], big, small, BIG, SMALL)
    compare_cost(conn, "LSET 0 / -1",
                 lambda k, n, rng: [("LSET", k, rng.choice(["0", "-1"]), "v")
                                    for _ in range(OPS)], big, small, BIG, SMALL)
    conn.call("LSET", big, "0", "0")
    conn.call("LSET", big, "-1", str(BIG - 1))

    # Windows in the middle, LINSERT near the head: right answers.
    mid = BIG // 2
    assert conn.call("LINDEX", big, str(mid)) == str(mid).encode()
    assert conn.call("LRANGE", big, str(mid), str(mid + 9)) == \
        [str(i).encode() for i in range(mid, mid + 10)]
    assert conn.call("LRANGE", big, str(-mid - 5), str(-mid + 4)) == \
        [str(i).encode() for i in range(BIG - mid - 5, BIG - mid + 5)]
    assert conn.call("LINSERT", big, "BEFORE", "5", "ins") == BIG + 1
    assert conn.call("LRANGE", big, "3", "7") == [b"3", b"4", b"ins", b"5", b"6"]
    assert conn.call("LREM", big, "1", "ins") == 1
    assert conn.call("LPOS", big, "10") == 10
    # LINSERT near the head costs the same whatever the length.
    compare_cost(conn, "LINSERT near the head + LREM 1",
                 lambda k, n, rng: [c for i in range(OPS // 2)
                                    for c in (("LINSERT", k, "AFTER", "3", "p"),
                                              ("LREM", k, "1", "p"))], big, small, BIG, SMALL)
    assert conn.call("LLEN", big) == BIG
    assert conn.call("LRANGE", big, "-3", "-1") == [str(i).encode() for i in range(BIG - 3, BIG)]
    conn.close()


# ----------------------------------------------------------------------------- sorted sets

def build_zset(conn, key, n):
    cmds = []
    for i in range(0, n, 1000):
        args = ["ZADD", key]
        for j in range(i, min(i + 1000, n)):
            args += [str(j), f"m{j}"]
        cmds.append(args)
    pipeline(conn, cmds)
    assert conn.call("ZCARD", key) == n


def test_big_zset(server):
    conn = server.raw(timeout=120)
    big, small = "bigzset", "smallzset"
    build_zset(conn, big, BIG)
    build_zset(conn, small, SMALL)
    assert conn.call("OBJECT", "ENCODING", big) == b"skiplist"

    compare_cost(conn, "ZSCORE", lambda k, n, rng: [("ZSCORE", k, f"m{rng.randrange(n)}")
                                                    for _ in range(OPS)], big, small, BIG, SMALL)
    compare_cost(conn, "ZRANK", lambda k, n, rng: [("ZRANK", k, f"m{rng.randrange(n)}")
                                                   for _ in range(OPS)], big, small, BIG, SMALL)

    def add_rem(key, n, rng):  # new members at random scores, removed again
        return [c for i in range(OPS // 2)
                for c in (("ZADD", key, str(rng.uniform(0, n)), f"new{i}"), ("ZREM", key, f"new{i}"))]

    compare_cost(conn, "ZADD+ZREM", add_rem, big, small, BIG, SMALL)
    compare_cost(conn, "ZADD update", lambda k, n, rng: [
        ("ZADD", k, str(j), f"m{j}") for j in (rng.randrange(n) for _ in range(OPS))],
        big, small, BIG, SMALL)
    compare_cost(conn, "ZRANGE window at a random rank", lambda k, n, rng: [
        ("ZRANGE", k, str(j), str(j + 4)) for j in (rng.randrange(n - 5) for _ in range(OPS))],
        big, small, BIG, SMALL)
    compare_cost(conn, "ZRANGEBYSCORE LIMIT 0 5", lambda k, n, rng: [
        ("ZRANGEBYSCORE", k, str(j), "+inf", "LIMIT", "0", "5")
        for j in (rng.randrange(n) for _ in range(OPS))], big, small, BIG, SMALL)

    assert conn.call("ZCARD", big) == BIG
    mid = BIG // 2
    assert conn.call("ZRANK", big, f"m{mid}") == mid
    assert conn.call("ZREVRANK", big, f"m{mid}") == BIG - 1 - mid
    assert conn.call("ZSCORE", big, f"m{mid}") == str(mid).encode()
    assert conn.call("ZRANGE", big, str(mid), str(mid + 4), "WITHSCORES") == \
        [x for i in range(mid, mid + 5) for x in (f"m{i}".encode(), str(i).encode())]
    assert conn.call("ZRANGEBYSCORE", big, f"({mid}", "+inf", "LIMIT", "0", "3") == \
        [f"m{i}".encode() for i in range(mid + 1, mid + 4)]
    assert conn.call("ZREVRANGEBYSCORE", big, str(mid), "-inf", "LIMIT", "1", "2") == \
        [f"m{mid - 1}".encode(), f"m{mid - 2}".encode()]
    assert conn.call("ZCOUNT", big, str(mid), f"({mid + 100}") == 100
    assert conn.call("ZRANGE", big, f"{mid}", "+inf", "BYSCORE", "LIMIT", "10", "2") == \
        [f"m{mid + 10}".encode(), f"m{mid + 11}".encode()]
    assert conn.call("ZREM", big, f"m{mid}") == 1
    assert conn.call("ZRANK", big, f"m{mid + 1}") == mid
    assert conn.call("ZPOPMIN", big) == [b"m0", b"0"]
    assert conn.call("ZPOPMAX", big) == [f"m{BIG - 1}".encode(), str(BIG - 1).encode()]
    assert conn.call("ZCARD", big) == BIG - 3
    conn.close()
