"""Blocking commands with clients that come and go: 1,000 waiters on keys of every shard,
each element delivered exactly once; waiters leaving while they are served (nothing lost:
received plus left equals pushed); a blocked client that disconnects; and the element in
flight to a client that left, put back where it came from."""
import socket

import pytest

from helpers import (Clients, blocked_clients, conn_on_shard, decode, encode, keys_per_shard,
                     no_reply_yet, spread_keys, wait_blocked, wait_for)


@pytest.mark.slow
def test_thousand_clients_every_element_once(server, nshards):
    keys = spread_keys(nshards, "t", max(2, 16 // nshards))
    n = 1000
    cl = Clients(server, n)
    try:
        want = {}
        for i, s in enumerate(cl.socks):
            k = keys[i % len(keys)]
            want[k] = want.get(k, 0) + 1
            # several keys, the one it will get first among them
            s.sendall(encode("BLPOP", keys[(i + 1) % len(keys)] + "-none", k, 0))
        wait_blocked(server, n, timeout=30)
        pushed = set()
        with server.raw() as p1, server.raw() as p2:
            for j, (k, cnt) in enumerate(sorted(want.items())):
                vals = [f"{k}:{x}" for x in range(cnt)]
                pushed.update(vals)
                (p1 if j % 2 else p2).send(encode("RPUSH", k, *vals))
            for j, (k, cnt) in enumerate(sorted(want.items())):
                assert decode((p1 if j % 2 else p2).read_reply()) >= 1
        got = cl.replies(timeout=30)
        seen = []
        for s, reps in got.items():
            assert len(reps) == 1, "a client got no element"
            key, val = decode(reps[0])
            assert val.decode().startswith(key.decode() + ":")
            seen.append(val.decode())
        assert len(seen) == n and set(seen) == pushed, "an element delivered twice or lost"
        with server.raw() as c:
            for k in keys:
                assert c.cmd("EXISTS", k) == b":0\r\n"
        assert blocked_clients(server) == 0
    finally:
        cl.close()


@pytest.mark.slow
def test_clients_leaving_while_served_lose_nothing(server, nshards):
    """Waiters half-close their connection while elements are pushed to their keys: each
    element is either received (a reply written before the server saw the close) or put
    back in its list. Repeated, with keys on every shard."""
    keys = spread_keys(nshards, "d", max(1, 8 // nshards))
    n = 40
    for rnd in range(12):
        cl = Clients(server, n)
        try:
            per_key = {}
            for i, s in enumerate(cl.socks):
                k = keys[i % len(keys)]
                per_key[k] = per_key.get(k, 0) + 1
                s.sendall(encode("BLPOP", "none-" + k, k, 0))
            wait_blocked(server, n, timeout=20)
            pushed = set()
            leavers = [s for i, s in enumerate(cl.socks) if (i + rnd) % 2]
            stayers = [s for s in cl.socks if s not in leavers]
            with server.raw() as p:
                items = sorted(per_key.items())
                for j, (k, cnt) in enumerate(items):
                    vals = [f"{rnd}:{k}:{x}" for x in range(cnt)]
                    pushed.update(vals)
                    # leave while the pushes are in flight: just before or just after
                    if rnd % 2:
                        p.send(encode("RPUSH", k, *vals))
                    for s in leavers[j::len(items)]:
                        s.shutdown(socket.SHUT_WR)
                    if rnd % 2 == 0:
                        p.send(encode("RPUSH", k, *vals))
                for _ in items:
                    p.read_reply()
                # every stayer gets an element: its key had one per waiter
                got = cl.replies(timeout=20, only=stayers)
                received = []
                for s in stayers:
                    assert len(got[s]) == 1, "a waiter still connected got nothing"
                    received.append(decode(got[s][0])[1].decode())
                got = cl.replies(timeout=20, want=2, only=leavers)  # read to EOF
                for s in leavers:
                    assert s in cl.eof
                    assert len(got[s]) <= 1
                    received += [decode(r)[1].decode() for r in got[s]]
                left = []
                for k in per_key:
                    left += [x.decode() for x in decode(p.cmd("LRANGE", k, 0, -1))]
                assert len(received) == len(set(received)), "an element delivered twice"
                assert sorted(received + left) == sorted(pushed), "an element lost"
                p.cmd("DEL", *per_key)
            wait_blocked(server, 0)
        finally:
            cl.close()


def test_blocked_client_disconnect_keeps_elements(server, nshards):
    keys = spread_keys(nshards, "q")
    w = server.raw()
    w.send(encode("BLPOP", *keys, 0))
    wait_blocked(server, 1)
    w.close()
    wait_blocked(server, 0)
    with server.raw() as p:
        p.cmd("RPUSH", keys[-1], "x")
        assert p.cmd("LRANGE", keys[-1], 0, -1) == b"*1\r\n$1\r\nx\r\n"


# The element was popped for a client that left before its reply: it must be put back
# where it came from (BLMOVE finishes its move instead). To open that window for certain,
# the waiter's shard is kept busy (DEBUG SLEEP by another of its clients) while the push
# wakes the waiter and the waiter closes: after the sleep that shard sends the serving pop,
# and in its next loop it sees the close before the pop's reply.
PUT_BACK = [
    ("BLPOP", ["RPUSH", "a", "b"], ["LRANGE", 0, -1], [b"a", b"b"], None),
    ("BRPOP", ["RPUSH", "a", "b"], ["LRANGE", 0, -1], [b"a", b"b"], None),
    ("BZPOPMIN", ["ZADD", 1, "a", 2, "b"], ["ZRANGE", 0, -1, "WITHSCORES"],
     [b"a", b"1", b"b", b"2"], None),
    ("BLMOVE", ["RPUSH", "a", "b"], ["LRANGE", 0, -1], [b"b"], [b"a"]),
]


@pytest.mark.parametrize("verb,push,read,left,moved", PUT_BACK, ids=[p[0] for p in PUT_BACK])
def test_element_put_back_when_client_leaves_mid_serve(server, nshards, verb, push, read, left,
                                                       moved):
    if nshards < 2:
        pytest.skip("needs the key on another shard than the waiter")
    key, dst = keys_per_shard(nshards, "pb")[1][0], keys_per_shard(nshards, "pbd")[0][0]
    waiter, sleeper, probe = (conn_on_shard(server, 0) for _ in range(3))
    with conn_on_shard(server, 1) as pusher:  # not on the sleeping shard
        args = [key, dst, "LEFT", "RIGHT", 0] if verb == "BLMOVE" else [key, 0]
        waiter.send(encode(verb, *args))
        wait_blocked(server, 1)
        sleeper.send(encode("DEBUG", "SLEEP", "1"))
        probe.send(encode("PING"))
        assert no_reply_yet(probe, 0.3)  # shard 0 is asleep
        assert decode(pusher.cmd(push[0], key, *push[1:])) == 2
        waiter.close()
        assert sleeper.read_reply() == b"+OK\r\n"
        assert probe.read_reply() == b"+PONG\r\n"
        wait_blocked(server, 0)
        wait_for(lambda: decode(pusher.cmd(read[0], key, *read[1:])) == left, 10,
                 what=f"{key} back to {left}")
        if moved is not None:
            assert decode(pusher.cmd("LRANGE", dst, 0, -1)) == moved
    sleeper.close()
    probe.close()
