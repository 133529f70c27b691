"""The files: a dump.rdb written by redis-server 7 loads into corekv, corekv's per-shard RDB files
load into redis-server, the files survive a change of --shards, truncated and corrupt files are
handled as the contract says, and INFO persistence has Redis 7.0's fields."""
import os
import re
import shutil

import pytest

from persist_helpers import (SELF_TEST, aof_records, check_rdb, diff_keyspaces, flip_byte,
                             grep_log, keyspace, last_incr_file, log_tail, manifests, rdb_paths,
                             server_set, shard_params, stop_cleanly)
from helpers import bulk_text, shard_of
from persist_load import _noise, fill_all_types


@pytest.fixture
def servers(tmp_path):
    yield from server_set(tmp_path)


def _save(srv):
    with srv.client() as c:
        assert c.execute_command("SAVE") is True


def _expect_same(want, srv, context, want_name="redis-server"):
    got = keyspace(srv)
    d = diff_keyspaces(want, got, want_name, "corekv")
    assert not d, f"{context}:\n{d}\n{log_tail(srv)}"


# --------------------------------------------------------------------------------------------
# redis-server's dump.rdb into corekv, corekv's files into redis-server
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def redis_dump(tmp_path_factory):
    """A dump.rdb written by redis-server with every type and encoding, and its keyspace."""
    ss_dir = tmp_path_factory.mktemp("redis-dump")
    gen = server_set(ss_dir)
    ss = next(gen)
    ref = ss.redis(name="dump-maker")
    ref.start()
    with ref.client() as c:
        enc = fill_all_types(c)
        wrong = {k: (e, c.object("encoding", k).decode()) for k, e in enc.items()
                 if c.object("encoding", k).decode() != e}
        assert not wrong, f"the fixture misses the Redis 7.0 encodings it names: {wrong}"
        assert c.execute_command("SAVE") is True
    want = keyspace(ref)
    stop_cleanly(ref)
    path = os.path.join(ref.dir, "dump.rdb")
    assert check_rdb(path)[0]
    yield path, want
    for _ in gen:
        pass


@pytest.mark.parametrize("appendonly", ["no", "yes"])
@pytest.mark.parametrize("shards", shard_params(cheap=True), ids=lambda n: f"shards{n}")
def test_redis_dump_rdb_loads(servers, redis_dump, shards, appendonly):
    if SELF_TEST and appendonly == "yes":
        pytest.skip("redis-server ignores dump.rdb when appendonly yes has no log yet")
    path, want = redis_dump
    srv = servers.corekv(shards, flags={"appendonly": appendonly})
    shutil.copy(path, os.path.join(srv.dir, "dump.rdb"))
    srv.start(timeout=60)
    _expect_same(want, srv, f"redis-server's dump.rdb into {shards} shards, "
                            f"appendonly {appendonly}")
    # And again from what corekv wrote of it (the log's base with appendonly yes).
    stop_cleanly(srv)
    srv.start(timeout=60)
    _expect_same(want, srv, f"restart after loading redis-server's dump.rdb, {shards} shards, "
                            f"appendonly {appendonly}")
    stop_cleanly(srv)


@pytest.mark.parametrize("shards", shard_params(cheap=True), ids=lambda n: f"shards{n}")
def test_corekv_rdb_files_load_into_redis(servers, shards, tmp_path):
    srv = servers.corekv(shards)
    srv.start()
    with srv.client() as c:
        fill_all_types(c)
    _save(srv)
    want = keyspace(srv)
    union = {}
    for i, path in enumerate(rdb_paths(srv)):
        ok, out = check_rdb(path)
        assert ok, f"redis-check-rdb {path}:\n{out}"
        d = os.path.join(str(tmp_path), f"load{i}")
        os.makedirs(d)
        shutil.copy(path, d)
        ref = servers.redis(data_dir=d, flags={"dbfilename": os.path.basename(path)},
                            name=f"load{i}")
        ref.start(timeout=60)
        part = keyspace(ref)
        stop_cleanly(ref)
        if not SELF_TEST:
            strays = [k for k in part if shard_of(k, shards) != i]
            assert not strays, f"{path} holds keys of other shards: {strays[:10]}"
        both = set(part) & set(union)
        assert not both, f"keys in two shard files: {sorted(both)[:10]}"
        union.update(part)
    d = diff_keyspaces(want, union, "corekv", "redis-server (union of the shard files)")
    assert not d, d
    stop_cleanly(srv)


# --------------------------------------------------------------------------------------------
# --shards changes between runs
# --------------------------------------------------------------------------------------------

def _mutate(srv, step):
    with srv.client() as c:
        fill_all_types(c, prefix=f"s{step}:")
        c.delete("str:empty", f"s{step - 1}:set:small")
        c.incr("str:int")
        c.rpush("list:large", f"step{step}")
        c.hset("hash:large", f"step{step}", step)
        c.zadd("zset:small", {f"step{step}": step})
        c.pexpire("str:neg", 3_600_000 + step)


@pytest.mark.parametrize("mode", ["aof", "rdb"])
def test_shard_count_changes_between_runs(servers, mode):
    if SELF_TEST:
        pytest.skip("corekv-specific (--shards)")
    flags = ({"appendonly": "yes", "appendfsync": "everysec"} if mode == "aof"
             else {"appendonly": "no"})
    data = None
    want = None
    for step, shards in enumerate((2, 3, 1, 2)):
        srv = servers.corekv(shards, data_dir=data, flags=flags, name=f"{mode}-{step}-s{shards}")
        data = srv.dir
        srv.start(timeout=60)
        if want is not None:
            _expect_same(want, srv, f"{mode}: after going to {shards} shards (step {step})",
                         "the previous run")
            if mode == "aof":
                names = [os.path.basename(m) for m in manifests(data)]
                assert len(names) == shards, \
                    f"{shards} shards after the change, but manifests {names}"
        if step == 0:
            with srv.client() as c:
                fill_all_types(c)
        _mutate(srv, step + 1)
        if mode == "rdb":
            _save(srv)
            missing = [p for p in rdb_paths(srv) if not os.path.exists(p)]
            assert not missing, f"SAVE with {shards} shards: {missing} missing"
        want = keyspace(srv)
        stop_cleanly(srv)


# --------------------------------------------------------------------------------------------
# Truncated and corrupt files
# --------------------------------------------------------------------------------------------

def _offsets_in(line):
    return [int(x) for x in re.findall(r"(?<![\w.])(\d+)(?![\w.])", line)]


@pytest.fixture
def aof_dir(servers, request):
    """A stopped server's directory with an append-only log of 300 SETs; returns (server,
    keyspace, last incr file of the last shard, its records)."""
    shards = request.param
    srv = servers.corekv(shards, flags={"appendonly": "yes", "appendfsync": "always"},
                         name="aof")
    srv.start()
    with srv.client() as c:
        for i in range(300):
            assert c.set(f"t:{i}", f"value-{i}") is True
    want = keyspace(srv)
    stop_cleanly(srv)
    incr = last_incr_file(manifests(srv.dir)[-1])
    with open(incr, "rb") as f:
        data = f.read()
    recs, end = aof_records(data)
    assert end == len(data), f"{incr}: unparsable bytes at {end} of {len(data)} after a clean stop"
    assert len(recs) > 10 and recs[-1][2][0].upper() == b"SET", \
        f"{incr}: expected SET records, the last is {recs[-1][2] if recs else None}"
    return srv, want, incr, recs


def _copy_dir(servers, srv, name, flags=None):
    dst = os.path.join(servers.tmp, name + "-data")
    shutil.copytree(srv.dir, dst)
    return servers.corekv(srv.shards, data_dir=dst, name=name,
                          flags={**srv.flags, **(flags or {})})


AOF_SHARDS = shard_params(cheap=False)


@pytest.mark.parametrize("aof_dir", AOF_SHARDS, ids=lambda n: f"shards{n}", indirect=True)
def test_truncated_last_aof_record(servers, aof_dir):
    srv, want, incr, recs = aof_dir
    start, end, args = recs[-1]
    rel = os.path.relpath(incr, srv.dir)
    strict = _copy_dir(servers, srv, "strict", {"aof-load-truncated": "no"})
    for s in (srv, strict):
        with open(os.path.join(s.dir, rel), "r+b") as f:
            f.truncate(start + (end - start) // 2)
    srv.start()
    warn = grep_log(srv.log_text(), r"truncat|short read|incomplete")
    assert warn, f"no warning about the truncated {rel} in the log\n{log_tail(srv)}"
    lost = args[1]
    expect = {k: v for k, v in want.items() if k != lost}
    got = keyspace(srv)
    d = diff_keyspaces(expect, got, "the complete records")
    assert not d, f"truncated last record (SET {lost!r}) of {rel}:\n{d}\n{log_tail(srv)}"
    stop_cleanly(srv)
    status, log = strict.start_failing()
    assert status not in (None, 0), (f"aof-load-truncated no: start-up with a truncated {rel} "
                                     f"did not fail (status {status})\n{log[-3000:]}")


@pytest.mark.parametrize("aof_dir", AOF_SHARDS, ids=lambda n: f"shards{n}", indirect=True)
def test_corrupt_aof_record_in_the_middle(servers, aof_dir):
    srv, _want, incr, recs = aof_dir
    start, end, args = recs[len(recs) // 2]
    flip_byte(incr, start + 1)  # the digit of "*3": the record's argument count
    status, log = srv.start_failing()
    assert status not in (None, 0), f"start-up with a corrupt {incr} did not fail\n{log[-3000:]}"
    name = os.path.basename(incr)
    lines = [ln for ln in log.splitlines() if name in ln]
    assert lines, f"no log line names {name}:\n{log[-3000:]}"
    if not SELF_TEST:  # redis-server names no offset
        at = [ln for ln in lines if any(start <= x <= end for x in _offsets_in(ln))]
        assert at, (f"no line naming {name} gives an offset in the corrupt record "
                    f"[{start}, {end}]:\n" + "\n".join(lines))


@pytest.mark.parametrize("how", ["flipped", "truncated"])
@pytest.mark.parametrize("shards", shard_params(cheap=False), ids=lambda n: f"shards{n}")
def test_corrupt_rdb_fails_startup(servers, shards, how):
    srv = servers.corekv(shards)
    srv.start()
    marker = _noise("marker", 64)
    with srv.client() as c:
        fill_all_types(c)
        c.set("marker", marker)
    _save(srv)
    stop_cleanly(srv)
    path = next(p for p in rdb_paths(srv) if marker in open(p, "rb").read())
    with open(path, "rb") as f:
        data = f.read()
    if how == "flipped":
        flip_byte(path, data.index(marker) + 30, 0x01)  # a byte of a string: only the CRC breaks
    else:
        with open(path, "r+b") as f:
            f.truncate(len(data) // 2)
    status, log = srv.start_failing()
    assert status not in (None, 0), f"start-up with a {how} {path} did not fail\n{log[-3000:]}"
    if how == "flipped":
        assert grep_log(log, "checksum"), f"no word of a checksum in the log:\n{log[-3000:]}"
    if not SELF_TEST:  # redis-server's messages do not name the file
        name = os.path.basename(path)
        assert [ln for ln in log.splitlines() if name in ln], \
            f"no log line names {name}:\n{log[-3000:]}"


@pytest.mark.parametrize("shards", shard_params(cheap=False), ids=lambda n: f"shards{n}")
def test_first_replies_see_the_whole_dataset(servers, shards):
    """Shards load their files in parallel: once the server answers PING (it may answer a
    connection of a shard that is done while another still loads), a command over the whole
    keyspace must see every shard's keys, never a part."""
    n = 150_000
    srv = servers.corekv(shards)
    srv.start()
    with srv.client() as c:
        for lo in range(0, n, 10_000):
            p = c.pipeline(transaction=False)
            for i in range(lo, lo + 10_000):
                p.set(f"ld:{i}", b"x" * 100)
            p.execute()
    _save(srv)
    stop_cleanly(srv)
    srv.start(timeout=120)  # returns at the first +PONG
    with srv.raw() as c:
        size = c.call("DBSIZE")
        probe = [c.call("GET", f"ld:{i}") for i in range(0, n, n // 50)]
    assert size == n, f"DBSIZE {size} right after the first PONG, {n} saved\n{log_tail(srv)}"
    assert probe == [b"x" * 100] * len(probe), log_tail(srv)
    stop_cleanly(srv)


# --------------------------------------------------------------------------------------------
# INFO persistence
# --------------------------------------------------------------------------------------------

def _info_fields(srv):
    with srv.raw() as c:
        text = bulk_text(c.cmd("INFO", "persistence"))
    return [ln.split(":", 1)[0] for ln in text.splitlines() if ":" in ln]


@pytest.mark.parametrize("appendonly", ["no", "yes"])
@pytest.mark.parametrize("shards", [1, 3] if not SELF_TEST else [1], ids=lambda n: f"shards{n}")
def test_info_persistence_fields_as_redis(servers, shards, appendonly):
    ref = servers.redis(flags={"appendonly": appendonly})
    ref.start()
    srv = servers.corekv(shards, flags={"appendonly": appendonly})
    srv.start()
    want, got = _info_fields(ref), _info_fields(srv)
    assert len(got) == len(set(got)), f"fields repeated: {got}"
    missing = [f for f in want if f not in got]
    extra = [f for f in got if f not in want]
    assert not missing and not extra, (f"INFO persistence (appendonly {appendonly}): missing "
                                       f"{missing}, not in Redis 7.0: {extra}")
