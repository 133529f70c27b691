"""Snapshots and log rewrites: BGSAVE is one point in time across shards even under concurrent
writes; SAVE, LASTSAVE and save rules; BGREWRITEAOF under writes and the automatic rewrite.

A snapshot is read back by starting a server with appendonly no on a copy of its files."""
import glob
import os
import random
import shutil
import threading
import time

import pytest

from helpers import wait_for
from persist_helpers import (SELF_TEST, check_aof, check_rdb, keyspace, log_tail, manifests,
                             parse_manifest, rdb_paths, server_set, shard_params, stop_cleanly,
                             wait_info)
from persist_load import (Writer, check_writers, fill_all_types, keys_on_two_shards, run_writers,
                          wait_acks)


@pytest.fixture
def servers(tmp_path):
    yield from server_set(tmp_path)


def _filler(srv, n, size=64):
    """n keys fill:i of `size` bytes, so a snapshot takes a while to walk."""
    v = b"f" * size
    with srv.client() as c:
        for start in range(0, n, 5000):
            p = c.pipeline(transaction=False)
            for i in range(start, min(n, start + 5000)):
                p.set(f"fill:{i}", v)
            p.execute()


# --------------------------------------------------------------------------------------------
# BGSAVE: one point in time
# --------------------------------------------------------------------------------------------

class CounterWriter:
    """INCR c:i, then MSET of two keys on different shards to the value INCR returned.
    last: the last INCR value acknowledged; hi[r]: the first value whose INCR was sent after
    the reply of BGSAVE number r had been read (armed[0] == r when it was sent)."""

    def __init__(self, i, nshards):
        self.key = f"c:{i}"
        self.pa, self.pb = keys_on_two_shards(f"p:{i}:", nshards)
        self.last = 0
        self.hi = {}
        self.error = None

    def run(self, srv, stop, armed):
        c = srv.client()
        try:
            while not stop.is_set():
                rnd = armed[0]  # read before the INCR is sent
                v = c.incr(self.key)
                if v != self.last + 1:
                    raise AssertionError(f"INCR {self.key} gave {v} after {self.last}")
                self.last = v
                if rnd and rnd not in self.hi:
                    self.hi[rnd] = v
                assert c.mset({self.pa: v, self.pb: v}) is True
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = f"{self.key}: {e!r}"
        finally:
            c.close()


def _check_point_in_time(ks, writers, bounds):
    probs = []
    for w, (lo, hi) in zip(writers, bounds):
        e = ks.get(w.key.encode())
        v = int(e[1]) if e else 0
        if not lo <= v <= hi:
            probs.append(f"{w.key} = {v} in the snapshot: outside [{lo}, {hi}] (last acknowledged "
                         f"before BGSAVE was sent, first sent after its reply)")
        pa, pb = (ks.get(k.encode()) for k in (w.pa, w.pb))
        pa, pb = (int(x[1]) if x else 0 for x in (pa, pb))
        if pa != pb:
            probs.append(f"{w.pa} = {pa} but {w.pb} = {pb}: MSET half in the snapshot")
        if pa not in (v, v - 1):
            probs.append(f"{w.pa} = {pa} but {w.key} = {v} (MSET follows INCR: {v - 1} or {v})")
    return probs


@pytest.mark.slow
@pytest.mark.parametrize("shards", shard_params(cheap=False), ids=lambda n: f"shards{n}")
def test_bgsave_is_one_point_in_time(servers, shards, tmp_path):
    srv = servers.corekv(shards, flags={"appendonly": "no"})
    srv.start()
    _filler(srv, 100_000)
    writers = [CounterWriter(i, shards) for i in range(8)]
    stop, armed = threading.Event(), [0]
    threads = [threading.Thread(target=w.run, args=(srv, stop, armed), daemon=True)
               for w in writers]
    for t in threads:
        t.start()
    snaps = []
    try:
        with srv.raw() as c:
            for rnd in (1, 2, 3):
                wait_for(lambda: all(w.last >= 10 * rnd or w.error for w in writers), 30,
                         what="writers under way")
                saves = srv.info()["rdb_saves"]
                lo = [w.last for w in writers]  # acknowledged before BGSAVE is sent
                reply = c.cmd("BGSAVE")
                assert reply == b"+Background saving started\r\n", reply
                armed[0] = rnd
                wait_for(lambda: all(rnd in w.hi or w.error for w in writers), 30,
                         what="a write after BGSAVE's reply from every writer")
                info = wait_info(srv, lambda i: i["rdb_saves"] > saves and
                                 i["rdb_bgsave_in_progress"] == 0, 60, "BGSAVE done")
                assert info["rdb_last_bgsave_status"] == "ok", info
                copy = os.path.join(str(tmp_path), f"snap{rnd}")
                os.makedirs(copy)
                for f in rdb_paths(srv):
                    shutil.copy(f, copy)
                snaps.append((copy, [(lo[i], w.hi[rnd]) for i, w in enumerate(writers)]))
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    errors = [w.error for w in writers if w.error]
    assert not errors, errors
    srv.kill9()
    for rnd, (copy, bounds) in enumerate(snaps, 1):
        back = servers.corekv(shards, data_dir=copy, flags={"appendonly": "no"},
                              name=f"snap{rnd}")
        back.start(timeout=60)
        ks = keyspace(back)
        back.kill9()
        fills = sum(1 for k in ks if k.startswith(b"fill:"))
        assert fills == 100_000, f"snapshot {rnd}: {fills} of 100000 filler keys"
        probs = _check_point_in_time(ks, writers, bounds)
        assert not probs, f"snapshot {rnd} of {shards} shards:\n" + "\n".join(probs[:20])


# --------------------------------------------------------------------------------------------
# SAVE, LASTSAVE, save rules
# --------------------------------------------------------------------------------------------

def _lastsave(srv):
    with srv.raw() as c:
        return c.call("LASTSAVE")


@pytest.mark.parametrize("shards", shard_params(cheap=True), ids=lambda n: f"shards{n}")
def test_save_writes_checked_files_and_lastsave_advances(servers, shards):
    srv = servers.corekv(shards)
    srv.start()
    with srv.client() as c:
        fill_all_types(c)
        before = srv.info()
        assert before["rdb_changes_since_last_save"] > 0
        assert c.execute_command("SAVE") is True
        after = srv.info()
    assert after["rdb_saves"] == before["rdb_saves"] + 1, after
    assert after["rdb_changes_since_last_save"] == 0, after
    first = _lastsave(srv)
    assert after["rdb_last_save_time"] == first
    assert abs(first - time.time()) < 5
    for i, path in enumerate(rdb_paths(srv)):
        assert os.path.exists(path), f"SAVE replied +OK but {path} does not exist"
        ok, out = check_rdb(path)
        assert ok, f"redis-check-rdb {path}:\n{out}"
        if not SELF_TEST:
            for field, val in (("corekv-shard", i), ("corekv-shards", shards)):
                assert f"{field} = '{val}'" in out, f"{path}: no aux field {field}={val}:\n{out}"
    wait_for(lambda: time.time() >= first + 1.05, 3, what="the next second")
    with srv.client() as c:
        assert c.execute_command("SAVE") is True
    assert _lastsave(srv) > first
    stop_cleanly(srv)


@pytest.mark.parametrize("shards", shard_params(cheap=True), ids=lambda n: f"shards{n}")
def test_save_rule_fires_after_a_change(servers, shards):
    """save "1 1": a change is saved about a second later, as BGSAVE would: every shard's file,
    counted in rdb_saves."""
    srv = servers.corekv(shards)
    srv.start()
    with srv.client(decode_responses=True) as c:
        assert c.config_set("save", "1 1") is True
        assert c.config_get("save") == {"save": "1 1"}
        saves, t0 = srv.info()["rdb_saves"], int(time.time())
        c.set("rule:key", "v")
        assert srv.info()["rdb_changes_since_last_save"] >= 1
    info = wait_info(srv, lambda i: i["rdb_changes_since_last_save"] == 0 and
                     i["rdb_bgsave_in_progress"] == 0, 15, "the save rule 1 1 to fire")
    missing = [p for p in rdb_paths(srv) if not os.path.exists(p)]
    assert not missing, (f"the save rule fired but {missing} do not exist\n{log_tail(srv)}")
    assert info["rdb_last_save_time"] >= t0, info
    assert info["rdb_last_bgsave_status"] == "ok", info
    assert info["rdb_saves"] > saves, f"the save rule fired, rdb_saves did not grow: {info}"
    # The snapshot holds the change: load it into a fresh server.
    srv.kill9()
    back = servers.corekv(shards, data_dir=srv.dir, name="back")
    back.start()
    assert keyspace(back).get(b"rule:key", (0, None))[1] == b"v", log_tail(back)


# --------------------------------------------------------------------------------------------
# BGREWRITEAOF
# --------------------------------------------------------------------------------------------

def _check_manifests(srv):
    mans = manifests(srv.dir)
    assert len(mans) == (1 if SELF_TEST else srv.shards), f"manifests: {mans}"
    for m in mans:
        bases = [e["file"] for e in parse_manifest(m) if e["type"] == "b"]
        assert len(bases) == 1 and bases[0].endswith(".rdb"), \
            f"{m} after a rewrite names base {bases}, expected one .rdb:\n{open(m).read()}"
        ok, out = check_aof(m)
        assert ok, f"redis-check-aof {m}:\n{out}"


@pytest.mark.slow
@pytest.mark.parametrize("shards", shard_params(cheap=False), ids=lambda n: f"shards{n}")
def test_bgrewriteaof_under_writes_then_kill9(servers, shards):
    srv = servers.corekv(shards, flags={"appendonly": "yes", "appendfsync": "always"})
    srv.start()
    _filler(srv, 20_000)
    writers = [Writer(i, shards) for i in range(16)]

    def act(_stop):
        wait_acks(writers, 30)
        rewrites = srv.info()["aof_rewrites"]
        with srv.raw() as c:
            reply = c.cmd("BGREWRITEAOF")
        assert reply == b"+Background append only file rewriting started\r\n", reply
        wait_info(srv, lambda i: i["aof_rewrites"] > rewrites and
                  i["aof_rewrite_in_progress"] == 0, 60, "BGREWRITEAOF done")
        assert srv.info()["aof_last_bgrewrite_status"] == "ok"
        acks = sum(w.acks for w in writers)
        wait_for(lambda: sum(w.acks for w in writers) > acks + 100, 30,
                 what="writes after the rewrite")
        time.sleep(random.uniform(0, 0.3))
        srv.kill9()
    run_writers(srv, writers, act)
    srv.start(timeout=60)
    ks = check_writers(srv, writers, f"BGREWRITEAOF then kill -9, {shards} shards")
    assert sum(1 for k in ks if k.startswith(b"fill:")) == 20_000
    stop_cleanly(srv)
    _check_manifests(srv)


@pytest.mark.slow
@pytest.mark.parametrize("shards", shard_params(cheap=False), ids=lambda n: f"shards{n}")
def test_automatic_rewrite_when_the_log_grows(servers, shards):
    srv = servers.corekv(shards, flags={"appendonly": "yes", "appendfsync": "everysec"})
    srv.start()
    rewrites = srv.info()["aof_rewrites"]
    value = b"r" * 1000
    with srv.client() as c:
        assert c.config_set("auto-aof-rewrite-min-size", "1mb") is True
        for start in range(0, 16_000, 1000):  # ~16 MB of log over all shards
            p = c.pipeline(transaction=False)
            for i in range(start, start + 1000):
                p.set(f"grow:{i}", value)
            p.execute()
    info = wait_info(srv, lambda i: i["aof_rewrites"] > rewrites and
                     i["aof_rewrite_in_progress"] == 0, 60,
                     "an automatic rewrite (auto-aof-rewrite-min-size 1mb)")
    assert info["aof_last_bgrewrite_status"] == "ok", info
    assert info["aof_base_size"] > 0, info
    want = keyspace(srv)
    assert len(want) == 16_000
    stop_cleanly(srv)
    _check_manifests(srv)
    srv.start(timeout=60)
    assert keyspace(srv) == want, log_tail(srv)
    stop_cleanly(srv)


def test_snapshot_files_are_per_shard_names(servers):
    """dbfilename without .rdb: <dbfilename>-<i>; with: <stem>-<i>.rdb."""
    if SELF_TEST:
        pytest.skip("corekv-specific file names")
    for dbf in ("snap.rdb", "plain"):
        srv = servers.corekv(3, flags={"dbfilename": dbf}, name=f"n-{dbf}")
        srv.start()
        with srv.client() as c:
            c.set("a", "1")
            assert c.execute_command("SAVE") is True
        got = sorted(os.path.basename(p) for p in glob.glob(os.path.join(srv.dir, "*")))
        want = sorted(os.path.basename(p) for p in rdb_paths(srv, dbf))
        assert got == want, f"dbfilename {dbf}: files {got}, expected {want}"
        stop_cleanly(srv)


# --------------------------------------------------------------------------------------------
# Turning the log on and off at run time
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shards", shard_params(cheap=True), ids=lambda n: f"shards{n}")
def test_config_set_appendonly_at_run_time(servers, shards):
    """CONFIG SET appendonly yes starts every shard's log from a base holding what is there
    already; what is written after it survives a kill -9; appendonly no stops logging."""
    if SELF_TEST:
        pytest.skip("corekv's per-shard log set")
    srv = servers.corekv(shards, flags={"appendonly": "no"})
    srv.start()
    with srv.client() as c:
        for i in range(200):
            c.set(f"before:{i}", i)
        assert c.config_set("appendonly", "yes") is True
    wait_info(srv, lambda i: i["aof_enabled"] == 1 and i["aof_rewrites"] >= 1 and
              i["aof_rewrite_in_progress"] == 0, 30, "the log's first rewrite")
    with srv.client() as c:
        for i in range(200):
            c.set(f"after:{i}", i)
    want = keyspace(srv)
    assert len(want) == 400
    srv.kill9()
    srv.flags["appendonly"] = "yes"
    srv.start(timeout=60)
    assert keyspace(srv) == want, log_tail(srv)
    with srv.client() as c:
        assert c.config_set("appendonly", "no") is True
    wait_info(srv, lambda i: i["aof_enabled"] == 0, 30, "the log closed")
    stop_cleanly(srv)
    _check_manifests(srv)
