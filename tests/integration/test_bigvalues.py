"""Big string values sent by reference, and huge values freed off the shard thread.

- A client pipelines GETs of a 4 MB value and does not read them (a small receive buffer,
  so most of the replies stay in the server's output) while another client APPENDs to,
  SETRANGEs, overwrites and deletes the key: every reply carries exactly the bytes the
  value had when its GET ran. The key lives on the reader's own shard (its replies go by
  reference) and, with several shards, on another one (forwarded: copied).
- Every string command that reads or changes a big value answers as Redis does.
- A DEL of a 1,000,000-member set and of a 200 MB string replies at once, and a client on
  the same shard keeps getting its PINGs answered quickly meanwhile (lazy free).

Runs at 1 and 3 shards (COREKV_BIGVAL_SHARDS to change)."""
import os
import socket
import threading
import time

import pytest

from helpers import (client_shard, conn_on_shard, decode, encode, shard_of,
                     wait_for)

SHARDS = [int(x) for x in os.environ.get("COREKV_BIGVAL_SHARDS", "1,3").split(",")
          if x.strip()]
pytestmark = pytest.mark.parametrize("server_mod", SHARDS, indirect=True,
                                     ids=lambda n: f"shards{n}")

MB = 1 << 20
SIZE = 4 * MB
PING_BOUND = 0.100  # seconds: generous, the free itself takes far longer inline under ASan


def pattern(n, seed):
    """n bytes that differ from every other (seed, offset) pair often enough to catch a
    reply showing the wrong version or a torn one."""
    unit = bytes((seed * 31 + i * 7) & 0xFF for i in range(251))
    return (unit * (n // len(unit) + 1))[:n]


def bulk(v):
    return b"$%d\r\n%s\r\n" % (len(v), v)


class SlowReader:
    """A raw connection whose receive buffer is tiny: the server cannot push much of its
    output into the kernel, so replies wait in the server while it does not read."""

    def __init__(self, server):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(30)
        s.connect((server.host, server.port))
        self.sock = s

    def send(self, data):
        self.sock.sendall(data)

    def read_exact(self, n):
        out = bytearray()
        while len(out) < n:
            d = self.sock.recv(min(n - len(out), 1 << 20))
            assert d, "server closed the connection"
            out += d
        return bytes(out)

    def call(self, *args):
        self.send(encode(*args))
        buf = b""
        while not buf.endswith(b"\r\n"):
            buf += self.sock.recv(1)
        if buf[:1] == b"$":
            n = int(buf[1:-2])
            return self.read_exact(n + 2)[:-2] if n >= 0 else None
        return decode(buf)

    def close(self):
        self.sock.close()


def tag_on_shard(shard, nshards, avoid=None):
    """A hash tag whose keys live on `shard` (or, with avoid, anywhere but there)."""
    for i in range(10000):
        tag = f"{{bv{i}}}"
        s = shard_of(tag + "k", nshards)
        if (avoid is None and s == shard) or (avoid is not None and s != avoid):
            return tag
    raise AssertionError("no tag found")


def run_versions(server, reader, tag):
    """The reader pipelines GETs between the writer's changes; each batch is known to have
    run (a SET of a marker key on the same shard, queued behind the GETs, became visible)
    before the next change. Returns the bytes every batch must read."""
    key, mark = tag + "k", tag + "mark"
    w = server.raw()
    try:
        v = pattern(SIZE, 1)
        assert w.cmd("SET", key, v) == b"+OK\r\n"
        expect = []
        changes = [
            ("APPEND", lambda v: (("APPEND", key, b"tail"), v + b"tail")),
            ("SETRANGE", lambda v: (("SETRANGE", key, 10, b"XYZ"), v[:10] + b"XYZ" + v[13:])),
            ("SETRANGE-grow", lambda v: (("SETRANGE", key, len(v) + 5, b"!"),
                                         v + b"\0" * 5 + b"!")),
            ("SET", lambda v: (("SET", key, pattern(SIZE, 2)), pattern(SIZE, 2))),
            ("DEL", lambda v: (("DEL", key), None)),
        ]
        for i, (name, change) in enumerate(changes + [("end", None)]):
            reader.send(encode("GET", key) * 2 + encode("SET", mark, str(i)))
            expect += [bulk(v) if v is not None else b"$-1\r\n"] * 2 + [b"+OK\r\n"]
            wait_for(lambda: w.call("GET", mark) == str(i).encode(), 30,
                     what=f"batch {i} executed")
            if change is None:
                break
            cmd, v = change(v)
            rep = w.cmd(*cmd)
            assert not rep.startswith(b"-"), f"{name}: {rep!r}"
        return expect
    finally:
        w.close()


def check_replies(reader, expect):
    for i, want in enumerate(expect):
        got = reader.read_exact(len(want))
        if got != want:
            diff = next(j for j in range(len(want)) if got[j] != want[j])
            pytest.fail(f"reply {i}: differs at byte {diff} of {len(want)} "
                        f"(got {got[max(0, diff - 8):diff + 8]!r}, "
                        f"want {want[max(0, diff - 8):diff + 8]!r})")


@pytest.mark.slow
def test_inflight_replies_keep_their_bytes(server):
    n = server.shards
    reader = SlowReader(server)
    try:
        own = client_shard(reader, n)
        tags = [tag_on_shard(own, n)]  # by reference
        if n > 1:
            tags.append(tag_on_shard(None, n, avoid=own))  # forwarded, copied
        for tag in tags:
            expect = run_versions(server, reader, tag)
            check_replies(reader, expect)
    finally:
        reader.close()


def test_big_string_commands(server, r):
    """Reads and writes of big values (sent by reference when the reply goes straight to
    the socket), in plain commands, MULTI/EXEC and RESP3."""
    v = pattern(300000, 3)
    r.set("{t}a", v)
    assert r.get("{t}a") == v
    assert r.strlen("{t}a") == len(v)
    assert r.getrange("{t}a", 0, -1) == v
    assert r.getrange("{t}a", 5, 99) == v[5:100]
    assert r.object("encoding", "{t}a") == b"raw"
    assert r.mget("{t}a", "{t}missing", "{t}a") == [v, None, v]
    assert r.set("{t}a", b"new", get=True) == v
    assert r.getset("{t}a", v) == b"new"
    assert r.getex("{t}a", px=100000) == v
    assert 0 < r.pttl("{t}a") <= 100000
    assert r.append("{t}a", b"++") == len(v) + 2
    assert r.get("{t}a") == v + b"++"
    assert r.copy("{t}a", "{t}b")
    assert r.append("{t}b", b"b") == len(v) + 3
    assert r.get("{t}a") == v + b"++"
    assert r.get("{t}b") == v + b"++b"
    p = r.pipeline(transaction=True)
    p.get("{t}a").setrange("{t}a", 0, b"Q").get("{t}a")
    got = p.execute()
    assert got[0] == v + b"++" and got[2] == b"Q" + v[1:] + b"++"
    assert r.getdel("{t}a") == b"Q" + v[1:] + b"++"
    assert r.exists("{t}a") == 0
    # Across shards (when there are several): RENAME carries the value over.
    r.set("x1", v)
    r.rename("x1", "y2")
    assert r.get("y2") == v
    assert r.mget("y2", "x1") == [v, None]


def test_big_values_resp3(server):
    c = server.raw()
    try:
        assert c.cmd("HELLO", "3").startswith(b"%")
        v = pattern(100000, 4)
        assert c.cmd("SET", "k", v) == b"+OK\r\n"
        assert c.cmd("GET", "k") == bulk(v)
        assert c.cmd("GETDEL", "k") == bulk(v)
        assert c.cmd("GET", "k") == b"_\r\n"
    finally:
        c.close()


def build_set(conn, key, n, chunk=1000):
    sent = 0
    while sent < n:
        batch = []
        for _ in range(50):
            if sent >= n:
                break
            m = min(chunk, n - sent)
            batch.append(encode("SADD", key, *[b"m%d" % i for i in range(sent, sent + m)]))
            sent += m
        conn.send(b"".join(batch))
        for _ in batch:
            rep = conn.read_reply()
            assert rep.startswith(b":"), rep


class Pinger(threading.Thread):
    """PINGs one at a time on its own connection, keeping the worst round trip."""

    def __init__(self, conn):
        super().__init__(daemon=True)
        self.conn = conn
        self.count = 0
        self.worst = 0.0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            t = time.perf_counter()
            assert self.conn.cmd("PING") == b"+PONG\r\n"
            self.worst = max(self.worst, time.perf_counter() - t)
            self.count += 1


def del_while_pinging(server, key, pinger_conn, deleter):
    p = Pinger(pinger_conn)
    p.start()
    try:
        wait_for(lambda: p.count >= 20, 30, what="pings before the DEL")
        p.worst = 0.0
        t = time.perf_counter()
        assert deleter.cmd("DEL", key) == b":1\r\n"
        del_time = time.perf_counter() - t
        seen = p.count
        wait_for(lambda: p.count >= seen + 50, 30, what="pings after the DEL")
    finally:
        p.stop.set()
        p.join(10)
    print(f"DEL {key}: {del_time * 1000:.2f} ms; worst PING meanwhile "
          f"{p.worst * 1000:.2f} ms over {p.count - seen + 1} PINGs")
    assert del_time < PING_BOUND, f"DEL {key} took {del_time * 1000:.1f} ms"
    assert p.worst < PING_BOUND, f"a PING took {p.worst * 1000:.1f} ms around DEL {key}"


def lazyfreed(conn):
    info = conn.call("INFO", "memory").decode()
    return int(info.split("lazyfreed_objects:")[1].split()[0])


@pytest.mark.slow
def test_del_huge_values_does_not_stall(server):
    n = server.shards
    key, skey = "{huge}str", "{huge}set"
    shard = shard_of(key, n)
    pc = conn_on_shard(server, shard)
    dc = server.raw()
    try:
        build_set(dc, skey, 1000000)
        assert dc.call("SCARD", skey) == 1000000
        # 200 MB without sending it: SETRANGE zero-fills up to the offset.
        assert dc.call("SETRANGE", key, 200 * MB - 1, "x") == 200 * MB
        before = lazyfreed(dc)
        del_while_pinging(server, skey, pc, dc)
        del_while_pinging(server, key, pc, dc)
        assert dc.call("EXISTS", key, skey) == 0
        # Both went to the background thread, which reports them freed (INFO memory).
        wait_for(lambda: lazyfreed(dc) >= before + 2, 30, what="lazyfreed_objects to count both")
    finally:
        pc.close()
        dc.close()
