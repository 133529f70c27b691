"""maxclients: the client over the limit gets Redis's error and is closed, on whichever
shard accepted it; the others carry on, and a freed place can be taken again."""
import time

import pytest


@pytest.fixture
def restore_maxclients(server):
    yield
    with server.raw() as c:
        c.cmd("CONFIG", "SET", "maxclients", "10000")


def connected(conn):
    info = conn.call("INFO", "clients")
    assert isinstance(info, bytes), info
    fields = dict(l.split(b":", 1) for l in info.splitlines() if b":" in l)
    return int(fields[b"connected_clients"])


def test_maxclients(server, restore_maxclients):
    with server.raw() as admin:
        base = connected(admin)  # admin included
        assert admin.cmd("CONFIG", "SET", "maxclients", str(base + 2)) == b"+OK\r\n"
        kept = [server.raw(), server.raw()]
        try:
            for c in kept:
                assert c.cmd("PING") == b"+PONG\r\n"
            with server.raw() as over:  # the error, then the server closes it
                assert over.read_until_close() == b"-ERR max number of clients reached\r\n"
            for c in kept:
                assert c.cmd("PING") == b"+PONG\r\n"
            assert admin.cmd("PING") == b"+PONG\r\n"
        finally:
            for c in kept:
                c.close()
        # Closes are noticed asynchronously: wait until the places are free again.
        deadline = time.monotonic() + 10
        while connected(admin) > base and time.monotonic() < deadline:
            pass
        assert connected(admin) == base
        with server.raw() as again:
            assert again.cmd("PING") == b"+PONG\r\n"
