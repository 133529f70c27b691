"""The encoding thresholds as CONFIG parameters: their names (and Redis's old "ziplist"
aliases), types, ranges and error texts against redis-server, and their effect: a CONFIG
SET changes when a hash, set, sorted set or list converts, on every shard."""
import pytest

from helpers import Loose, decode, spread_keys

# name -> Redis 7.2's default (redis-server without a config file)
THRESHOLDS = {
    "hash-max-listpack-entries": "512", "hash-max-listpack-value": "64",
    "set-max-intset-entries": "512", "set-max-listpack-entries": "128",
    "set-max-listpack-value": "64", "zset-max-listpack-entries": "128",
    "zset-max-listpack-value": "64", "list-max-listpack-size": "-2",
    "list-compress-depth": "0",
}
ALIASES = {
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "zset-max-ziplist-entries": "zset-max-listpack-entries",
    "zset-max-ziplist-value": "zset-max-listpack-value",
    "list-max-ziplist-size": "list-max-listpack-size",
}
# Parameters redis-server 7.0 (the reference) knows too.
IN_70 = [n for n in list(THRESHOLDS) + list(ALIASES) if not n.startswith("set-max-listpack")]


def _restore(conn, values):
    for k, v in values.items():
        conn.cmd("CONFIG", "SET", k, v)


@pytest.fixture
def thresholds(server, redis_ref):
    """Both servers start at the same values (the reference's defaults differ where 7.0
    and 7.2 do) and get back what they had after the test."""
    saved = {}
    for srv, names in ((server, THRESHOLDS), (redis_ref, IN_70)):
        with srv.raw() as c:
            saved[srv] = {n: decode(c.cmd("CONFIG", "GET", n))[1] for n in names
                          if n not in ALIASES}
            _restore(c, {n: v for n, v in THRESHOLDS.items() if n in names})
    yield
    for srv, vals in saved.items():
        with srv.raw() as c:
            _restore(c, vals)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def differ(differ, request, server, thresholds):
    differ.proto = request.param
    return differ


def test_defaults(r, once):
    got = {}
    for n in list(THRESHOLDS) + list(ALIASES):
        got[n] = r.config_get(n)[n]
    want = dict(THRESHOLDS)
    want.update({a: THRESHOLDS[n] for a, n in ALIASES.items()})
    assert got == want


def test_get_each(differ, once):
    differ.check([("CONFIG", "GET", n) for n in IN_70] +
                 [("CONFIG", "GET", n.upper()) for n in IN_70[:3]] +
                 [Loose("CONFIG", "GET", "hash-max-ziplist-entries", "hash-max-listpack-entries",
                        check=same_map)])


def same_map(a, b):
    """The same pairs, in any order (Redis lists them in its dict's order)."""
    da, db = decode(a), decode(b)
    if isinstance(da, list):
        da, db = dict(zip(da[::2], da[1::2])), dict(zip(db[::2], db[1::2]))
    return a[:1] == b[:1] and da == db


def test_set_values_and_errors(differ, once):
    script = []
    for n in IN_70:
        script += [
            ("CONFIG", "SET", n, "7"), ("CONFIG", "GET", n),
            ("CONFIG", "SET", n, "0"), ("CONFIG", "GET", n),
            ("CONFIG", "SET", n, "-1"), ("CONFIG", "SET", n, "abc"), ("CONFIG", "SET", n, ""),
            ("CONFIG", "SET", n, "1kb"), ("CONFIG", "GET", n), ("CONFIG", "SET", n, "2MB"),
            ("CONFIG", "SET", n, "1.5"), ("CONFIG", "SET", n, " 5"), ("CONFIG", "SET", n, "+5"),
            ("CONFIG", "SET", n, "05"), ("CONFIG", "SET", n, "0x10"),
            ("CONFIG", "SET", n, "9223372036854775807"), ("CONFIG", "GET", n),
            ("CONFIG", "SET", n, "9223372036854775808"),
            ("CONFIG", "SET", n, "99999999999999999999"),
            ("CONFIG", "SET", n, "2147483647"), ("CONFIG", "SET", n, "2147483648"),
            ("CONFIG", "SET", n, "-2147483648"), ("CONFIG", "SET", n, "-2147483649"),
            ("CONFIG", "GET", n), ("CONFIG", "SET", n.upper(), "abc"),
            ("CONFIG", "SET", n, THRESHOLDS.get(n) or THRESHOLDS[ALIASES[n]]),
        ]
    differ.check(script)


def test_set_several_and_aliases(differ, once):
    differ.check([
        ("CONFIG", "SET", "hash-max-listpack-entries", "10", "zset-max-listpack-value", "20"),
        ("CONFIG", "GET", "hash-max-ziplist-entries"), ("CONFIG", "GET", "zset-max-ziplist-value"),
        ("CONFIG", "SET", "hash-max-ziplist-entries", "11"),
        ("CONFIG", "GET", "hash-max-listpack-entries"),
        # a name and its alias in one CONFIG SET: both accepted, the last wins
        ("CONFIG", "SET", "list-max-listpack-size", "5", "list-max-ziplist-size", "6"),
        ("CONFIG", "GET", "list-max-listpack-size"),
        ("CONFIG", "SET", "hash-max-listpack-entries", "5", "hash-max-listpack-entries", "6"),
        # all or nothing
        ("CONFIG", "SET", "hash-max-listpack-entries", "12", "list-compress-depth", "-1"),
        ("CONFIG", "GET", "hash-max-listpack-entries"),
        ("CONFIG", "SET", "zset-max-listpack-entries", "12", "nosuch-param", "1"),
        ("CONFIG", "GET", "zset-max-listpack-entries"),
        ("CONFIG", "SET", "zset-max-listpack-entries"),
        ("CONFIG", "SET", "hash-max-listpack-value", "1kb", "list-max-listpack-size", "x"),
        ("CONFIG", "GET", "hash-max-listpack-value"),
    ])


def _ref_get(redis_ref, pat):
    with redis_ref.raw() as c:
        flat = [x.decode() for x in decode(c.cmd("CONFIG", "GET", pat))]
    return dict(zip(flat[::2], flat[1::2]))


def test_glob_lists_both_names(rd, redis_ref, thresholds, once):
    # As Redis 7: a glob matches a threshold by either of its names, and lists both.
    for pat in ("*max-*", "*ziplist*", "*listpack*", "list-*", "*-max-*-entries", "hash*"):
        got = rd.config_get(pat)
        ref = _ref_get(redis_ref, pat)
        theirs = {k: v for k, v in ref.items() if k in THRESHOLDS or k in ALIASES}
        mine = {k: v for k, v in got.items() if k in THRESHOLDS or k in ALIASES}
        want = dict(theirs)
        want.update({k: v for k, v in mine.items() if k.startswith("set-max-listpack")})
        assert mine == want, pat
    got = rd.config_get("*max-*")
    assert got["set-max-listpack-entries"] == "128"
    assert got["set-max-listpack-value"] == "64"
    assert got["hash-max-ziplist-value"] == got["hash-max-listpack-value"] == "64"


@pytest.fixture
def K(nshards):
    return spread_keys(nshards, "enc", max(1, 8 // nshards))


def enc(r, k):
    return r.object("encoding", k).decode()


def test_hash_thresholds_apply_on_every_shard(r, thresholds, K):
    r.config_set("hash-max-listpack-entries", 2)
    for k in K:
        r.hset(k, mapping={"a": 1, "b": 2})
        assert enc(r, k) == "listpack"
        r.hset(k, "c", 3)
        assert enc(r, k) == "hashtable", k
    r.config_set("hash-max-listpack-entries", 128)
    r.config_set("hash-max-listpack-value", 4)
    for k in K:
        r.delete(k)
        r.hset(k, "f", "1234")
        assert enc(r, k) == "listpack"
        r.hset(k, "g", "12345")
        assert enc(r, k) == "hashtable"
    r.config_set("hash-max-ziplist-entries", 0)  # the alias sets the same threshold
    r.delete(K[0])
    r.hset(K[0], "f", "v")
    assert enc(r, K[0]) == "hashtable"


def test_set_thresholds(r, thresholds, K):
    r.config_set("set-max-intset-entries", 3)
    r.config_set("set-max-listpack-entries", 4)
    r.config_set("set-max-listpack-value", 5)
    for k in K:
        r.sadd(k, 1, 2, 3)
        assert enc(r, k) == "intset"
        r.sadd(k, 4)  # past the intset limit with an integer: a hashtable (Redis 7.2)
        assert enc(r, k) == "hashtable", k
        r.delete(k)
        r.sadd(k, 1, 2, 3)
        r.sadd(k, "x")  # a string in a small intset: a listpack
        assert enc(r, k) == "listpack", k
        r.sadd(k, "y")
        assert enc(r, k) == "hashtable", k
    k = K[-1]
    r.delete(k)
    r.sadd(k, "abcdef")
    assert enc(r, k) == "hashtable"


def test_zset_thresholds(r, thresholds, K):
    r.config_set("zset-max-listpack-entries", 2)
    for k in K:
        r.zadd(k, {"a": 1, "b": 2})
        assert enc(r, k) == "listpack"
        r.zadd(k, {"c": 3})
        assert enc(r, k) == "skiplist"
    r.config_set("zset-max-ziplist-entries", 128)
    r.config_set("zset-max-ziplist-value", 3)
    k = K[0]
    r.delete(k)
    r.zadd(k, {"abc": 1})
    assert enc(r, k) == "listpack"
    r.zadd(k, {"abcd": 2})
    assert enc(r, k) == "skiplist"


def test_list_threshold(r, thresholds, K):
    r.config_set("list-max-listpack-size", 4)
    for k in K:
        r.rpush(k, 1, 2, 3, 4)
        assert enc(r, k) == "listpack"
        r.rpush(k, 5)
        assert enc(r, k) == "quicklist"
    r.config_set("list-max-ziplist-size", -2)
    assert r.config_get("list-max-listpack-size") == {"list-max-listpack-size": "-2"}
