"""Output buffer limits (client-output-buffer-limit): a client that does not read its
replies is disconnected past the hard limit, or past the soft limit for longer than its
seconds, as Redis does; other clients and the server carry on. CONFIG SET/GET of the
parameter match redis-server byte for byte, errors included. CLIENT LIST's obl/oll/omem
measure the real unsent output.

Pub/sub-class slow subscribers are tested with pub/sub (test_pubsub*.py)."""
import re
import socket
import time

import pytest

from helpers import encode, wait_for

DEFAULT = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
VALUE = b"v" * 100_000


@pytest.fixture
def restore_limits(server):
    yield
    with server.raw() as c:
        assert c.cmd("CONFIG", "SET", "client-output-buffer-limit", DEFAULT) == b"+OK\r\n"


def slow_reader(server, rcvbuf=64 * 1024):
    """A raw socket with a small receive buffer that the test never reads."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", server.port))
    return s


def send_quietly(sock, data):
    """Send; False once the server has closed the connection."""
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


def closed_within(sock, timeout):
    """Whether the server closes the socket within timeout; unread bytes are drained."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            d = sock.recv(1 << 20)
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        if not d:
            return True
    return False


def client_fields(conn, name):
    """The CLIENT LIST fields of the connection named `name`, or None."""
    lines = conn.call("CLIENT", "LIST").decode().splitlines()
    for line in lines:
        f = dict(kv.split("=", 1) for kv in line.split(" ") if "=" in kv)
        if f.get("name") == name:
            return f
    return None


def still_serving(server):
    with server.raw() as c:
        assert c.cmd("PING") == b"+PONG\r\n"
        assert c.cmd("GET", "big") == b"$100000\r\n" + VALUE + b"\r\n"
        info = c.call("INFO", "clients")
        assert b"connected_clients:" in info


def test_hard_limit_normal(server, restore_limits):
    with server.raw() as admin:
        assert admin.cmd("SET", "big", VALUE) == b"+OK\r\n"
        assert admin.cmd("CONFIG", "SET", "client-output-buffer-limit",
                         "normal 1mb 0 0") == b"+OK\r\n"
        bystander = server.raw()
        assert bystander.cmd("PING") == b"+PONG\r\n"
        s = slow_reader(server)
        n = 200  # 20 MB of replies, never read
        send_quietly(s, encode("GET", "big") * n)
        assert closed_within(s, 10), "the client over the hard limit was not disconnected"
        s.close()
        # Nobody else noticed: the bystander and new clients are served.
        assert bystander.cmd("GET", "big") == b"$100000\r\n" + VALUE + b"\r\n"
        bystander.close()
        still_serving(server)
    assert re.search(r"Client id=\d+ .* scheduled to be closed ASAP for overcoming of output "
                     r"buffer limits\.", server.log_text())


def test_under_the_limit_reads_everything(server, restore_limits):
    """The same pipeline without a limit (and a reader) gets every reply."""
    with server.raw() as admin:
        assert admin.cmd("SET", "big", VALUE) == b"+OK\r\n"
        c = server.raw()
        n = 30
        c.send(encode("GET", "big") * n)
        want = b"$100000\r\n" + VALUE + b"\r\n"
        for _ in range(n):
            assert c.read_reply() == want
        assert c.cmd("PING") == b"+PONG\r\n"
        c.close()


def test_soft_limit_after_seconds(server, restore_limits):
    with server.raw() as admin:
        assert admin.cmd("SET", "big", VALUE) == b"+OK\r\n"
        assert admin.cmd("CONFIG", "SET", "client-output-buffer-limit",
                         "normal 0 512kb 1") == b"+OK\r\n"
        s = slow_reader(server)
        start = time.monotonic()
        burst = encode("GET", "big") * 10
        closed = False
        # Keep the unread output above the soft limit (each burst is checked as it is
        # emitted) until the server gives up on the client.
        while time.monotonic() - start < 15 and not closed:
            if not send_quietly(s, burst):
                closed = True
                break
            closed = _eof_now(s)
            time.sleep(0.05)  # pacing the writer, not synchronisation
        if not closed:
            closed = closed_within(s, 5)
        elapsed = time.monotonic() - start
        s.close()
        assert closed, "the client over the soft limit was never disconnected"
        assert elapsed >= 0.95, f"disconnected after {elapsed:.2f}s, before soft_seconds"
        still_serving(server)


def _eof_now(sock):
    """Whether the server has closed the socket (without reading its data)."""
    sock.setblocking(False)
    try:
        d = sock.recv(1, socket.MSG_PEEK)
        return d == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.setblocking(True)
        sock.settimeout(10)


def test_omem_counts_unsent_output(server, restore_limits):
    with server.raw() as admin:
        assert admin.cmd("SET", "big", VALUE) == b"+OK\r\n"
        idle = server.raw()
        assert idle.cmd("CLIENT", "SETNAME", "idle") == b"+OK\r\n"
        f = client_fields(admin, "idle")
        assert (f["obl"], f["oll"], f["omem"]) == ("0", "0", "0"), f
        s = slow_reader(server)
        s.sendall(encode("CLIENT", "SETNAME", "stuck") + encode("GET", "big") * 100)
        # 10 MB cannot all sit in the socket buffers: the rest is unsent output.
        f = wait_for(lambda: (lambda g: g if g and int(g["omem"]) > 1_000_000 else None)(
            client_fields(admin, "stuck")), 10, what="omem of the stuck client")
        # As Redis: obl is what its 16 KB reply buffer holds, omem the rest.
        assert int(f["obl"]) <= 16384, f
        assert int(f["tot-mem"]) >= int(f["omem"]), f
        s.close()
        idle.close()


# --- CONFIG SET / GET, compared with redis-server ---

VALUES = [
    "", "normal 1mb 2mb 3", "replica 1 2 3 pubsub 4kb 5KB 6", "NORMAL 1 2 3",
    "normal 1 2 3 normal 4 5 6", "Slave 7 8 9", "pubsub 1gb 1g 0", "normal 1b 1B 1",
    "normal 18446744073709551615 0 0", "normal 18446744073709551616 0 0",
    "normal 18446744073709551615kb 99999999999999999999999999gb 0",
    "normal  1 2", "normal 1  2", "normal 1 2 +5", "normal 1 2 \t5", "normal 1 2 007",
    "normal 1 2 -0", "normal 1 2 2147483647", "normal 1 2 4294967296",
    "normal 1 2 -4294967295", "normal 1 2 -99999999999999999999",
    # errors
    "wrong number", "normal 1 2 3 4", "normal 1 2  3", " normal 1 2 3", "normal 1 2 3 ",
    "invalid_class 10mb 10mb 60", "master 10mb 10mb 60", "normal 1 2 3 bad 1 2 3",
    "bad 1x 2 3", "normal 1x 2 3 bad 1 2 3", "normal 10mbs 10mb 60", "normal 10mb 10mbs 60",
    "normal 10mb 10mb 60s", "normal 10mb 10mb -1", "normal -1 10mb 60", "normal -0 0 0",
    "normal 0x10 0 0", "normal +5 0 0", "normal 1.5mb 0 0", "normal 1t 0 0",
    "normal 1 2 2147483648", "normal 1 2 9223372036854775807", "normal 1 2 99999999999999999999",
    "normal 1 2 5\t", "normal 1 2 0x5", "normal 1 2 1e3", "normal 1 2 5kb", "normal 1 2 -",
    "normal " + "1" * 130 + " 0 0", "normal 1 2 3\x00junk", "normal\x00x 4 5 6",
    "pubsub 1 2 3 normal 5",
]


def test_config_matches_redis(server, redis_ref, restore_limits):
    core, ref = server.raw(), redis_ref.raw()
    try:
        for v in VALUES:
            got = core.cmd("CONFIG", "SET", "client-output-buffer-limit", v)
            want = ref.cmd("CONFIG", "SET", "client-output-buffer-limit", v)
            assert got == want, f"CONFIG SET {v!r}"
            got = core.cmd("CONFIG", "GET", "client-output-buffer-limit")
            want = ref.cmd("CONFIG", "GET", "client-output-buffer-limit")
            assert got == want, f"CONFIG GET after {v!r}"
        # Several parameters at once: all or nothing.
        for args in (["client-output-buffer-limit", "normal 5 6 7", "timeout", "abc"],
                     ["client-output-buffer-limit", "normal 5 6", "timeout", "0"],
                     ["client-output-buffer-limit", "normal 5 6 7", "client-output-buffer-limit",
                      "normal 1 2 3"],
                     ["timeout", "0", "client-output-buffer-limit", "pubsub 9 8 7"]):
            got = core.cmd("CONFIG", "SET", *args)
            want = ref.cmd("CONFIG", "SET", *args)
            assert got == want, f"CONFIG SET {args!r}"
            got = core.cmd("CONFIG", "GET", "client-output-buffer-limit")
            want = ref.cmd("CONFIG", "GET", "client-output-buffer-limit")
            assert got == want, f"CONFIG GET after {args!r}"
        assert core.cmd("CONFIG", "GET", "client-output*") == ref.cmd("CONFIG", "GET",
                                                                      "client-output*")
    finally:
        ref.cmd("CONFIG", "SET", "client-output-buffer-limit", DEFAULT)
        core.close()
        ref.close()


def test_config_default(server):
    with server.raw() as c:
        assert c.call("CONFIG", "GET", "client-output-buffer-limit") == [
            b"client-output-buffer-limit", DEFAULT.encode()]
