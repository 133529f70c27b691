"""Crash tests of the effects the per-command table (test_persist_commands.py) cannot cover:
FLUSHALL/FLUSHDB, blocking pops served while their client waits (the element must not come
back after a restart), MULTI/EXEC, expiry (a key that expired stays gone; a TTL keeps its
exact PEXPIRETIME, also across two restarts), appendfsync everysec killed right after the
replies, and appendfsync no stopped by SHUTDOWN NOSAVE or SIGTERM."""
import signal
import time

import pytest

import test_persist_commands as table
from helpers import (conn_on_shard, decode, encode, is_redis_binary, shard_of, wait_blocked,
                     wait_for)
from persist_cmd_helpers import (COREKV_BIN, Keys, PersistServer, call, diff_states, read_state,
                                 restart_and_compare, run_commands, run_pipelined,
                                 shard_params)

SELF_TEST = is_redis_binary(COREKV_BIN)
SHARDS = [1] if SELF_TEST else shard_params()
shards_param = pytest.mark.parametrize("shards", SHARDS, ids=lambda n: f"shards{n}")


@shards_param
@pytest.mark.parametrize("verb", ["FLUSHALL", "FLUSHDB", "FLUSHALL SYNC", "FLUSHDB ASYNC"])
def test_flush_survives_kill9(tmp_path, shards, verb):
    """Keys on every shard, the flush, then new keys: only the new ones come back."""
    srv = PersistServer(shards, tmp_path)
    srv.start()
    try:
        with srv.raw() as c:
            keys = Keys(0, shards)
            run_commands(c, keys, [("MSET", "$A", 1, "$B", 2, "$C", 3), ("RPUSH", "$Gl", 1),
                                   ("SET", "$Gt", "v", "EX", 900)], "setup")
            assert call(c, *verb.split()) == b"OK"
            assert call(c, "DBSIZE") == 0
            later = Keys(1, shards)
            assert not run_commands(c, later, [("SET", "$B", "after"), ("SADD", "$C", "x")],
                                    "after the flush")
            before = read_state(c)
        assert len(before) == 2
        restart_and_compare(srv, before, verb)
    finally:
        if srv.alive():
            srv.terminate()


# A blocking command waiting on $A (and for moves pushing onto $B), then the push that
# serves it, what its client receives, and the state left.
BLOCKING = {
    "BLPOP": (("BLPOP", "$A", 0), ("RPUSH", "$A", "x", "y"), [b"p0.a", b"x"]),
    "BRPOP": (("BRPOP", "$C", "$A", 0), ("RPUSH", "$A", "x", "y"), [b"p0.a", b"y"]),
    "BLMOVE": (("BLMOVE", "$A", "$B", "LEFT", "RIGHT", 0), ("RPUSH", "$A", "x", "y"), b"x"),
    "BRPOPLPUSH": (("BRPOPLPUSH", "$A", "$B", 0), ("RPUSH", "$A", "x", "y"), b"y"),
    "BLMPOP": (("BLMPOP", 0, 2, "$C", "$A", "LEFT", "COUNT", 5), ("RPUSH", "$A", "x", "y"),
               [b"p0.a", [b"x", b"y"]]),
    "BZPOPMIN": (("BZPOPMIN", "$A", 0), ("ZADD", "$A", 1, "x", 2, "y"), [b"p0.a", b"x", b"1"]),
    "BZPOPMAX": (("BZPOPMAX", "$A", 0), ("ZADD", "$A", 1, "x", 2, "y"), [b"p0.a", b"y", b"2"]),
    "BZMPOP": (("BZMPOP", 0, 1, "$A", "MAX", "COUNT", 1), ("ZADD", "$A", 1, "x", 2, "y"),
               [b"p0.a", [[b"y", b"2"]]]),
}


@shards_param
@pytest.mark.parametrize("verb", sorted(BLOCKING))
def test_served_blocking_pop_survives_kill9(tmp_path, shards, verb):
    """The waiting client's connection lives on another shard than its keys; the push comes
    from a third connection. After kill -9 the popped element must not come back."""
    wait_cmd, push, want = BLOCKING[verb]
    srv = PersistServer(shards, tmp_path)
    srv.start()
    try:
        keys = Keys(0, shards)
        home = (shard_of(keys.map["$A"], shards) + 1) % shards
        waiter = conn_on_shard(srv, home)
        try:
            waiter.send(encode(*[keys.fill(a) for a in wait_cmd]))
            wait_blocked(srv, 1)
            with srv.raw() as c:
                assert not run_commands(c, keys, [push], verb)
            got = decode(waiter.read_reply())
        finally:
            waiter.close()
        want_full = want if not isinstance(want, list) else _fill_reply(want, keys)
        assert got == want_full, f"{verb} served {got!r}"
        wait_blocked(srv, 0)
        with srv.raw() as c:
            before = read_state(c)
        restart_and_compare(srv, before, f"{verb} served")
    finally:
        if srv.alive():
            srv.terminate()


def _fill_reply(want, keys):
    out = []
    for x in want:
        if isinstance(x, list):
            out.append(_fill_reply(x, keys))
        elif x == b"p0.a":
            out.append(keys.map["$A"].encode())
        else:
            out.append(x)
    return out


@shards_param
def test_multi_exec_survives_kill9(tmp_path, shards):
    """Writes of every kind inside one transaction, keys on several shards."""
    srv = PersistServer(shards, tmp_path)
    srv.start()
    try:
        with srv.raw() as c:
            keys = Keys(0, shards)
            assert not run_commands(c, keys, [("SADD", "$C", *[f"m{i}" for i in range(50)]),
                                              ("RPUSH", "$Gl", 1, 2, 3)], "setup")
            txn = [("MULTI",), ("SET", "$A", "v", "EX", 600), ("INCRBYFLOAT", "$B", "1.5"),
                   ("SPOP", "$C", 7), ("LMOVE", "$Gl", "$Gm", "LEFT", "RIGHT"),
                   ("MSET", "$Gx", 1, "$B.2", 2), ("EXPIRE", "$Gl", 1000), ("BLPOP", "$Gl", 0),
                   ("RENAME", "$Gx", "$A.r"), ("EXEC",)]
            replies = run_pipelined(c, keys, txn)
            assert replies[-1].startswith(b"*8\r\n"), replies[-1][:200]
            before = read_state(c)
        restart_and_compare(srv, before, "MULTI/EXEC")
    finally:
        if srv.alive():
            srv.terminate()


@shards_param
def test_expiry_survives_restarts(tmp_path, shards):
    """A key with a 100 ms TTL expires (read once, or left to active expiry) and stays gone; a
    key whose TTL is in the future keeps its exact PEXPIRETIME across two kills; a key that
    expires while the server is down is gone after the restart."""
    srv = PersistServer(shards, tmp_path)
    srv.start()
    try:
        with srv.raw() as c:
            k = Keys(0, shards)
            set_at = time.monotonic()
            assert not run_commands(c, k, [
                ("SET", "$A", "short", "PX", 100), ("RPUSH", "$B", "short"), ("PEXPIRE", "$B", 100),
                ("SET", "$C", "long", "EX", 5000), ("HSET", "$Gh", "f", "v"),
                ("PEXPIREAT", "$Gh", int(time.time() * 1000) + 4_000_000),
                ("SET", "$Gd", "down", "PX", 1500)], "setup")
            time.sleep(0.3)
            assert call(c, "GET", k.map["$A"]) is None  # lazily expired: logged as DEL
            wait_for(lambda: call(c, "EXISTS", k.map["$B"]) == 0, 5, what="active expiry")
            before = read_state(c)
        assert k.map["$C"].encode() in before and k.map["$A"].encode() not in before
        restart_and_compare(srv, before, "expiry, first restart")
        srv.kill9()
        # $Gd's 1500 ms deadline passes while the server is down.
        time.sleep(max(0.0, set_at + 1.6 - time.monotonic()))
        srv.restart()
        with srv.raw() as c:
            after = read_state(c)
        gone = "{p0}d".encode()
        assert gone not in after, "a key whose TTL passed while the server was down is back"
        del before[gone]
        assert not diff_states(before, after), diff_states(before, after)
    finally:
        if srv.alive():
            srv.terminate()


def _subset():
    """Every fourth scenario of the table: a smaller set for the other policies."""
    return table.SCENARIOS[::4]


def _run_subset(srv, shards, pipelined):
    names, problems = {}, []
    with srv.raw() as c:
        for i, (cmd, label, cmds) in enumerate(_subset()):
            keys = Keys(i, shards)
            names[keys.prefix] = f"{cmd}: {label}"
            if pipelined:
                run_pipelined(c, keys, cmds)
            else:
                problems += run_commands(c, keys, cmds, names[keys.prefix])
        before = read_state(c)
    assert not problems, "\n".join(problems)
    return before, names


def _final_batch():
    """Deterministic writes over every shard and their expected entries in read_state."""
    cmds, model = [], {}
    lists, hashes = {}, {}
    for j in range(120):
        k = f"p9999.s{j}"
        cmds.append(("SET", k, f"v{j}", "PXAT", table.FUT_MS + j))
        model[k.encode()] = (b"string", table.FUT_MS + j, f"v{j}".encode())
        lk = f"p9999.l{j % 7}"
        cmds.append(("RPUSH", lk, j))
        lists.setdefault(lk, []).append(str(j).encode())
        hk = f"p9999.h{j % 5}"
        cmds.append(("HSET", hk, f"f{j}", j))
        hashes.setdefault(hk, []).append((f"f{j}".encode(), str(j).encode()))
    for lk, v in lists.items():
        model[lk.encode()] = (b"list", -1, v)
    for hk, v in hashes.items():
        model[hk.encode()] = (b"hash", -1, sorted(v))
    return cmds, model


@shards_param
def test_everysec_kill9_right_after_the_replies(tmp_path, shards):
    """everysec: every write reaches the kernel before its reply, so SIGKILL of the process
    right after the last reply of a pipelined batch (no fsync yet) loses nothing."""
    srv = PersistServer(shards, tmp_path, fsync="everysec")
    srv.start()
    try:
        before, names = _run_subset(srv, shards, pipelined=False)
        cmds, model = _final_batch()
        with srv.raw() as c:
            c.send(b"".join(encode(*x) for x in cmds))
            for _ in cmds:
                c.read_reply()
            srv.proc.send_signal(signal.SIGKILL)  # at once, before the next fsync
        srv.wait_exit()
        before.update(model)
        before = restart_and_compare(srv, before, "everysec, kill right after the replies",
                                      names, how="already killed")
        restart_and_compare(srv, before, "everysec, second restart", names)
    finally:
        if srv.alive():
            srv.terminate()


@shards_param
@pytest.mark.parametrize("how", ["shutdown-nosave", "sigterm"])
def test_appendfsync_no_clean_stop_loses_nothing(tmp_path, shards, how):
    """appendfsync no: SHUTDOWN NOSAVE and SIGTERM flush and sync every shard's log."""
    srv = PersistServer(shards, tmp_path, fsync="no")
    srv.start()
    try:
        before, names = _run_subset(srv, shards, pipelined=False)
        if how == "sigterm":
            srv.terminate()
        else:
            with srv.raw() as c:
                c.send(encode("SHUTDOWN", "NOSAVE"))
                try:
                    c.read_reply()
                except Exception:
                    pass  # the connection closes without a reply
            assert srv.wait_exit() == 0
        restart_and_compare(srv, before, f"appendfsync no, {how}", names, how="clean")
    finally:
        if srv.alive():
            srv.terminate()
