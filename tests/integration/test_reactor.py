"""What a reactor must get right, whichever one serves (make test runs the suite with
COREKV_IO=epoll and COREKV_IO=uring): the reactor in use is the one asked for and is
reported; closed connections give their file descriptors back; many connections sending
at once (more than the io_uring reactor's receive buffers) are all served in full; a
reader that reads slowly gets every byte in order; half-closed connections get their
replies, then end-of-file."""
import os
import socket

import pytest

from helpers import decode, encode, wait_for

EXPECTED_IO = {"epoll": "epoll", "uring": "io_uring"}


def info_field(r, section, name):
    return r.info(section)[name]


def test_reactor_reported(server, r):
    io = os.environ.get("COREKV_IO")
    api = info_field(r, "server", "multiplexing_api")
    assert api in ("epoll", "io_uring")
    assert info_field(r, "server", "corekv_io") == api
    if io in EXPECTED_IO:
        assert api == EXPECTED_IO[io]
    assert f"{api} reactor" in server.log_text()


def open_fds(server):
    return len(os.listdir(f"/proc/{server.proc.pid}/fd"))


def test_closed_connections_release_their_fds(server, r):
    r.ping()
    base = open_fds(server)
    for _round in range(3):
        socks = [socket.create_connection((server.host, server.port)) for _ in range(200)]
        for i, s in enumerate(socks):
            s.sendall(encode("SET", f"fd:{i}", str(i)))
        for s in socks:
            assert s.recv(16) == b"+OK\r\n"
        # half of them leave abruptly (reset), half close normally
        for i, s in enumerate(socks):
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        wait_for(lambda: open_fds(server) <= base, timeout=10,
                 what="the server to close the connections' descriptors")
    assert int(info_field(r, "clients", "connected_clients")) == 1


def test_many_connections_sending_at_once(server):
    """300 connections each send a 64 KB pipeline in one go: more than the receive buffers
    the io_uring reactor provides (it must ask again when they run out)."""
    n, per, val = 300, 60, "v" * 1000
    socks = [socket.create_connection((server.host, server.port)) for _ in range(n)]
    try:
        for i, s in enumerate(socks):
            s.sendall(b"".join(encode("SET", f"m:{i}:{j}", val) for j in range(per)))
        for s in socks:
            s.settimeout(30)
            want = b"+OK\r\n" * per
            got = b""
            while len(got) < len(want):
                chunk = s.recv(65536)
                assert chunk, "connection closed early"
                got += chunk
            assert got == want
        with server.raw() as c:
            assert decode(c.cmd("DBSIZE")) == n * per
            assert decode(c.cmd("GET", f"m:{n - 1}:{per - 1}")) == val.encode()
    finally:
        for s in socks:
            s.close()


def test_slow_reader_gets_every_byte_in_order(server):
    """Replies far larger than the socket buffers, read in small pieces: every send is
    short, and each resumes at the exact next byte."""
    with server.raw() as c:
        for i in range(8):
            assert c.cmd("SET", f"big:{i}", bytes([65 + i]) * 300000) == b"+OK\r\n"
    s = socket.create_connection((server.host, server.port))
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(b"".join(encode("GET", f"big:{i % 8}") for i in range(40)))
        s.settimeout(30)
        want = b"".join(b"$300000\r\n" + bytes([65 + i % 8]) * 300000 + b"\r\n"
                        for i in range(40))
        got = bytearray()
        while len(got) < len(want):
            chunk = s.recv(16384)
            assert chunk, "connection closed early"
            got += chunk
        assert bytes(got) == want
    finally:
        s.close()


def test_half_close_gets_replies_then_eof(server):
    s = socket.create_connection((server.host, server.port))
    try:
        s.sendall(b"".join(encode("INCR", "hc") for _ in range(100)) + encode("PING"))
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        assert got == b"".join(b":%d\r\n" % i for i in range(1, 101)) + b"+PONG\r\n"
    finally:
        s.close()


@pytest.mark.parametrize("size", [1, 4095, 4096, 16384, 16385, 70000])
def test_values_across_receive_buffer_edges(server, size):
    """A command split over several receives (the io_uring reactor's buffers are 16 KB)."""
    val = os.urandom(size)
    with server.raw() as c:
        assert c.cmd("SET", "edge", val) == b"+OK\r\n"
        assert decode(c.cmd("GET", "edge")) == val
