"""Keyspace notifications (`notify-keyspace-events`), differential against redis-server.

Each case sets the same flags on corekv and on redis-server, subscribes with PSUBSCRIBE
__key*__:* (on corekv: one subscriber per shard, up to four, so most sit on a shard other
than the writer's and other than the keys' owners), runs the same commands on both and
compares the events every subscriber received with the events redis-server published.

How the end of a run is known without sleeping: after the script the flags are switched to
"KE$" and one barrier key per shard is SET. Events from one shard reach a subscriber in the
order that shard published them, so once a subscriber has the barrier events of every shard
it has every event of the script. Barrier events are then dropped.

Comparison: with one shard the whole sequence must equal redis-server's. With several shards
the events of different keys come from different shards and may interleave differently, so
the events are compared per key (the keyspace and keyevent messages that name the key, in
order), which is exactly what Redis's ordering promises for each key.

Placeholders "@0".."@9" in scripts stand for keys spread over the shards (@0 on shard 0, @1
on shard 1, ...), so two-key commands (LMOVE, SMOVE, RENAME, COPY, *STORE) cross shards.
"""
import time

import pytest

import helpers
from helpers import (Err, conn_on_shard, decode, keys_per_shard, real_shards,
                     spread_keys)

PATTERN = "__key*__:*"
RANDOM_REPLIES = ("SPOP",)
DEADLINE = 10.0




class Subscriber:
    def __init__(self, server, shard, proto=2):
        self.conn = conn_on_shard(server, shard)
        if proto == 3:
            assert self.conn.cmd("HELLO", "3").startswith(b"%")
        self.conn.send(helpers.encode("PSUBSCRIBE", PATTERN))
        rep = decode(self.conn.read_reply())
        assert rep[0] == b"psubscribe" and rep[2] == 1, rep
        self.events = []

    def read_event(self, timeout):
        """The next (channel, message) as str, or None after timeout seconds."""
        self.conn.settimeout(timeout)
        try:
            rep = decode(self.conn.read_reply())
        except OSError:  # socket.timeout
            return None
        finally:
            self.conn.settimeout(helpers.SOCK_TIMEOUT)
        assert isinstance(rep, list) and rep[0] == b"pmessage" and rep[1] == PATTERN.encode(), rep
        return rep[2].decode(errors="replace"), rep[3].decode(errors="replace")

    def collect_until(self, done, what):
        deadline = time.monotonic() + DEADLINE
        while not done(self.events):
            left = deadline - time.monotonic()
            ev = self.read_event(left) if left > 0 else None
            if ev is None:
                raise AssertionError(f"timed out waiting for {what}; got so far: {self.events}")
            self.events.append(ev)

    def close(self):
        self.conn.close()


def keyed(events):
    """Per key, in order: ("K", event) for __keyspace@0__:<key>, ("E", event) for
    __keyevent@0__:<event> with the key as message."""
    out = {}
    for ch, msg in events:
        if ch.startswith("__keyspace@0__:"):
            out.setdefault(ch[15:], []).append(("K", msg))
        elif ch.startswith("__keyevent@0__:"):
            out.setdefault(msg, []).append(("E", ch[15:]))
        else:
            out.setdefault("?" + ch, []).append(("?", msg))
    return out


def bind(script, keys):
    return [[keys[int(a[1:])] if a[:1] == "@" and a[1:].isdigit() else a for a in c]
            for c in script]


class Side:
    """One server with its writer and subscribers."""

    def __init__(self, server, nsubs, proto=2):
        self.server = server
        self.n = real_shards(server)
        self.writer = conn_on_shard(server, 0)
        self.subs = [Subscriber(server, s, proto) for s in range(min(nsubs, self.n) or 1)]
        self.barrier = [ks[0] for ks in keys_per_shard(self.n, "nbarrier")]

    def set_flags(self, flags):
        assert self.writer.call("CONFIG", "SET", "notify-keyspace-events", flags) == b"OK"

    def run(self, script):
        replies = [self.writer.cmd(*c) for c in script]
        return replies

    def drain(self):
        """Every event published so far, per subscriber (barrier events dropped)."""
        self.set_flags("KE$")
        for k in self.barrier:
            assert self.writer.call("SET", k, "1") == b"OK"
        want = set(self.barrier)
        for s in self.subs:
            s.collect_until(lambda ev: want <= {m for ch, m in ev if ch == "__keyevent@0__:set"},
                            "the barrier events")
        out = []
        for s in self.subs:
            out.append([e for e in s.events
                        if e[0][15:] not in want and not (e[0].startswith("__keyevent")
                                                           and e[1] in want)])
            s.events = []
        return out

    def close(self):
        try:
            self.set_flags("")
        except Exception:
            pass
        self.writer.close()
        for s in self.subs:
            s.close()


@pytest.fixture
def sides(server, redis_ref):
    made = []

    def make(nsubs=4, proto=2):
        a, b = Side(server, nsubs, proto), Side(redis_ref, 1, proto)
        made.extend([a, b])
        return a, b

    yield make
    for s in made:
        s.close()


def check_same(core, ref, flags, script, nkeys=10):
    keys = spread_keys(core.n, "nk", (nkeys + core.n - 1) // core.n)
    script = bind(script, keys)
    core.set_flags(flags)
    ref.set_flags(flags)
    got_replies = core.run(script)
    want_replies = ref.run(script)
    for c, a, b in zip(script, got_replies, want_replies):
        if c[0] in RANDOM_REPLIES:  # which members: random; the events do not depend on it
            a, b = a[:1] + b"%d" % a.count(b"\r\n"), b[:1] + b"%d" % b.count(b"\r\n")
        assert a == b, f"reply to {c} differs:\n" + helpers.fmt_pair(b, a)
    want = ref.drain()[0]
    got = core.drain()
    for i, events in enumerate(got):
        if core.n == 1:
            assert events == want, (f"flags {flags!r}, subscriber {i}: events differ\n"
                                    f"  redis-server: {want}\n  corekv:       {events}")
        else:
            assert keyed(events) == keyed(want), (
                f"flags {flags!r}, shards {core.n}, subscriber {i} (compared per key): "
                f"events differ\n  redis-server: {keyed(want)}\n  corekv:       {keyed(events)}")
    return want


# ---- The scripts, one per command family ----

STRINGS = [
    ["SET", "@0", "1"], ["SET", "@0", "2"], ["SET", "@1", "x", "EX", "100"],
    ["SETEX", "@2", "100", "v"], ["PSETEX", "@3", "100000", "v"], ["SETNX", "@0", "3"],
    ["SETNX", "@4", "3"], ["APPEND", "@0", "x"], ["APPEND", "@5", "x"], ["INCR", "@6"],
    ["INCRBY", "@6", "5"], ["DECR", "@6"], ["DECRBY", "@6", "2"], ["INCRBYFLOAT", "@7", "1.5"],
    ["GETDEL", "@0"], ["GETDEL", "@0"], ["GETEX", "@1", "PX", "5000"], ["GETEX", "@1", "PERSIST"],
    ["GETEX", "@1", "PERSIST"], ["GETEX", "@1"], ["GETEX", "@2", "EXAT", "1"],
    ["SETRANGE", "@8", "3", "abc"], ["SETRANGE", "@8", "0", ""], ["SETRANGE", "@9", "0", ""],
    ["MSET", "@0", "1", "@1", "2", "@2", "3"], ["MSETNX", "@3", "1", "@4", "2"],
    ["GETSET", "@0", "z"], ["SET", "@0", "1", "GET"], ["SET", "@0", "1", "KEEPTTL"],
    ["SET", "@0", "2", "XX", "PX", "100000"], ["SET", "@9", "2", "NX", "EX", "10"],
    ["SET", "@9", "3", "NX"], ["LPUSH", "@5", "x"], ["INCR", "@5"], ["GET", "@5"],
]

KEYS = [
    ["SET", "@0", "v"], ["SET", "@1", "v"], ["DEL", "@0", "@1", "@2"], ["SET", "@0", "v"],
    ["UNLINK", "@0"], ["SET", "@3", "v"], ["EXPIRE", "@3", "100"], ["PEXPIRE", "@3", "100000"],
    ["EXPIREAT", "@3", "99999999999"], ["PERSIST", "@3"], ["PERSIST", "@3"],
    ["EXPIRE", "@3", "100", "XX"], ["EXPIRE", "@3", "100", "NX"], ["EXPIRE", "@3", "-1"],
    ["EXPIRE", "@4", "10"], ["SET", "@5", "v"], ["PEXPIREAT", "@5", "1"],
    ["SET", "@0", "v"], ["RENAME", "@0", "@1"], ["SET", "@2", "w"], ["RENAME", "@1", "@2"],
    ["RENAMENX", "@2", "@3"], ["SET", "@4", "x"], ["RENAMENX", "@3", "@4"],
    ["RENAME", "@3", "@3"], ["RENAMENX", "@3", "@3"], ["RENAME", "@9", "@8"],
    ["COPY", "@3", "@6"], ["COPY", "@3", "@6"], ["COPY", "@3", "@6", "REPLACE"],
    ["RPUSH", "@7", "a", "b"], ["COPY", "@7", "@8"], ["RENAME", "@7", "@9"],
    ["SET", "@7", "1"], ["TOUCH", "@7"], ["EXPIRE", "@7", "100"], ["RENAME", "@7", "@0"],
]

LISTS = [
    ["LPUSH", "@0", "a", "b"], ["RPUSH", "@0", "c"], ["LPUSHX", "@0", "d"], ["RPUSHX", "@0", "e"],
    ["LPUSHX", "@1", "x"], ["LINSERT", "@0", "BEFORE", "a", "z"], ["LINSERT", "@0", "AFTER", "no", "z"],
    ["LSET", "@0", "0", "q"], ["LREM", "@0", "0", "nope"], ["LREM", "@0", "1", "q"],
    ["LTRIM", "@0", "0", "2"], ["LPOP", "@0"], ["RPOP", "@0"], ["LPOP", "@0", "5"], ["LPOP", "@0"],
    ["RPUSH", "@2", "a", "b", "c", "d"], ["LMOVE", "@2", "@3", "LEFT", "RIGHT"],
    ["LMOVE", "@2", "@2", "LEFT", "RIGHT"], ["RPOPLPUSH", "@2", "@3"], ["LMOVE", "@2", "@4", "RIGHT", "LEFT"],
    ["RPOPLPUSH", "@2", "@3"], ["RPOPLPUSH", "@2", "@3"], ["LMPOP", "2", "@5", "@3", "RIGHT", "COUNT", "2"],
    ["LMPOP", "1", "@3", "LEFT", "COUNT", "10"], ["RPUSH", "@6", "1", "2"], ["LTRIM", "@6", "5", "10"],
    ["RPUSH", "@7", "1", "1", "1"], ["LREM", "@7", "0", "1"], ["SET", "@8", "s"], ["LPUSH", "@8", "x"],
    ["RPUSH", "@9", "x"], ["LMOVE", "@9", "@8", "LEFT", "LEFT"],
]

HASHES = [
    ["HSET", "@0", "a", "1", "b", "2"], ["HSET", "@0", "a", "1"], ["HSETNX", "@0", "a", "2"],
    ["HSETNX", "@0", "c", "2"], ["HSETNX", "@1", "c", "2"], ["HMSET", "@0", "d", "1"],
    ["HINCRBY", "@0", "n", "2"], ["HINCRBY", "@2", "n", "2"], ["HINCRBYFLOAT", "@0", "f", "1.5"],
    ["HINCRBYFLOAT", "@3", "f", "1.5"], ["HDEL", "@0", "zz"], ["HDEL", "@0", "a", "b"],
    ["HDEL", "@0", "c", "d", "n", "f"], ["HDEL", "@0", "x"], ["HINCRBY", "@1", "c", "x"],
]

SETS = [
    ["SADD", "@0", "a", "b", "c"], ["SADD", "@0", "a"], ["SREM", "@0", "zz"], ["SREM", "@0", "a"],
    ["SPOP", "@0"], ["SADD", "@1", "x", "y"], ["SMOVE", "@1", "@2", "x"], ["SMOVE", "@1", "@2", "y"],
    ["SMOVE", "@2", "@2", "x"], ["SMOVE", "@2", "@3", "nope"], ["SPOP", "@2", "10"],
    ["SADD", "@4", "1", "2"], ["SADD", "@5", "2", "3"], ["SINTERSTORE", "@6", "@4", "@5"],
    ["SUNIONSTORE", "@7", "@4", "@5"], ["SDIFFSTORE", "@8", "@4", "@5"],
    ["SINTERSTORE", "@6", "@4", "@9"], ["SINTERSTORE", "@9", "@4", "@3"],
    ["SUNIONSTORE", "@4", "@4", "@5"], ["SPOP", "@5", "1"], ["SPOP", "@5", "0"], ["SREM", "@0", "b", "c"],
    ["SREM", "@0", "b"], ["SADD", "@8", "9"], ["SMOVE", "@8", "@7", "9"],
]

ZSETS = [
    ["ZADD", "@0", "1", "a", "2", "b", "3", "c"], ["ZADD", "@0", "1", "a"], ["ZADD", "@0", "XX", "5", "no"],
    ["ZADD", "@1", "XX", "5", "no"], ["ZADD", "@0", "INCR", "5", "a"], ["ZADD", "@0", "GT", "CH", "1", "a"],
    ["ZINCRBY", "@0", "1", "b"], ["ZINCRBY", "@2", "1", "b"], ["ZREM", "@0", "nope"], ["ZREM", "@0", "a"],
    ["ZADD", "@0", "9", "d", "10", "e", "11", "f"], ["ZREMRANGEBYSCORE", "@0", "100", "200"],
    ["ZREMRANGEBYSCORE", "@0", "9", "9"], ["ZREMRANGEBYRANK", "@0", "0", "0"],
    ["ZREMRANGEBYLEX", "@0", "-", "+"], ["ZADD", "@0", "1", "a", "2", "b", "3", "c"], ["ZPOPMIN", "@0"],
    ["ZPOPMAX", "@0"], ["ZPOPMIN", "@0", "5"], ["ZPOPMIN", "@0"], ["ZADD", "@3", "1", "a", "2", "b"],
    ["ZADD", "@4", "2", "b"], ["ZUNIONSTORE", "@5", "2", "@3", "@4"], ["ZINTERSTORE", "@6", "2", "@3", "@4"],
    ["ZDIFFSTORE", "@7", "2", "@3", "@4"], ["ZRANGESTORE", "@8", "@3", "0", "-1"],
    ["ZINTERSTORE", "@6", "2", "@3", "@9"], ["ZRANGESTORE", "@8", "@3", "5", "6"],
    ["ZUNIONSTORE", "@9", "1", "@1"], ["ZMPOP", "2", "@1", "@3", "MAX", "COUNT", "5"],
    ["ZADD", "@2", "1", "x"], ["ZREMRANGEBYRANK", "@2", "0", "-1"],
]

SORTS = [
    ["RPUSH", "@0", "3", "1", "2"], ["SORT", "@0", "STORE", "@1"], ["SORT", "@2", "STORE", "@1"],
    ["SORT", "@0", "STORE", "@0"], ["SADD", "@3", "b", "a"], ["SORT", "@3", "ALPHA", "STORE", "@4"],
    ["SORT", "@3", "ALPHA", "LIMIT", "5", "5", "STORE", "@4"],
]

MULTI = [
    ["MULTI"], ["SET", "@0", "1"], ["INCR", "@0"], ["LPUSH", "@1", "a"], ["RPOP", "@1"],
    ["SADD", "@2", "m"], ["DEL", "@0", "@2", "@3"], ["EXEC"],
    ["MULTI"], ["SET", "@4", "1"], ["LPUSH", "@4", "x"], ["EXEC"],
    ["MULTI"], ["SET", "@5", "1"], ["DISCARD"],
]

FLUSH = [["SET", "@0", "1"], ["RPUSH", "@1", "x"], ["FLUSHALL"], ["SET", "@0", "1"], ["FLUSHDB"],
         ["SET", "@2", "1"]]

ALL_TYPES = [
    ["SET", "@0", "1"], ["INCR", "@0"], ["RPUSH", "@1", "a"], ["LPOP", "@1"], ["SADD", "@2", "a"],
    ["SREM", "@2", "a"], ["HSET", "@3", "a", "1"], ["HDEL", "@3", "a"], ["ZADD", "@4", "1", "a"],
    ["ZREM", "@4", "a"], ["SET", "@5", "1", "EX", "100"], ["PERSIST", "@5"], ["DEL", "@5", "@0"],
    ["RPUSH", "@6", "a"], ["RENAME", "@6", "@7"], ["SORT", "@7", "STORE", "@8"],
]

FAMILIES = {"strings": STRINGS, "keys": KEYS, "lists": LISTS, "hashes": HASHES, "sets": SETS,
            "zsets": ZSETS, "sort": SORTS, "multi": MULTI, "flush": FLUSH}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_events(sides, family):
    """Every family under "KEA" and "KEAn" (all classes, with new-key events)."""
    core, ref = sides()
    for flags in ("KEA", "KEAn"):
        check_same(core, ref, flags, FAMILIES[family])
        core.run([["FLUSHALL"]])
        ref.run([["FLUSHALL"]])


@pytest.mark.parametrize("flags", ["K", "E", "Kg", "E$", "Kl", "Es", "Kh", "Ez", "Kx", "KEn",
                                   "En", "Kgn", "g$lshz", "KE$lshzxetd", "KEgm"])
def test_class_filters(sides, flags):
    """One script touching every class, under class subsets: only the enabled classes and
    channels are published."""
    core, ref = sides(nsubs=2)
    check_same(core, ref, flags, ALL_TYPES)


# Reads of missing keys (and a few hits): Redis fires "keymiss" (class m) from its read
# lookups, not from writes, and not for OBJECT.
MISSES = [
    ["SET", "@0", "v"], ["GET", "@0"], ["GET", "@1"], ["STRLEN", "@2"], ["GETRANGE", "@3", "0", "1"],
    ["MGET", "@0", "@4", "@5"], ["EXISTS", "@6", "@0"], ["TYPE", "@7"], ["TTL", "@1"],
    ["PTTL", "@2"], ["OBJECT", "ENCODING", "@3"], ["LRANGE", "@4", "0", "-1"], ["LLEN", "@5"],
    ["LINDEX", "@6", "0"], ["HGET", "@7", "f"], ["HGETALL", "@1"], ["HLEN", "@2"],
    ["SMEMBERS", "@3"], ["SCARD", "@4"], ["SISMEMBER", "@5", "m"], ["ZRANGE", "@6", "0", "-1"],
    ["ZSCORE", "@7", "m"], ["ZCARD", "@1"], ["SORT", "@2"], ["SRANDMEMBER", "@3"],
    ["LPUSH", "@4", "x"], ["SADD", "@5", "x"], ["GETDEL", "@6"], ["INCR", "@7"],
]


@pytest.mark.parametrize("flags", ["KEm", "Em", "KEAm"])
def test_keymiss_events(sides, flags):
    core, ref = sides(nsubs=2)
    want = check_same(core, ref, flags, MISSES)
    assert sum(b"keymiss" in repr(ev).encode() for ev in want) >= 20  # the script's misses


def test_own_events_never_split_a_reply(server):
    """A RESP3 client subscribed to the events of its own writes gets each reply whole,
    with the pushes it caused after it (as Redis 7.2 does; 7.0 splits ZPOPMIN's reply)."""
    if helpers.is_redis_binary(server.binary):
        pytest.skip("redis-server 7.0 puts the pushes inside ZPOPMIN's reply")
    k, h, z, s_ = "own:l", "own:h", "own:z", "own:s"
    script = [
        (["RPUSH", k, "a", "b", "c"], b":3\r\n"),
        (["LMPOP", "1", k, "LEFT", "COUNT", "2"],
         b"*2\r\n$5\r\nown:l\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        (["HSET", h, "f", "v", "g", "w"], b":2\r\n"),
        (["HGETALL", h], None),
        (["ZADD", z, "1", "m", "2", "n"], b":2\r\n"),
        (["ZPOPMIN", z, "2"], b"*2\r\n*2\r\n$1\r\nm\r\n,1\r\n*2\r\n$1\r\nn\r\n,2\r\n"),
        (["SADD", s_, "x"], b":1\r\n"),
        (["SPOP", s_, "5"], b"~1\r\n$1\r\nx\r\n"),
        (["SET", "own:str", "v"], b"+OK\r\n"),
        (["GETDEL", "own:str"], b"$1\r\nv\r\n"),
    ]
    with server.raw() as c:
        c.cmd("HELLO", "3")
        c.cmd("CONFIG", "SET", "notify-keyspace-events", "KEA")
        c.send(helpers.encode("PSUBSCRIBE", "__key*__:*"))
        assert c.read_reply().startswith(b">3\r\n")
        pushes = 0
        for cmd, want in script:
            c.send(helpers.encode(*cmd))
            while True:
                r = c.read_reply()
                if not r.startswith(b">"):
                    break
                pushes += 1
            if want is not None:
                assert r == want, f"{cmd}: {r!r}"
        c.cmd("CONFIG", "SET", "notify-keyspace-events", "")
    assert pushes > 0


def test_disabled_publishes_nothing(sides):
    core, ref = sides(nsubs=2)
    assert check_same(core, ref, "", ALL_TYPES) == []


def test_event_reaches_other_shard_without_traffic(server):
    """One SET on one shard; a subscriber on each other shard gets both events with no
    further traffic on any connection (REFERENCE.md section 13, bug 7)."""
    n = real_shards(server)
    key = keys_per_shard(n, "lone")[0][0]  # owned by shard 0
    subs = [Subscriber(server, s) for s in range(n)]
    writer = conn_on_shard(server, n - 1)
    try:
        assert writer.call("CONFIG", "SET", "notify-keyspace-events", "KE$") == b"OK"
        assert writer.call("SET", key, "v") == b"OK"
        for s in subs:
            assert s.read_event(5.0) == ("__keyspace@0__:" + key, "set")
            assert s.read_event(5.0) == ("__keyevent@0__:set", key)
    finally:
        writer.call("CONFIG", "SET", "notify-keyspace-events", "")
        writer.close()
        for s in subs:
            s.close()


def test_resp3_subscriber(server):
    """A RESP3 subscriber gets the events as push frames."""
    n = real_shards(server)
    key = keys_per_shard(n, "r3")[-1][0]
    sub = Subscriber(server, 0, proto=3)
    writer = conn_on_shard(server, 0)
    try:
        assert writer.call("CONFIG", "SET", "notify-keyspace-events", "Kl") == b"OK"
        writer.call("RPUSH", key, "x")
        sub.conn.settimeout(5.0)
        raw = sub.conn.read_reply()
        assert raw.startswith(b">4\r\n"), raw
        assert decode(raw) == [b"pmessage", PATTERN.encode(),
                               ("__keyspace@0__:" + key).encode(), b"rpush"]
    finally:
        writer.call("CONFIG", "SET", "notify-keyspace-events", "")
        writer.close()
        sub.close()


def _await_expired(sub, keys):
    want = set(keys)
    sub.collect_until(lambda ev: want <= {m for ch, m in ev if ch == "__keyevent@0__:expired"},
                      f"expired events of {sorted(want)}")
    return sub.events


@pytest.mark.parametrize("flags", ["KEA", "Ex", "KEx"])
def test_expired_events_active(sides, flags):
    """Keys with a short TTL on every shard expire by the active cycle with no traffic: each
    fires "expired" once (compared per key with redis-server)."""
    core, ref = sides(nsubs=4)
    results = []
    for side in (core, ref):
        keys = spread_keys(core.n, "nexp", 2)
        side.set_flags(flags)
        for i, k in enumerate(keys):
            side.writer.call("SET", k, "v", "PX", str(30 + 10 * i))
        for s in side.subs:
            results.append((side is core, keyed(_await_expired(s, keys))))
            s.events = []
        side.set_flags("")
    want = [ev for is_core, ev in results if not is_core][0]
    for is_core, ev in results:
        if is_core:
            assert ev == want


def test_expired_event_lazy(sides):
    """An expired key met by a command fires "expired" (before the command's own events:
    "new" then "set" for a SET, compared per key)."""
    core, ref = sides(nsubs=2)
    got = []
    for side in (core, ref):
        k = keys_per_shard(core.n, "nlazy")[-1][0]
        side.set_flags("KEAn")
        side.writer.call("SET", k, "v", "PX", "1")
        deadline = time.monotonic() + DEADLINE
        # Await the TTL passing by polling the key (each probe may be the one that expires it).
        while side.writer.call("EXISTS", k) != 0:
            assert time.monotonic() < deadline, "key did not expire"
        side.writer.call("SET", k, "w")
        got.append([keyed(evs) for evs in side.drain()])
    core_ev, ref_ev = got
    for ev in core_ev:
        assert ev == ref_ev[0]


def test_blocking_pops(sides):
    """Blocking pops served at once fire the pop events of their non-blocking forms."""
    core, ref = sides(nsubs=4)
    if isinstance(core.writer.call("COMMAND", "INFO", "BLPOP")[0], type(None)):
        pytest.skip("blocking commands not implemented yet")
    script = [
        ["RPUSH", "@0", "a", "b"], ["BLPOP", "@1", "@0", "1"], ["BRPOP", "@0", "1"],
        ["RPUSH", "@2", "a"], ["BLMOVE", "@2", "@3", "LEFT", "RIGHT", "1"],
        ["BRPOPLPUSH", "@3", "@4", "1"], ["BLMPOP", "1", "1", "@4", "LEFT"],
        ["ZADD", "@5", "1", "a", "2", "b"], ["BZPOPMIN", "@5", "1"], ["BZPOPMAX", "@5", "1"],
        ["ZADD", "@6", "1", "a"], ["BZMPOP", "1", "1", "@6", "MIN"],
    ]
    check_same(core, ref, "KEAn", script)


# ---- CONFIG GET / SET of notify-keyspace-events ----

FLAG_INPUTS = ["", "A", "An", "AKE", "KEA", "Kn", "nA", "g$lshzxetdn", "g$lshzxetd", "KEg", "x",
               "m", "Am", "mK", "d", "td", "Ad", "EK", "KKEE", "$", "nnn", "KEA$lshzxetdmn",
               "Z", "K E", "k", "a", "KEA!", "\t", "AKE ", "KE\x00Z"]


def test_config_set_get(differ):
    """Parsing, canonical output and the error text, byte for byte."""
    script = []
    for v in FLAG_INPUTS:
        script += [["CONFIG", "SET", "notify-keyspace-events", v],
                   ["CONFIG", "GET", "notify-keyspace-events"]]
    script += [["CONFIG", "SET", "notify-keyspace-events", "KEA", "hz", "0"],
               ["CONFIG", "GET", "notify-keyspace-events"],
               ["CONFIG", "SET", "notify-keyspace-events", "Z", "hz", "10"],
               ["CONFIG", "GET", "notify-keyspace-events"],
               ["CONFIG", "SET", "NOTIFY-KEYSPACE-EVENTS", "Elg"],
               ["CONFIG", "GET", "NOTIFY-keyspace-events"],
               ["CONFIG", "GET", "notify-keyspace-*"],
               ["CONFIG", "SET", "notify-keyspace-events", ""]]
    differ.check(script)


def test_config_shared_by_all_shards(server):
    """CONFIG SET on one shard's connection is seen by every shard's connections."""
    n = real_shards(server)
    conns = [conn_on_shard(server, s) for s in range(n)]
    try:
        conns[-1].call("CONFIG", "SET", "notify-keyspace-events", "Kx")
        for c in conns:
            assert c.call("CONFIG", "GET", "notify-keyspace-events") == [
                b"notify-keyspace-events", b"xK"]
        assert conns[0].call("CONFIG", "SET", "notify-keyspace-events", "") == b"OK"
        assert isinstance(conns[0].call("CONFIG", "SET", "notify-keyspace-events", "?"), Err)
    finally:
        for c in conns:
            c.close()
