"""Blocking commands: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP, and
CLIENT UNBLOCK / CLIENT KILL of blocked clients.

Differential (byte-identical with redis-server, RESP2 and RESP3): argument errors, what
the commands return at once, the nil shapes of timeouts, blocking commands inside MULTI.
Behaviour at 1, 2, 4 and 8 shards, with keys on every shard: wake-ups by other clients,
pipelined commands behind a blocked one, timeouts within 100 ms of their deadline,
first-come-first-served per key, BLMOVE across shards, pushes inside MULTI/EXEC, CLIENT
UNBLOCK and CLIENT KILL, the b flag and INFO blocked_clients. Clients that come and go
(1,000 waiters, leaving while served) are in test_blocking_served.py."""
import selectors
import time

import pytest

from helpers import (Clients, blocked_clients, bulk_text, decode, encode, keys_per_shard,
                     no_reply_yet, reply_end, spread_keys, two_keys_on_different_shards,
                     wait_blocked, wait_for)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def differ(differ, request, server):
    """Every differential script of this module runs in RESP2 and in RESP3."""
    differ.proto = request.param
    return differ


@pytest.fixture
def K(nshards):
    # Eight keys spread over every shard (the same names on both servers).
    return spread_keys(nshards, "b", max(1, 8 // nshards))


def client_id(conn):
    return decode(conn.cmd("CLIENT", "ID"))


# ------------------------------------------------------------------------- differential

@pytest.mark.differential
def test_argument_errors(differ, K):
    k, k2 = K[0], K[1]
    script = []
    for cmd in ("BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX"):
        script += [(cmd,), (cmd, k), (cmd, k, "x"), (cmd, k, k2, "1.5.5"), (cmd, k, "-1"),
                   (cmd, k, ""), (cmd, k, " 1"), (cmd, k, "1 "), (cmd, k, "nan"),
                   (cmd, k, "inf"), (cmd, k, "-inf"), (cmd, k, "1e30"), (cmd, k, "-0.0011"),
                   (cmd, k, "9223372036854775807"), (cmd, k, "1e5000"), (cmd, k, "1e-5000"),
                   (cmd, k, b"1\x00"), (cmd, k, "0x"), (cmd, k, "1" * 6000)]
    script += [
        ("BLMOVE", k, k2, "LEFT", "RIGHT"), ("BLMOVE", k, k2, "UP", "RIGHT", "x"),
        ("BLMOVE", k, k2, "LEFT", "DOWN", "0"), ("BLMOVE", k, k2, "left", "right", "x"),
        ("BLMOVE", k, k2, "LEFT", "RIGHT", "-1"), ("BLMOVE", k, k2, "LEFT", "RIGHT", "0", "1"),
        ("BRPOPLPUSH", k, k2), ("BRPOPLPUSH", k, k2, "x"), ("BRPOPLPUSH", k, k2, "-2"),
        ("BRPOPLPUSH", k, k2, "0", "0"),
    ]
    for cmd, end in (("BLMPOP", "LEFT"), ("BZMPOP", "MIN")):
        script += [
            (cmd, "0", "1", k), (cmd, "x", "1", k, end), (cmd, "-1", "1", k, end),
            (cmd, "0", "0", k, end), (cmd, "0", "-1", k, end), (cmd, "0", "x", k, end),
            (cmd, "0", "2", k, end), (cmd, "0", "3", k, k2, end),
            (cmd, "0", "1", k, "MIDDLE"), (cmd, "0", "1", k, end, "COUNT"),
            (cmd, "0", "1", k, end, "COUNT", "0"), (cmd, "0", "1", k, end, "COUNT", "-3"),
            (cmd, "0", "1", k, end, "COUNT", "x"), (cmd, "0", "1", k, end, "COUNT", 1, "COUNT", 1),
            (cmd, "0", "1", k, end, "FOO", 1), (cmd, "-1", "1", k, end, "COUNT", "x"),
            (cmd, "x", "1", k, "MIDDLE"), (cmd, "-5", "2", k, k2, end, "COUNT", 3),
            (cmd, "0", "9223372036854775807", k, end),
        ]
    differ.check(script)


@pytest.mark.differential
def test_immediate_results(differ, K):
    """Keys that hold values answer at once, like the non-blocking forms."""
    a, b, c, d, s = K[0], K[1], K[2], K[3], K[4]
    differ.check([
        ("RPUSH", c, "c1", "c2", "c3"), ("RPUSH", d, "d1"), ("SET", s, "str"),
        ("BLPOP", a, b, c, d, 1), ("BRPOP", a, b, c, d, 1), ("BLPOP", c, d, 1),
        ("LRANGE", c, 0, -1), ("EXISTS", c), ("BLPOP", a, d, "0"), ("EXISTS", d),
        ("RPUSH", c, "x"), ("BLPOP", a, s, c, 1), ("BLPOP", a, c, s, 1), ("BRPOP", s, 1),
        ("RPUSH", c, 1, 2, 3, 4, 5),
        ("BLMPOP", 1, 3, a, b, c, "LEFT"), ("BLMPOP", 1, 2, b, c, "RIGHT", "COUNT", 2),
        ("BLMPOP", 0, 1, c, "LEFT", "COUNT", 10), ("EXISTS", c),
        ("RPUSH", c, 1), ("BLMPOP", 1, 3, a, s, c, "LEFT"), ("BLMPOP", 1, 2, c, s, "LEFT"),
        ("ZADD", a, 1, "m1", 2.5, "m2", 3, "m3", "-inf", "lo", "inf", "hi"),
        ("BZPOPMIN", b, a, 1), ("BZPOPMAX", b, a, 1), ("BZPOPMIN", s, a, 1),
        ("BZPOPMIN", b, s, 1), ("BZMPOP", 1, 2, b, a, "MIN"),
        ("BZMPOP", 1, 2, b, a, "MAX", "COUNT", 5), ("EXISTS", a),
        ("ZADD", a, 0.1, "z"), ("BZMPOP", 1, 2, s, a, "MAX"), ("BZPOPMAX", a, 0),
        # BLMOVE / BRPOPLPUSH, the destination on another shard when there are several
        ("RPUSH", a, "e1", "e2", "e3"), ("BLMOVE", a, b, "LEFT", "RIGHT", 1),
        ("BLMOVE", a, b, "RIGHT", "LEFT", 0), ("BRPOPLPUSH", a, b, 1), ("EXISTS", a),
        ("LRANGE", b, 0, -1), ("RPUSH", a, "f1"), ("BLMOVE", a, s, "LEFT", "LEFT", 1),
        ("LRANGE", a, 0, -1), ("BRPOPLPUSH", a, s, 1), ("BLMOVE", s, a, "LEFT", "LEFT", 1),
        ("BRPOPLPUSH", s, b, 1), ("BLMOVE", a, a, "LEFT", "RIGHT", 1), ("LRANGE", a, 0, -1),
        ("RPUSH", a, "g"), ("BRPOPLPUSH", a, a, 0), ("LRANGE", a, 0, -1),
    ])


@pytest.mark.differential
def test_timeout_nil_shapes(differ, K):
    a, b, c = K[0], K[1], K[2]
    differ.check([
        ("BLPOP", a, "0.01"), ("BRPOP", a, b, c, "0.01"), ("BLMOVE", a, b, "LEFT", "LEFT", "0.01"),
        ("BRPOPLPUSH", a, b, "0.01"), ("BLMPOP", "0.01", 2, a, b, "LEFT"),
        ("BZPOPMIN", a, b, "0.01"), ("BZPOPMAX", c, "0.01"),
        ("BZMPOP", "0.01", 3, a, b, c, "MAX", "COUNT", 2), ("BLPOP", a, "1e-10"),
        ("BLPOP", a, "0.0009"), ("EXISTS", a, b, c),
    ])


@pytest.mark.differential
def test_inside_multi(differ, K):
    """Inside MULTI/EXEC nothing blocks: a command that finds nothing answers as on a
    timeout (BLMOVE and BRPOPLPUSH with a plain null), whatever the timeout."""
    a, b, c, s = K[0], K[1], K[2], K[3]
    differ.check([
        ("SET", s, "x"), ("MULTI",), ("BLPOP", a, b, c, 0), ("BRPOP", a, 0),
        ("BLMOVE", a, b, "LEFT", "RIGHT", 0), ("BRPOPLPUSH", a, c, 0),
        ("BLMPOP", 0, 2, a, b, "LEFT"), ("BZPOPMIN", a, b, 0), ("BZPOPMAX", c, 0),
        ("BZMPOP", 0, 2, a, c, "MIN"), ("BLPOP", a, s, 0), ("RPUSH", b, 1, 2, 3),
        ("BLPOP", a, b, 0), ("BLMOVE", b, c, "LEFT", "LEFT", 0), ("BLMPOP", 0, 3, a, b, c, "RIGHT",
                                                                   "COUNT", 5),
        ("ZADD", a, 1, "x"), ("BZMPOP", 0, 2, b, a, "MAX"), ("BLPOP", a, b, c, "-1"),
        ("EXEC",), ("LRANGE", c, 0, -1), ("EXISTS", a, b),
    ])


# ------------------------------------------------------------------------- behaviour

def test_wake_on_push_every_shard(server, nshards):
    keys = spread_keys(nshards, "w")
    with server.raw() as w, server.raw() as p:
        for target in keys:
            w.send(encode("BLPOP", *keys, 5))
            wait_blocked(server, 1)
            assert p.cmd("RPUSH", target, "v") == b":1\r\n"
            assert decode(w.read_reply()) == [target.encode(), b"v"]
            assert p.cmd("EXISTS", target) == b":0\r\n"
        assert blocked_clients(server) == 0


def test_pipelined_commands_wait_behind_blocked(server, nshards):
    k = keys_per_shard(nshards, "p")[-1][0]
    g = keys_per_shard(nshards, "g")[0][0]
    with server.raw() as c, server.raw() as p:
        # a timeout: nil, then the pipelined commands, in order
        c.send(encode("BLPOP", k, "0.1") + encode("PING") + encode("SET", g, "1") +
               encode("GET", g))
        assert [c.read_reply() for _ in range(4)] == [b"*-1\r\n", b"+PONG\r\n", b"+OK\r\n",
                                                      b"$1\r\n1\r\n"]
        # served: the commands behind it run after it, and see its effect
        c.send(encode("BLPOP", k, 0) + encode("LLEN", k) + encode("GET", g) + encode("PING"))
        wait_blocked(server, 1)
        assert no_reply_yet(c)
        assert p.cmd("SET", g, "2") == b"+OK\r\n"  # read after the wake: sees this
        assert p.cmd("RPUSH", k, "a", "b") == b":2\r\n"
        assert [c.read_reply() for _ in range(4)] == [
            encode_reply([k, "a"]), b":1\r\n", b"$1\r\n2\r\n", b"+PONG\r\n"]


def encode_reply(items):
    out = b"*%d\r\n" % len(items)
    for x in items:
        x = x.encode() if isinstance(x, str) else x
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    return out


def test_timeouts_fire_within_100ms(server, nshards):
    keys = spread_keys(nshards, "o")
    timeouts = [0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7]
    cl = Clients(server, len(timeouts))
    try:
        start = {}
        for i, (s, t) in enumerate(zip(cl.socks, timeouts)):
            start[s] = time.monotonic()
            s.sendall(encode("BLPOP", keys[i % len(keys)], keys[(i + 1) % len(keys)], t))
        done = {}
        sel = selectors.DefaultSelector()
        for s in cl.socks:
            sel.register(s, selectors.EVENT_READ)
        deadline = time.monotonic() + 5
        while len(done) < len(cl.socks) and time.monotonic() < deadline:
            for key, _ in sel.select(0.5):
                s = key.fileobj
                cl.bufs[s] += s.recv(4096)
                if reply_end(cl.bufs[s], 0) is not None:
                    done[s] = time.monotonic()
                    sel.unregister(s)
        sel.close()
        for s, t in zip(cl.socks, timeouts):
            assert s in done, f"no reply for timeout {t}"
            assert bytes(cl.bufs[s]) == b"*-1\r\n"
            late = done[s] - start[s] - t
            assert -0.005 <= late <= 0.1, f"timeout {t} fired {late * 1000:.0f} ms late"
    finally:
        cl.close()


def test_fifo_per_key(server, nshards):
    k = keys_per_shard(nshards, "f")[-1][0]
    other = spread_keys(nshards, "fo")
    cl = Clients(server, 6)
    try:
        for i, s in enumerate(cl.socks):
            # waiters of one key, some also waiting on keys of other shards
            s.sendall(encode("BLPOP", *(other[:i % 3]), k, 0))
            wait_blocked(server, i + 1)
        with server.raw() as p:
            assert p.cmd("RPUSH", k, *[f"e{i}" for i in range(6)]) == b":6\r\n"
        got = cl.replies(timeout=10)
        assert [decode(got[s][0])[1] for s in cl.socks] == [f"e{i}".encode() for i in range(6)]
    finally:
        cl.close()


def test_zset_waiters(server, nshards):
    keys = spread_keys(nshards, "z", max(1, 4 // nshards))
    with server.raw() as w, server.raw() as p:
        w.cmd("HELLO", 3)
        w.send(encode("BZPOPMAX", *keys, 5))
        wait_blocked(server, 1)
        p.cmd("RPUSH", keys[0], "not-a-zset")  # a list does not wake a zset waiter
        p.cmd("ZADD", keys[-1], "1.5", "a", "2.25", "b")
        assert w.read_reply() == b"*3\r\n$%d\r\n%s\r\n$1\r\nb\r\n,2.25\r\n" % (
            len(keys[-1]), keys[-1].encode())
        p.cmd("DEL", *keys)
        w.send(encode("BZMPOP", 5, len(keys), *keys, "MIN", "COUNT", 10))
        wait_blocked(server, 1)
        p.cmd("ZADD", keys[1], "-inf", "x")
        assert w.read_reply() == b"*2\r\n$%d\r\n%s\r\n*1\r\n*2\r\n$1\r\nx\r\n,-inf\r\n" % (
            len(keys[1]), keys[1].encode())


def test_blmove_across_shards(server, nshards):
    src, dst = two_keys_on_different_shards(nshards, "m")
    with server.raw() as w, server.raw() as p:
        w.send(encode("BLMOVE", src, dst, "RIGHT", "LEFT", 5))
        wait_blocked(server, 1)
        p.cmd("RPUSH", dst, "d0")
        p.cmd("RPUSH", src, "s0", "s1")
        assert w.read_reply() == b"$2\r\ns1\r\n"
        assert decode(p.cmd("LRANGE", dst, 0, -1)) == [b"s1", b"d0"]
        assert decode(p.cmd("LRANGE", src, 0, -1)) == [b"s0"]
        p.cmd("DEL", src, dst)
        # the destination holds another type when the source becomes ready: WRONGTYPE, as
        # Redis, and the element stays in the source
        w.send(encode("BRPOPLPUSH", src, dst, 5))
        wait_blocked(server, 1)
        p.cmd("SET", dst, "str")
        p.cmd("RPUSH", src, "e")
        assert w.read_reply().startswith(b"-WRONGTYPE")
        assert decode(p.cmd("LRANGE", src, 0, -1)) == [b"e"]
        assert p.cmd("GET", dst) == b"$3\r\nstr\r\n"


def test_push_inside_multi_wakes_after_exec(server, nshards):
    k1, k2 = two_keys_on_different_shards(nshards, "x")
    with server.raw() as w, server.raw() as p:
        w.send(encode("BLPOP", k1, 5))
        wait_blocked(server, 1)
        assert p.cmd("MULTI") == b"+OK\r\n"
        for c in (("RPUSH", k1, "a", "b"), ("LPOP", k1)):
            assert p.cmd(*c) == b"+QUEUED\r\n"
        assert no_reply_yet(w)  # queued, not run
        assert decode(p.cmd("EXEC")) == [2, b"a"]
        assert decode(w.read_reply()) == [k1.encode(), b"b"]  # the state after EXEC
        # a transaction across shards: the waiter sees only its final state
        w.send(encode("BLPOP", k1, k2, 5))
        wait_blocked(server, 1)
        p.cmd("MULTI")
        for c in (("RPUSH", k1, "x"), ("RPUSH", k2, "y"), ("DEL", k1)):
            p.cmd(*c)
        assert decode(p.cmd("EXEC")) == [1, 1, 1]
        assert decode(w.read_reply()) == [k2.encode(), b"y"]
        assert p.cmd("EXISTS", k1, k2) == b":0\r\n"


def test_served_pop_is_a_write_for_watch(server, nshards):
    k = keys_per_shard(nshards, "v")[-1][0]
    with server.raw() as w, server.raw() as p, server.raw() as t:
        w.send(encode("BLPOP", k, 5))
        wait_blocked(server, 1)
        p.cmd("RPUSH", k, "a", "b")
        assert decode(w.read_reply()) == [k.encode(), b"a"]
        # WATCH after the push: only the served pop can touch the key... it already ran,
        # so a second waiter's pop is what must abort the transaction
        assert t.cmd("WATCH", k) == b"+OK\r\n"
        w.send(encode("BLPOP", k, 5))
        assert decode(w.read_reply()) == [k.encode(), b"b"]
        t.cmd("MULTI")
        t.cmd("GET", "unrelated")
        assert t.cmd("EXEC") == b"*-1\r\n"


def test_client_unblock(server, nshards, differ):
    keys = spread_keys(nshards, "u")
    with server.raw() as w, server.raw() as p:
        wid = client_id(w)
        assert p.cmd("CLIENT", "UNBLOCK", wid) == b":0\r\n"  # not blocked
        w.send(encode("BLPOP", *keys, 0))
        wait_blocked(server, 1)
        assert "flags=b " in bulk_text(p.cmd("CLIENT", "LIST", "ID", wid))
        assert p.cmd("CLIENT", "UNBLOCK", wid, "TIMEOUT") == b":1\r\n"
        assert w.read_reply() == b"*-1\r\n"
        assert p.cmd("CLIENT", "UNBLOCK", wid, "TIMEOUT") == b":0\r\n"
        w.send(encode("BLMOVE", keys[0], keys[-1], "LEFT", "LEFT", 0))
        wait_blocked(server, 1)
        assert p.cmd("CLIENT", "UNBLOCK", wid, "error") == b":1\r\n"
        assert w.read_reply() == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
        assert w.cmd("PING") == b"+PONG\r\n"
        assert "flags=N " in bulk_text(p.cmd("CLIENT", "LIST", "ID", wid))
        w.cmd("HELLO", 3)
        w.send(encode("BZPOPMIN", *keys, 0))
        wait_blocked(server, 1)
        assert p.cmd("CLIENT", "UNBLOCK", wid) == b":1\r\n"
        assert w.read_reply() == b"_\r\n"
        # nothing was taken meanwhile: a push now stays
        p.cmd("RPUSH", keys[0], "kept")
        assert p.cmd("LLEN", keys[0]) == b":1\r\n"
    # errors, byte-exact
    differ.check([
        ("CLIENT", "UNBLOCK"), ("CLIENT", "UNBLOCK", "x"), ("CLIENT", "UNBLOCK", "x", "foo"),
        ("CLIENT", "UNBLOCK", "5", "foo"), ("CLIENT", "UNBLOCK", "x", "error"),
        ("CLIENT", "UNBLOCK", "99999999"), ("CLIENT", "UNBLOCK", "-1", "ERROR"),
        ("CLIENT", "UNBLOCK", "0", "timeout"), ("CLIENT", "UNBLOCK", "1", "error", "x"),
    ])


def test_client_kill(server, nshards, differ):
    keys = spread_keys(nshards, "c")
    with server.raw() as w, server.raw() as w2, server.raw() as p:
        wid = client_id(w)
        w.send(encode("BLPOP", *keys, 0))
        w2.send(encode("BLPOP", keys[0], 0))
        wait_blocked(server, 2)
        assert p.cmd("CLIENT", "KILL", "ID", wid) == b":1\r\n"
        assert w.is_closed()
        wait_blocked(server, 1)
        assert p.cmd("CLIENT", "KILL", "ID", wid) == b":0\r\n"
        # the old form, by address
        line = bulk_text(p.cmd("CLIENT", "LIST", "ID", client_id_of_blocked(p)))
        addr = [f for f in line.split() if f.startswith("addr=")][0][5:]
        assert p.cmd("CLIENT", "KILL", addr) == b"+OK\r\n"
        assert w2.is_closed()
        wait_blocked(server, 0)
        assert p.cmd("CLIENT", "KILL", addr) == b"-ERR No such client\r\n"
        # a killed waiter took nothing
        p.cmd("RPUSH", keys[0], "x")
        assert p.cmd("LLEN", keys[0]) == b":1\r\n"
    # filters: by type, skipping (or not) the caller
    with server.raw() as a, server.raw() as b, server.raw() as me:
        assert me.cmd("CLIENT", "KILL", "TYPE", "pubsub") == b":0\r\n"
        n = decode(me.cmd("CLIENT", "KILL", "TYPE", "normal", "USER", "default"))
        assert n >= 2
        assert a.is_closed() and b.is_closed()
        assert me.cmd("PING") == b"+PONG\r\n"
        laddr = [f for f in bulk_text(me.cmd("CLIENT", "INFO")).split() if f.startswith("laddr=")]
        assert decode(me.cmd("CLIENT", "KILL", "LADDR", laddr[0][6:], "SKIPME", "no")) >= 1
        assert me.is_closed()
    differ.check([
        ("CLIENT", "KILL"), ("CLIENT", "KILL", "1.2.3.4:5"), ("CLIENT", "KILL", "id", "0"),
        ("CLIENT", "KILL", "id", "x"), ("CLIENT", "KILL", "ID", "-5"),
        ("CLIENT", "KILL", "ID", "9999999999999999999999"), ("CLIENT", "KILL", "id", "99999"),
        ("CLIENT", "KILL", "maxage", "5"), ("CLIENT", "KILL", "type", "foo"),
        ("CLIENT", "KILL", "type", "master"), ("CLIENT", "KILL", "TYPE", "replica"),
        ("CLIENT", "KILL", "type", "normal", "skipme", "maybe"),
        ("CLIENT", "KILL", "user", "bob"), ("CLIENT", "KILL", "user", "default", "id"),
        ("CLIENT", "KILL", "addr", "1.2.3.4:5", "laddr", "x"), ("CLIENT", "KILL", "id", "1", "id"),
        ("CLIENT", "KILL", "skipme", "yes"), ("CLIENT", "KILL", "foo", "bar"),
    ])


def client_id_of_blocked(conn):
    for line in bulk_text(conn.cmd("CLIENT", "LIST")).splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "b" in fields["flags"]:
            return fields["id"]
    raise AssertionError("no blocked client")


def test_command_info(server, once, differ):
    """Arity, flags, first/last/step and ACL categories as Redis reports them (the key
    specs' flags are COMMAND's own business), and the keys GETKEYS finds."""
    names = ("blpop", "brpop", "blmove", "brpoplpush", "blmpop", "bzpopmin", "bzpopmax",
             "bzmpop")
    a, b = differ.conns_pair()
    for n in names:
        core, ref = decode(a.cmd("COMMAND", "INFO", n))[0], decode(b.cmd("COMMAND", "INFO", n))[0]
        assert core[:7] == ref[:7], n
    differ.check([("COMMAND", "GETKEYS", "BLMPOP", 0, 2, "a", "b", "LEFT"),
                  ("COMMAND", "GETKEYS", "BZMPOP", 0, 1, "a", "MIN", "COUNT", 2),
                  ("COMMAND", "GETKEYS", "BLPOP", "a", "b", 0),
                  ("COMMAND", "GETKEYS", "BLMOVE", "a", "b", "LEFT", "LEFT", 0)])


@pytest.mark.differential
def test_served_pop_notifies_as_redis(server, redis_ref, nshards):
    """A pop served to a waiter goes through the write path: the keyspace events are
    Redis's (the push, then the pop and the deletion of the emptied key)."""
    k = keys_per_shard(nshards, "n")[-1][0]
    dst = "{%s}dst" % k  # on k's shard: the events of one shard keep their order

    def scenario(srv):
        with srv.raw() as cfg, srv.raw() as sub, srv.raw() as w, srv.raw() as p:
            assert cfg.cmd("CONFIG", "SET", "notify-keyspace-events", "Elzg") == b"+OK\r\n"
            try:
                sub.cmd("PSUBSCRIBE", "__keyevent@0__:*")
                w.send(encode("BLPOP", k, 5))
                wait_for(lambda: "cmd=blpop" in bulk_text(p.cmd("CLIENT", "LIST", "TYPE", "normal"))
                         and "flags=b" in bulk_text(p.cmd("CLIENT", "LIST", "TYPE", "normal")), 10,
                         what="a blocked client")
                p.cmd("RPUSH", k, "a")
                assert decode(w.read_reply()) == [k.encode(), b"a"]
                w.send(encode("BLMOVE", k, dst, "LEFT", "RIGHT", 5))
                wait_for(lambda: "flags=b" in bulk_text(p.cmd("CLIENT", "LIST", "TYPE", "normal")),
                         10, what="a blocked client")
                p.cmd("LPUSH", k, "b")
                assert w.read_reply() == b"$1\r\nb\r\n"
                p.cmd("DEL", dst)
                msgs = [decode(sub.read_reply()) for _ in range(8)]
                return [(m[2], m[3]) for m in msgs]
            finally:
                cfg.cmd("CONFIG", "SET", "notify-keyspace-events", "")

    assert scenario(server) == scenario(redis_ref)
