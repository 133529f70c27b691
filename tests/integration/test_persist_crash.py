"""Durability under load: many clients write while the server is killed (SIGKILL at a random
moment) or shut down (SIGTERM, SHUTDOWN); after the restart on the same directory every
acknowledged write must be there (an unacknowledged one may or may not be). After a clean stop
a cross-shard MSET must be there whole or not at all; after SIGKILL a half one is reported as
a warning only (each shard has its own log; the contract promises nothing there).

Each writer thread (redis-py, its own connection) sends its own sequence, each command after the
previous reply: SET k:C:n, INCR cnt:C, RPUSH l:C, HSET h:C, ZADD z:C and a cross-shard MSET of
two keys (persist_load.Writer). What the server acknowledged is the model; the restarted
server's whole keyspace is compared with it.
"""
import random
import time

import pytest

from persist_helpers import server_set, shard_params, shutdown, stop_cleanly
from persist_load import Writer, check_writers, run_writers, wait_acks

pytestmark = pytest.mark.slow


@pytest.fixture
def servers(tmp_path):
    yield from server_set(tmp_path)


WRITERS = 24
ROUNDS = 5


def _kill_at_random(srv, writers, lo=0.2, hi=1.5):
    """act() for run_writers: once every writer is under way, SIGKILL after a random delay."""
    def act(_stop):
        wait_acks(writers, 1)
        time.sleep(random.uniform(lo, hi))  # the random moment is the point of the test
        srv.kill9()
    return act


@pytest.mark.parametrize("shards", shard_params(cheap=False), ids=lambda n: f"shards{n}")
def test_kill9_always_loses_nothing_acknowledged(servers, shards):
    """appendfsync always: a reply leaves only once its effect is on disk. Five crashes on the
    same directory; the state accumulates from round to round."""
    srv = servers.corekv(shards, flags={"appendonly": "yes", "appendfsync": "always"})
    writers = [Writer(i, shards) for i in range(WRITERS)]
    srv.start()
    for rnd in range(1, ROUNDS + 1):
        before = sum(w.acks for w in writers)
        run_writers(srv, writers, _kill_at_random(srv, writers))
        assert sum(w.acks for w in writers) > before, f"round {rnd}: no write was acknowledged"
        srv.start()
        check_writers(srv, writers, f"appendfsync always, round {rnd} of {ROUNDS}, "
                                    f"{shards} shards")
    stop_cleanly(srv)


@pytest.mark.parametrize("shards", shard_params(cheap=False), ids=lambda n: f"shards{n}")
def test_kill9_everysec_loses_nothing_acknowledged(servers, shards):
    """appendfsync everysec: the bytes reach the kernel before the reply, so killing the
    process alone (the machine stays up) loses nothing acknowledged."""
    srv = servers.corekv(shards, flags={"appendonly": "yes", "appendfsync": "everysec"})
    writers = [Writer(i, shards) for i in range(WRITERS)]
    srv.start()
    for rnd in range(1, 3):
        run_writers(srv, writers, _kill_at_random(srv, writers))
        srv.start()
        check_writers(srv, writers, f"appendfsync everysec, round {rnd}, {shards} shards")
    stop_cleanly(srv)


def _sigterm(srv):
    stop_cleanly(srv)


def _shutdown(*args):
    return lambda srv: shutdown(srv, *args)


STOPS = {"sigterm": _sigterm, "shutdown": _shutdown(), "shutdown-nosave": _shutdown("NOSAVE"),
         "shutdown-save": _shutdown("SAVE")}


@pytest.mark.parametrize("how", sorted(STOPS))
@pytest.mark.parametrize("shards", shard_params(cheap=False), ids=lambda n: f"shards{n}")
def test_clean_stop_appendfsync_no_loses_nothing(servers, shards, how):
    """appendfsync no: SIGTERM and SHUTDOWN (any form) flush and sync every shard's log before
    the process exits, so a stop in the middle of the writes loses nothing acknowledged."""
    srv = servers.corekv(shards, flags={"appendonly": "yes", "appendfsync": "no"})
    writers = [Writer(i, shards) for i in range(WRITERS)]
    srv.start()

    def act(_stop):
        wait_acks(writers, 1)
        time.sleep(random.uniform(0.2, 1.0))
        STOPS[how](srv)
    run_writers(srv, writers, act)
    srv.start()
    check_writers(srv, writers, f"appendfsync no, stopped by {how}, {shards} shards",
                  atomic=True)
    stop_cleanly(srv)


@pytest.mark.parametrize("shards", shard_params(cheap=False), ids=lambda n: f"shards{n}")
def test_shutdown_save_without_aof_keeps_everything(servers, shards):
    """appendonly no, no save rules: SHUTDOWN SAVE writes the snapshot while the writers are
    still sending; what was acknowledged before it is in the snapshot."""
    srv = servers.corekv(shards, flags={"appendonly": "no"})
    writers = [Writer(i, shards) for i in range(WRITERS)]
    srv.start()

    def act(_stop):
        wait_acks(writers, 1)
        time.sleep(random.uniform(0.2, 1.0))
        shutdown(srv, "SAVE")
    run_writers(srv, writers, act)
    srv.start()
    check_writers(srv, writers, f"appendonly no, SHUTDOWN SAVE, {shards} shards",
                  atomic=True)
    stop_cleanly(srv)
