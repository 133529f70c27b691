"""Bad input and protocol limits. Each bad input goes on its own connection while other
connections (spread over the shards) keep working and keep their data; where Redis's
behaviour is deterministic, corekv's replies and the close are compared with redis-server."""
import socket

import pytest

from helpers import encode, spread_keys


class Bystanders:
    """Connections that set a key each before the bad input and check it afterwards."""

    def __init__(self, server, n):
        self.conns = [server.raw() for _ in range(n)]
        self.keys = spread_keys(server.shards, "by", max(1, (n + server.shards - 1) // server.shards))
        for i, c in enumerate(self.conns):
            k = self.keys[i % len(self.keys)]
            assert c.cmd("SET", k, f"val-{i}") == b"+OK\r\n"
        self.n = n

    def check(self):
        expect = {}
        for i in range(self.n):
            expect[self.keys[i % len(self.keys)]] = f"val-{i}".encode()
        for c in self.conns:
            assert c.cmd("PING") == b"+PONG\r\n", "a bystander connection stopped answering"
            for k, v in expect.items():
                assert c.cmd("GET", k) == b"$%d\r\n%s\r\n" % (len(v), v)

    def close(self):
        for c in self.conns:
            c.close()


@pytest.fixture
def bystanders(server):
    b = Bystanders(server, 2 * server.shards + 1)
    yield b
    b.check()
    b.close()


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def expect_error_then_close(server, data, error):
    with server.raw() as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            out = c.read_until_close(timeout=10)
        except socket.timeout:
            pytest.fail(f"server kept the connection open after {data[:60]!r}")
        assert out == error, f"after {data[:60]!r}: got {out[:200]!r}"


# ------------------------------------------------------------------- differential cases

PROTOCOL_CASES = [
    # (id, bytes, number of replies to read)
    ("garbage-printable", b"garbage\xff\x01 stuff\r\n", 1),
    ("negative-multibulk", b"*-5\r\nPING\r\n", 1),
    ("multibulk-minus-one", b"*-1\r\nPING\r\n", 1),
    ("multibulk-zero", b"*0\r\nPING\r\n", 1),
    ("multibulk-abc", b"*abc\r\n", 1),
    ("multibulk-empty", b"*\r\n", 1),
    ("multibulk-space", b"* 1\r\n$4\r\nPING\r\n", 1),
    ("multibulk-leading-zero", b"*01\r\n$4\r\nPING\r\n", 1),
    ("multibulk-lf-only", b"*1\n$4\r\nPING\r\n", 1),
    ("multibulk-over-int-max", b"*1\r\n$4\r\nPING\r\n*2147483648\r\n", 2),
    ("bulk-99999999999", b"*1\r\n$99999999999\r\n", 1),
    ("bulk-99999999999-second-arg", b"*2\r\n$3\r\nGET\r\n$99999999999\r\n", 1),
    ("bulk-2GiB", b"*1\r\n$2147483648\r\n", 1),
    ("bulk-over-512MiB", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870913\r\n", 1),
    ("bulk-minus-one", b"*1\r\n$-1\r\n", 1),
    ("bulk-abc", b"*1\r\n$abc\r\n", 1),
    ("bulk-empty-len", b"*1\r\n$\r\n", 1),
    ("bulk-space", b"*1\r\n$ 4\r\nPING\r\n", 1),
    ("bulk-plus", b"*1\r\n$+4\r\nPING\r\n", 1),
    ("bulk-lf-only", b"*1\r\n$4\nPING\r\n", 1),
    ("expected-dollar", b"*1\r\nfoo\r\n", 1),
    ("expected-dollar-colon", b"*1\r\n:4\r\n", 1),
    ("empty-command-name", b"*1\r\n$0\r\n\r\n", 1),
    ("empty-arg", b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", 1),
    ("inline-dollar", b"$3\r\nfoo\r\n", 2),
    ("unbalanced-quotes", b'PING\r\nECHO "abc\r\n', 2),
    ("inline-too-big", b"x" * (70 * 1024), 1),
    ("inline-too-big-after-command", b"PING\r\n" + b"y" * (65 * 1024 + 10), 2),
    ("error-after-pipelined-commands", b"SET pk 1\r\nGET pk\r\n*abc\r\nSET pk 2\r\n", 3),
]


@pytest.mark.differential
@pytest.mark.parametrize("data,nreplies", [c[1:] for c in PROTOCOL_CASES],
                         ids=[c[0] for c in PROTOCOL_CASES])
def test_bad_input_differential(differ, bystanders, data, nreplies):
    differ.check_raw(data, nreplies)


def test_protocol_error_closes_and_later_commands_do_not_run(server, bystanders, nshards):
    keys = spread_keys(nshards, "pe", 2)
    data = b"".join(encode("SET", k, "1") for k in keys) + b"*abc\r\n" + \
        b"".join(encode("SET", k, "2") for k in keys)
    with server.raw() as c:
        c.send(data)
        out = c.read_until_close(timeout=10)
    assert out == b"+OK\r\n" * len(keys) + b"-ERR Protocol error: invalid multibulk length\r\n"
    with server.client() as r:
        assert r.mget(keys) == [b"1"] * len(keys)


def test_protocol_error_after_forwarded_commands_keeps_order(server, bystanders, nshards):
    """Replies of earlier (forwarded) commands are all sent before the protocol error."""
    keys = spread_keys(nshards, "po", 4)
    with server.client() as r:
        r.mset({k: "v" + k for k in keys})
    data = b"".join(encode("GET", k) for k in keys) * 20 + encode("MGET", *keys) + \
        b"*1\r\n$99999999999\r\n"
    with server.raw() as c:
        c.send(data)
        out = c.read_until_close(timeout=10)
    exp = b"".join(b"$%d\r\nv%s\r\n" % (len(k) + 1, k.encode()) for k in keys) * 20
    exp += b"*%d\r\n" % len(keys) + b"".join(b"$%d\r\nv%s\r\n" % (len(k) + 1, k.encode())
                                             for k in keys)
    exp += b"-ERR Protocol error: invalid bulk length\r\n"
    assert out == exp


# ------------------------------------------------------------------- no-crash cases

def _send_and_half_close(server, data):
    """Send data, half-close, and read until the server closes: the server has then seen
    all of it. Returns what the server answered."""
    with server.raw(timeout=10) as c:
        try:
            c.send(data)
            c.sock.shutdown(socket.SHUT_WR)
            return c.read_until_close()
        except (BrokenPipeError, ConnectionResetError):
            return b""


def test_garbage_with_nul_bytes(server, bystanders):
    # Redis waits for a newline here (it scans with strchr); an error, a close or silence are
    # all acceptable, as long as nothing crashes and other clients carry on.
    _send_and_half_close(server, b"\x00\x01\x02garbage\xff\r\n\x00\x00\r\n")


def test_random_binary_garbage(server, bystanders):
    import random
    rnd = random.Random(1)
    for i in range(30):
        _send_and_half_close(server, bytes(rnd.getrandbits(8)
                                           for _ in range(rnd.randint(1, 3000))))
    # the same, biased towards protocol-looking bytes
    alphabet = b"*$\r\n0123456789-+:abcSETGET "
    for i in range(30):
        _send_and_half_close(server, bytes(rnd.choice(alphabet)
                                           for _ in range(rnd.randint(1, 500))))


def test_incomplete_command_then_close(server, bystanders, r):
    for data in (b"*1\r\n$3\r\nfoo", b"*3\r\n$3\r\nSET\r\n$2\r\nic\r\n$100\r\nabc",
                 b"*3\r\n$3\r\nSET\r\n$2\r\nic\r\n", b"*2", b"*2\r\n$3\r\nGE", b"PIN",
                 b"*3\r\n$3\r\nSET\r\n$2\r\nic\r\n$1000000\r\n" + b"z" * 500000):
        c = server.raw()
        c.send(data)
        c.close()
    assert r.exists("ic") == 0


def test_huge_multibulk_count_does_not_preallocate(server, bystanders):
    """A client-controlled count must not size an allocation (DESIGN.md section 5)."""
    pid = server.proc.pid
    before = vm_rss_kb(pid)
    conns = []
    for _ in range(8):
        c = server.raw()
        c.send(b"*2147483647\r\n$4\r\nPING\r\n")
        conns.append(c)
    for _ in range(8):
        c = server.raw()
        c.send(b"*1048576\r\n")
        conns.append(c)
    with server.raw() as probe:  # everything above has been read by now on its shard
        assert probe.cmd("PING") == b"+PONG\r\n"
    for c in conns:
        c.send(b"$4\r\nPING\r\n")
    with server.raw() as probe:
        assert probe.cmd("PING") == b"+PONG\r\n"
    after = vm_rss_kb(pid)
    for c in conns:
        c.close()
    assert after - before < 256 * 1024, f"RSS grew by {(after - before) // 1024} MiB"


def test_bulk_length_does_not_preallocate(server, bystanders):
    pid = server.proc.pid
    before = vm_rss_kb(pid)
    conns = []
    for _ in range(16):
        c = server.raw()
        c.send(b"*3\r\n$3\r\nSET\r\n$2\r\nbk\r\n$536870912\r\nabc")
        conns.append(c)
    with server.raw() as probe:
        assert probe.cmd("PING") == b"+PONG\r\n"
        assert probe.cmd("INFO", "clients")[:1] == b"$"
    after = vm_rss_kb(pid)
    for c in conns:
        c.close()
    assert after - before < 256 * 1024, f"RSS grew by {(after - before) // 1024} MiB"


# ------------------------------------------------------------------- configurable limits

@pytest.fixture
def restore_limits(server):
    yield
    with server.raw() as c:
        c.cmd("CONFIG", "SET", "client-query-buffer-limit", "1gb")
        c.cmd("CONFIG", "SET", "proto-max-bulk-len", "512mb")


def _closed_after_sending(server, data):
    c = server.raw()
    try:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            return True, b""
        closed = c.is_closed(timeout=5)
        return closed, bytes(c.buf)
    finally:
        c.close()


@pytest.mark.parametrize("target", ["corekv", "redis"])
def test_query_buffer_limit(request, server, restore_limits, target):
    if target == "redis":
        srv = request.getfixturevalue("redis_ref")
        nconn = 1
    else:
        srv = server
        request.getfixturevalue("bystanders")
        nconn = 2 * server.shards  # connections land on every shard
    with srv.raw() as c:
        assert c.cmd("CONFIG", "SET", "client-query-buffer-limit", "1mb") == b"+OK\r\n"
    for _ in range(nconn):
        # a 2 MB incomplete bulk
        closed, got = _closed_after_sending(
            srv, b"*3\r\n$3\r\nSET\r\n$2\r\nqb\r\n$3000000\r\n" + b"x" * 2000000)
        assert closed, "connection not closed past client-query-buffer-limit"
        assert got == b""
    # many complete small commands are fine
    with srv.raw() as c:
        data = b"".join(encode("SET", f"qs{i}", "y" * 30000) for i in range(60))
        c.send(data)
        for _ in range(60):
            assert c.read_reply() == b"+OK\r\n"
    with srv.raw() as c:
        assert c.cmd("EXISTS", "qb") == b":0\r\n"


@pytest.mark.differential
def test_proto_max_bulk_len_lowered(differ, restore_limits, bystanders):
    for srv in (differ.core, differ.ref):
        with srv.raw() as c:
            assert c.cmd("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"+OK\r\n"
    for _ in range(2 * differ.core.shards):  # fresh connections land on every shard
        differ.check_raw(b"*3\r\n$3\r\nSET\r\n$2\r\npm\r\n$2000000\r\n", 1)
    differ.check_raw(b"*3\r\n$3\r\nSET\r\n$2\r\npm\r\n$1048577\r\n", 1)
    big = b"y" * 1048576
    differ.check_raw(b"*3\r\n$3\r\nSET\r\n$2\r\npm\r\n$1048576\r\n" + big + b"\r\n", 1)
    differ.check([
        ("STRLEN", "pm"), ("APPEND", "pm", "z"), ("SETRANGE", "pm", "1048576", "z"),
        ("SETRANGE", "pm", "1048575", "z"), ("STRLEN", "pm"), ("SETRANGE", "pm2", "1048576", "z"),
        ("EXISTS", "pm2"), ("APPEND", "pm3", "q"), ("SETRANGE", "pm3", "2000000", ""),
    ])
