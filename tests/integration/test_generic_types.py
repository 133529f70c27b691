"""The generic key commands on the aggregate types: TYPE, OBJECT ENCODING, DEL, EXISTS,
EXPIRE/TTL/PERSIST, RENAME and COPY (source and destination on different shards), and
WRONGTYPE from the string commands on every aggregate type (and from the aggregate
commands on strings). Differential against redis-server where the two agree by design;
list encodings (7.0 reports "quicklist" for every list, 7.2 "listpack" while small) and
small non-integer sets (7.0 has no listpack sets) are checked on corekv alone."""
import pytest

from helpers import Loose, decode, keys_per_shard

pytestmark = pytest.mark.differential


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def differ(differ, request, server):
    differ.proto = request.param
    return differ


@pytest.fixture
def S(nshards):
    """Key names: S[i] are keys on shard i % nshards (so S[0], S[1] differ when
    nshards > 1), several per shard."""
    per = keys_per_shard(nshards, "gt", 4)
    return [per[i % nshards][i // nshards] for i in range(4 * nshards)] + \
        [per[0][1], per[-1][1], per[0][2], per[-1][2]]


# Values of every aggregate type and encoding the two servers name alike.
def fill(k, kind):
    return {
        "list": [("RPUSH", k, "a", "1", "b", "2")],
        "hash_lp": [("HSET", k, "f1", "v1", "f2", "2")],
        "hash_ht": [("HSET", k, "f1", "v1", "big", "x" * 100)],
        "set_int": [("SADD", k, "3", "1", "2")],
        "set_ht": [("SADD", k, *[str(i) for i in range(600)])],
        "zset_lp": [("ZADD", k, "1", "a", "2.5", "b", "-1", "c")],
        "zset_sl": [("ZADD", k, *[x for i in range(200) for x in (str(i), f"m{i}")])],
    }[kind]


def read(k, kind):
    """Commands that show the whole value deterministically."""
    if kind == "list":
        return [("LRANGE", k, "0", "-1"), ("LLEN", k)]
    if kind.startswith("hash"):
        return [("HLEN", k), ("HGET", k, "f1"), ("HGET", k, "f2"), ("HSTRLEN", k, "big")]
    if kind.startswith("set"):
        return [("SCARD", k), ("SORT", k, "ALPHA", "LIMIT", "0", "5"), ("SISMEMBER", k, "2")]
    return [("ZCARD", k), ("ZRANGE", k, "0", "4", "WITHSCORES"), ("ZSCORE", k, "m7")]


KINDS = ["list", "hash_lp", "hash_ht", "set_int", "set_ht", "zset_lp", "zset_sl"]


def same_encoding_everywhere(kind):
    return kind != "list"


@pytest.mark.parametrize("kind", KINDS)
def test_type_encoding_del_exists(differ, S, kind):
    k = S[0]
    enc = [("OBJECT", "ENCODING", k)] if same_encoding_everywhere(kind) else []
    differ.check(fill(k, kind) + [("TYPE", k), ("EXISTS", k)] + enc + read(k, kind) + [
        ("DEL", k), ("EXISTS", k), ("TYPE", k), ("OBJECT", "ENCODING", k),
    ] + fill(k, kind) + [("UNLINK", k, S[1]), ("EXISTS", k)])


@pytest.mark.parametrize("kind", KINDS)
def test_expire(differ, S, kind):
    k = S[1]
    differ.check(fill(k, kind) + [
        ("EXPIRE", k, "1000"), Loose("TTL", k, check=lambda a, b: a == b or a[:1] == b[:1] == b":"),
        ("PERSIST", k), ("TTL", k), ("PEXPIRE", k, "100000", "NX"), ("PERSIST", k),
        ("EXPIRE", k, "-1"), ("EXISTS", k), ("TYPE", k),
    ])


@pytest.mark.parametrize("kind", KINDS)
def test_rename_across_shards(differ, S, kind):
    src, dst = S[0], S[1]
    enc = [("OBJECT", "ENCODING", dst)] if same_encoding_everywhere(kind) else []
    differ.check(fill(src, kind) + [
        ("EXPIRE", src, "1000"), ("SET", dst, "old"),
        ("RENAME", src, dst), ("EXISTS", src), ("TYPE", dst),
        Loose("TTL", dst, check=lambda a, b: a[:1] == b[:1] == b":" and decode(a) > 900),
    ] + enc + read(dst, kind) + [
        ("RENAMENX", dst, src), ("TYPE", src), ("RENAMENX", src, S[2]), ("SET", S[3], "x"),
        ("RENAMENX", S[2], S[3]), ("TYPE", S[2]),
    ])


@pytest.mark.parametrize("kind", KINDS)
def test_copy_across_shards(differ, S, kind):
    src, dst = S[0], S[1]
    enc = [("OBJECT", "ENCODING", dst)] if same_encoding_everywhere(kind) else []
    differ.check(fill(src, kind) + [
        ("COPY", src, dst), ("TYPE", dst)] + enc + read(dst, kind) + [
        ("SET", S[2], "v"), ("COPY", src, S[2]), ("TYPE", S[2]), ("COPY", src, S[2], "REPLACE"),
        ("TYPE", S[2]),
    ] + read(S[2], kind) + [
        # the copy is independent of its source
        ("DEL", src), ("EXISTS", src), ("TYPE", dst),
    ] + read(dst, kind))


@pytest.mark.parametrize("kind", KINDS)
def test_string_commands_wrongtype(differ, S, kind):
    k, other = S[0], S[1]
    differ.check(fill(k, kind) + [
        ("GET", k), ("APPEND", k, "x"), ("STRLEN", k), ("INCR", k), ("DECRBY", k, "2"),
        ("INCRBYFLOAT", k, "1.5"), ("GETRANGE", k, "0", "1"), ("SETRANGE", k, "0", "x"),
        ("GETSET", k, "v"), ("GETDEL", k), ("GETEX", k, "EX", "10"), ("SETNX", k, "v"),
        ("SET", k, "v", "GET"), ("MSETNX", k, "v", other, "w"), ("EXISTS", other),
        ("MGET", k, other), ("TYPE", k),
        # SET replaces any type
        ("SET", k, "now a string"), ("TYPE", k), ("GET", k),
    ])


def test_aggregate_commands_on_strings(differ, S):
    k = S[0]
    differ.check([
        ("SET", k, "v"), ("LPUSH", k, "a"), ("RPOP", k), ("LLEN", k), ("LRANGE", k, "0", "-1"),
        ("HSET", k, "f", "v"), ("HGET", k, "f"), ("HGETALL", k), ("HLEN", k),
        ("SADD", k, "m"), ("SMEMBERS", k), ("SCARD", k), ("SISMEMBER", k, "m"),
        ("ZADD", k, "1", "m"), ("ZRANGE", k, "0", "-1"), ("ZCARD", k), ("ZSCORE", k, "m"),
        ("SORT", k), ("SORT_RO", k), ("TYPE", k), ("GET", k),
        # one aggregate type against another
        ("DEL", k), ("RPUSH", k, "a"), ("SADD", k, "m"), ("HSET", k, "f", "v"),
        ("ZADD", k, "1", "m"), ("TYPE", k),
    ])


def test_list_encodings_on_corekv(r, S):
    # Lists: "listpack" while small (Redis 7.2), kept by RENAME and COPY across shards.
    src, dst, cp = S[0], S[1], S[2]
    r.rpush(src, "a", "b", 1, 2)
    assert r.object("encoding", src) == b"listpack"
    r.rename(src, dst)
    assert r.object("encoding", dst) == b"listpack"
    assert r.copy(dst, cp)
    assert r.object("encoding", cp) == b"listpack"
    assert r.lrange(cp, 0, -1) == [b"a", b"b", b"1", b"2"]
    big = S[3]
    r.rpush(big, *["x" * 100] * 200)
    assert r.object("encoding", big) == b"quicklist"
    r.rename(big, src)
    assert r.object("encoding", src) == b"quicklist"
    assert r.llen(src) == 200
    # small non-integer sets are listpacks (Redis 7.2)
    r.sadd(big, "a", "b")
    assert r.object("encoding", big) == b"listpack"
    r.copy(big, S[4], replace=True)
    assert r.object("encoding", S[4]) == b"listpack"
    assert sorted(r.smembers(S[4])) == [b"a", b"b"]


# ---- COMMAND: the keynum key specs and SORT's, as Redis 7 reports them ----

KEYNUM_COMMANDS = ["sintercard", "lmpop", "zmpop", "zintercard", "zunion", "zinter", "zdiff",
                   "zunionstore", "zinterstore", "zdiffstore", "sort", "sort_ro"]


def test_command_info_key_specs(differ, once):
    differ.check([("COMMAND", "INFO", c) for c in KEYNUM_COMMANDS] +
                 [("COMMAND", "INFO", *KEYNUM_COMMANDS[:4])])


def test_command_getkeys_keynum_and_sort(differ, once):
    differ.check([
        ("COMMAND", "GETKEYS", "SINTERCARD", "2", "a", "b", "LIMIT", "1"),
        ("COMMAND", "GETKEYSANDFLAGS", "SINTERCARD", "2", "a", "b"),
        ("COMMAND", "GETKEYS", "SINTERCARD", "0", "a"), ("COMMAND", "GETKEYS", "SINTERCARD", "3", "a"),
        ("COMMAND", "GETKEYS", "SINTERCARD", "x", "a"),
        ("COMMAND", "GETKEYSANDFLAGS", "LMPOP", "2", "a", "b", "LEFT", "COUNT", "3"),
        ("COMMAND", "GETKEYSANDFLAGS", "ZMPOP", "1", "a", "MIN"),
        ("COMMAND", "GETKEYS", "ZINTERCARD", "2", "a", "b"),
        ("COMMAND", "GETKEYS", "ZUNION", "2", "a", "b", "WEIGHTS", "1", "2"),
        ("COMMAND", "GETKEYS", "ZINTER", "01", "a"),
        ("COMMAND", "GETKEYSANDFLAGS", "ZUNIONSTORE", "d", "2", "a", "b"),
        ("COMMAND", "GETKEYSANDFLAGS", "ZDIFFSTORE", "d", "1", "a"),
        ("COMMAND", "GETKEYS", "ZINTERSTORE", "d", "3", "a", "b"),
        ("COMMAND", "GETKEYS", "ZINTERSTORE", "d", "0", "a", "b"),
        ("COMMAND", "GETKEYS", "SORT", "a"), ("COMMAND", "GETKEYS", "SORT", "a", "STORE", "d"),
        ("COMMAND", "GETKEYSANDFLAGS", "SORT", "a", "BY", "w_*", "STORE", "d", "GET", "x"),
        ("COMMAND", "GETKEYS", "SORT", "a", "STORE", "d", "STORE", "e"),
        ("COMMAND", "GETKEYS", "SORT", "a", "LIMIT", "0", "1", "STORE"),
        ("COMMAND", "GETKEYS", "SORT", "a", "GET", "STORE", "x"),
        ("COMMAND", "GETKEYS", "SORT_RO", "a", "STORE", "d"),
        ("COMMAND", "GETKEYSANDFLAGS", "SORT_RO", "a"),
    ])
