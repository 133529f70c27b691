"""Sorted-set algebra: ZUNION ZUNIONSTORE ZINTER ZINTERSTORE ZINTERCARD ZDIFF ZDIFFSTORE.

Differential: the same script runs on corekv and on redis-server and every reply must be
byte-identical, in RESP2 and RESP3. Every script runs twice: with keys spread over the
shards (no hash tags: multi-shard steps when there are several shards) and with one hash
tag (all keys on one shard: the in-place exec)."""
import pytest

from helpers import spread_keys

pytestmark = pytest.mark.differential


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def differ(differ, request, server):
    differ.proto = request.param
    return differ


@pytest.fixture(params=["spread", "tagged"])
def K(nshards, request):
    if request.param == "tagged":
        return [f"{{t}}z{i}" for i in range(8)]
    # At 4 shards: z keys on shards 0,1,2,3,0,1,2,3.
    return spread_keys(nshards, "z", max(1, 8 // nshards))


def zfill(k, n, prefix="m", score=lambda i: i, start=0):
    args = ["ZADD", k]
    for i in range(start, start + n):
        args += [str(score(i)), f"{prefix}{i}"]
    return tuple(args)


def sfill(k, members):
    return ("SADD", k, *members)


def test_union(differ, K):
    a, b, c, d = K[:4]
    differ.check([
        ("ZADD", a, "1", "x", "2", "y", "3", "z"), ("ZADD", b, "10", "y", "20", "z", "30", "w"),
        ("ZADD", c, "5", "x"),
        ("ZUNION", "2", a, b), ("ZUNION", "2", a, b, "WITHSCORES"),
        ("ZUNION", "3", a, b, c, "withscores"), ("ZUNION", "3", a, "nokey", c, "WITHSCORES"),
        ("ZUNION", "2", a, b, "WEIGHTS", "2", "0.5", "WITHSCORES"),
        ("ZUNION", "2", a, b, "AGGREGATE", "MIN", "WITHSCORES"),
        ("ZUNION", "2", a, b, "AGGREGATE", "max", "WITHSCORES"),
        ("ZUNION", "2", a, b, "aggregate", "sum", "weights", "-1", "1", "WITHSCORES"),
        ("ZUNION", "2", a, b, "WEIGHTS", "1", "2", "WEIGHTS", "3", "4", "WITHSCORES"),
        ("ZUNION", "2", a, b, "WITHSCORES", "WITHSCORES"),
        ("ZUNION", "1", "nokey"), ("ZUNION", "1", "nokey", "WITHSCORES"),
        ("ZUNION", "2", a, a, "WITHSCORES"), ("ZUNION", "1", d),
        ("ZUNIONSTORE", d, "2", a, b), ("ZRANGE", d, "0", "-1", "WITHSCORES"),
        ("OBJECT", "ENCODING", d), ("TYPE", d),
        ("ZUNIONSTORE", d, "2", a, b, "WEIGHTS", "1", "-1", "AGGREGATE", "MIN"),
        ("ZRANGE", d, "0", "-1", "WITHSCORES"),
        ("ZUNIONSTORE", a, "2", a, b), ("ZRANGE", a, "0", "-1", "WITHSCORES"),
        ("ZUNIONSTORE", d, "1", "nokey"), ("EXISTS", d), ("ZUNIONSTORE", d, "1", "nokey"),
    ])


def test_inter(differ, K):
    a, b, c, d = K[:4]
    differ.check([
        ("ZADD", a, "1", "x", "2", "y", "3", "z", "4", "v"), ("ZADD", b, "10", "y", "20", "z", "30", "w"),
        ("ZADD", c, "7", "z", "8", "y"),
        ("ZINTER", "2", a, b), ("ZINTER", "2", a, b, "WITHSCORES"),
        ("ZINTER", "3", a, b, c, "WITHSCORES"), ("ZINTER", "3", a, b, "nokey", "WITHSCORES"),
        ("ZINTER", "2", a, b, "WEIGHTS", "2", "3", "WITHSCORES"),
        ("ZINTER", "3", a, b, c, "AGGREGATE", "MIN", "WITHSCORES"),
        ("ZINTER", "3", a, b, c, "AGGREGATE", "MAX", "WEIGHTS", "1", "-1", "1", "WITHSCORES"),
        ("ZINTER", "2", a, a, "WITHSCORES"), ("ZINTER", "2", a, a, "WEIGHTS", "1", "2", "WITHSCORES"),
        ("ZINTER", "1", a, "WITHSCORES"),
        ("ZINTERSTORE", d, "3", a, b, c), ("ZRANGE", d, "0", "-1", "WITHSCORES"), ("OBJECT", "ENCODING", d),
        ("ZINTERSTORE", d, "2", a, "nokey"), ("EXISTS", d),
        ("ZINTERSTORE", b, "2", a, b, "WEIGHTS", "1", "1"), ("ZRANGE", b, "0", "-1", "WITHSCORES"),
    ])


def test_intercard(differ, K):
    a, b, c = K[:3]
    differ.check([
        zfill(a, 50), zfill(b, 50, start=25), zfill(c, 300, score=lambda i: -i),
        ("ZINTERCARD", "2", a, b), ("ZINTERCARD", "3", a, b, c), ("ZINTERCARD", "2", a, b, "LIMIT", "0"),
        ("ZINTERCARD", "2", a, b, "LIMIT", "5"), ("ZINTERCARD", "2", a, b, "limit", "1000"),
        ("ZINTERCARD", "2", a, b, "LIMIT", "5", "LIMIT", "3"),
        ("ZINTERCARD", "2", a, b, "LIMIT", "-1"), ("ZINTERCARD", "2", a, b, "LIMIT", "x"),
        ("ZINTERCARD", "2", a, b, "LIMIT"), ("ZINTERCARD", "2", a, b, "WITHSCORES"),
        ("ZINTERCARD", "2", a, b, "WEIGHTS", "1", "1"), ("ZINTERCARD", "2", a, b, "AGGREGATE", "SUM"),
        ("ZINTERCARD", "1", "nokey"), ("ZINTERCARD", "2", a, "nokey"), ("ZINTERCARD", "1", a),
        ("ZINTERCARD", "0", a), ("ZINTERCARD", "-1", a), ("ZINTERCARD", "x", a), ("ZINTERCARD", "3", a, b),
        ("ZINTERCARD", "2", a, a, "LIMIT", "7"),
    ])


def test_diff(differ, K):
    a, b, c, d = K[:4]
    differ.check([
        ("ZADD", a, "1", "x", "2", "y", "3", "z", "4", "v"), ("ZADD", b, "10", "y", "30", "w"),
        ("ZADD", c, "7", "z"),
        ("ZDIFF", "1", a), ("ZDIFF", "2", a, b), ("ZDIFF", "2", a, b, "WITHSCORES"),
        ("ZDIFF", "3", a, b, c, "WITHSCORES"), ("ZDIFF", "2", b, a, "WITHSCORES"),
        ("ZDIFF", "2", a, a), ("ZDIFF", "3", a, b, a), ("ZDIFF", "2", "nokey", a), ("ZDIFF", "2", a, "nokey"),
        ("ZDIFF", "2", a, b, "WEIGHTS", "1", "1"), ("ZDIFF", "2", a, b, "AGGREGATE", "MIN"),
        ("ZDIFF", "2", a, b, "WITHSCORES", "x"),
        ("ZDIFFSTORE", d, "2", a, b), ("ZRANGE", d, "0", "-1", "WITHSCORES"), ("OBJECT", "ENCODING", d),
        ("ZDIFFSTORE", d, "2", a, a), ("EXISTS", d), ("ZDIFFSTORE", d, "2", a, a),
        ("ZDIFFSTORE", d, "2", a, b, "WITHSCORES"), ("ZDIFFSTORE", a, "2", a, c),
        ("ZRANGE", a, "0", "-1", "WITHSCORES"),
    ])


def test_errors_and_wrongtype(differ, K):
    a, b, s, d = K[:4]
    differ.check([
        ("ZADD", a, "1", "x"), ("ZADD", b, "2", "x"), ("SET", s, "str"),
        ("ZADD", d, "5", "keep"), ("EXPIRE", d, "1000"),
        ("ZUNION", "0", a), ("ZUNIONSTORE", d, "0", a), ("ZINTER", "0", a), ("ZINTERSTORE", d, "0", a),
        ("ZDIFF", "0", a), ("ZDIFFSTORE", d, "0", a), ("ZUNION", "-1", a), ("ZUNIONSTORE", d, "-5", a),
        ("ZUNION", "x", a), ("ZUNIONSTORE", d, "1.5", a), ("ZUNION", "02", a, b), ("ZINTER", "+2", a, b),
        ("ZUNION", "3", a, b), ("ZUNIONSTORE", d, "3", a, b), ("ZDIFF", "9999999999", a),
        ("ZUNION", "2", a, b, "WEIGHTS", "1"), ("ZUNION", "2", a, b, "WEIGHTS", "1", "x"),
        ("ZUNION", "2", a, b, "WEIGHTS", "nan", "1"), ("ZUNION", "2", a, b, "WEIGHTS", "1", " 1"),
        ("ZUNION", "2", a, b, "AGGREGATE"), ("ZUNION", "2", a, b, "AGGREGATE", "AVG"),
        ("ZUNION", "2", a, b, "FOO"), ("ZUNION", "2", a, b, "LIMIT", "1"),
        ("ZUNION", "2", a, b, "WEIGHTS", "1", "x", "AGGREGATE", "foo"),
        ("ZUNION", "2", a, b, "AGGREGATE", "foo", "WEIGHTS", "1", "x"),
        ("ZUNIONSTORE", d, "2", a, b, "WITHSCORES"), ("ZINTERSTORE", d, "1", a, "LIMIT", "1"),
        # Types are checked before the options, and before anything is written.
        ("ZUNION", "2", a, s), ("ZUNION", "2", s, a, "WEIGHTS", "x", "y"),
        ("ZINTER", "2", a, s, "FOO"), ("ZDIFF", "2", a, s), ("ZINTERCARD", "2", a, s, "LIMIT", "-1"),
        ("ZUNIONSTORE", d, "2", a, s), ("ZINTERSTORE", d, "2", s, a), ("ZDIFFSTORE", d, "2", a, s),
        ("ZINTERSTORE", d, "2", "nokey", s), ("ZDIFFSTORE", d, "2", "nokey", s),
        ("ZRANGE", d, "0", "-1", "WITHSCORES"), ("TTL", d),
        ("ZUNIONSTORE", d, "2", a, b, "WEIGHTS", "1", "x"), ("ZRANGE", d, "0", "-1"),
        # The destination may hold any type: it is replaced, its TTL dropped.
        ("ZUNIONSTORE", s, "2", a, b), ("TYPE", s), ("ZRANGE", s, "0", "-1", "WITHSCORES"),
        ("ZUNIONSTORE", d, "1", a), ("TTL", d), ("LPUSH", "l" + a, "v"),
        ("ZUNION", "2", a, "l" + a),
    ])


def test_sets_as_inputs(differ, K):
    a, b, c, d, e = K[:5]
    differ.check([
        ("ZADD", a, "5", "1", "6", "2", "7", "x"), sfill(b, ["1", "2", "3"]), sfill(c, ["x", "y", "1"]),
        sfill(e, [str(i) for i in range(200)]),
        ("ZUNION", "3", a, b, c, "WITHSCORES"), ("ZUNION", "2", b, c, "WEIGHTS", "2", "3", "WITHSCORES"),
        ("ZINTER", "2", a, b, "WITHSCORES"), ("ZINTER", "3", a, b, c, "WITHSCORES"),
        ("ZINTER", "2", b, b, "WITHSCORES"), ("ZINTER", "2", e, b, "AGGREGATE", "MAX", "WITHSCORES"),
        ("ZINTERCARD", "2", e, b), ("ZDIFF", "2", b, a, "WITHSCORES"), ("ZDIFF", "2", a, c, "WITHSCORES"),
        ("ZDIFF", "2", e, b), ("ZUNIONSTORE", d, "2", b, c), ("ZRANGE", d, "0", "-1", "WITHSCORES"),
        ("OBJECT", "ENCODING", d), ("ZINTERSTORE", d, "2", e, a), ("ZRANGE", d, "0", "-1", "WITHSCORES"),
        ("ZDIFFSTORE", d, "2", e, b), ("ZCARD", d), ("OBJECT", "ENCODING", d),
        ("ZUNIONSTORE", b, "2", b, a), ("TYPE", b), ("ZRANGE", b, "0", "-1", "WITHSCORES"),
    ])


def test_inf_nan_zero(differ, K):
    a, b, c, d = K[:4]
    differ.check([
        ("ZADD", a, "inf", "p", "-inf", "n", "0", "z", "1", "o"), ("ZADD", b, "-inf", "p", "inf", "n", "-0", "z"),
        ("ZADD", c, "inf", "p", "inf", "n", "5", "o", "7", "q", "8", "r"),
        ("ZUNION", "2", a, b, "WITHSCORES"), ("ZUNION", "2", a, b, "WEIGHTS", "0", "1", "WITHSCORES"),
        ("ZUNION", "2", a, b, "WEIGHTS", "0", "0", "WITHSCORES"),
        ("ZUNION", "2", a, b, "WEIGHTS", "0", "1", "AGGREGATE", "MIN", "WITHSCORES"),
        ("ZUNION", "2", a, b, "WEIGHTS", "1", "0", "AGGREGATE", "MAX", "WITHSCORES"),
        ("ZUNION", "2", a, b, "WEIGHTS", "-1", "-1", "WITHSCORES"),
        ("ZUNION", "2", a, b, "WEIGHTS", "inf", "-inf", "WITHSCORES"),
        ("ZINTER", "2", a, b, "WITHSCORES"), ("ZINTER", "2", a, b, "WEIGHTS", "0", "1", "WITHSCORES"),
        ("ZINTER", "2", a, b, "WEIGHTS", "1", "0", "WITHSCORES"),
        ("ZINTER", "2", a, b, "WEIGHTS", "1", "0", "AGGREGATE", "MIN", "WITHSCORES"),
        ("ZINTER", "2", a, b, "WEIGHTS", "0", "1", "AGGREGATE", "MAX", "WITHSCORES"),
        ("ZINTER", "3", c, a, b, "WEIGHTS", "0", "1", "1", "WITHSCORES"),
        ("ZINTER", "3", c, a, b, "WEIGHTS", "1", "0", "1", "AGGREGATE", "MIN", "WITHSCORES"),
        ("ZINTER", "2", a, a, "WEIGHTS", "0", "1", "WITHSCORES"),
        ("ZUNION", "2", a, b, "WEIGHTS", "-0", "1", "AGGREGATE", "MAX", "WITHSCORES"),
        ("ZUNION", "2", b, a, "WEIGHTS", "1", "-0", "AGGREGATE", "MIN", "WITHSCORES"),
        ("ZUNIONSTORE", d, "2", a, b, "WEIGHTS", "0", "1"), ("ZRANGE", d, "0", "-1", "WITHSCORES"),
        ("ZINTERSTORE", d, "2", a, b, "WEIGHTS", "1e308", "1e308"), ("ZRANGE", d, "0", "-1", "WITHSCORES"),
        ("ZUNION", "2", a, b, "WEIGHTS", "1e308", "10", "WITHSCORES"),
        ("ZADD", d, "1e16", "m"), ("ZADD", d + "x", "1", "m", "2", "k"), ("ZADD", d + "y", "-1e16", "m", "2", "k", "3", "j"),
        ("ZUNION", "3", d + "y", d, d + "x", "WITHSCORES"), ("ZUNION", "3", d, d + "x", d + "y", "WITHSCORES"),
        ("ZINTER", "3", d + "y", d + "x", d, "WITHSCORES"),
    ])


def test_aggregation_order_by_size(differ, K):
    """Redis sums in order of input size (stable for equal sizes): floating-point rounding
    makes that order visible."""
    a, b, c, d = K[:4]
    differ.check([
        ("ZADD", a, "1", "m", "1", "p2", "1", "p3"), ("ZADD", b, "1e17", "m"),
        ("ZADD", c, "-1e17", "m", "0", "q"), ("ZADD", d, "3", "m", "0", "r", "0", "s", "0", "t"),
        ("ZUNION", "4", a, b, c, d, "WITHSCORES"), ("ZUNION", "4", d, c, b, a, "WITHSCORES"),
        ("ZUNION", "3", b, c, a, "WITHSCORES"), ("ZUNION", "3", c, b, a, "WITHSCORES"),
        ("ZINTER", "3", a, b, c, "WITHSCORES"), ("ZINTER", "3", c, a, b, "WITHSCORES"),
        ("ZINTER", "4", d, c, b, a, "WITHSCORES"), ("ZINTER", "2", b, c, "WEIGHTS", "1", "0.1", "WITHSCORES"),
    ])


@pytest.mark.parametrize("n", [128, 129])
def test_encoding_threshold(differ, K, n):
    a, b, d = K[:3]
    differ.check([
        zfill(a, n // 2), zfill(b, n - n // 2, start=n // 2),
        ("ZUNIONSTORE", d, "2", a, b), ("OBJECT", "ENCODING", d), ("ZCARD", d),
        zfill(a, 200), ("OBJECT", "ENCODING", a), ("ZINTERSTORE", d, "2", a, b), ("OBJECT", "ENCODING", d),
        ("ZDIFFSTORE", d, "1", a), ("OBJECT", "ENCODING", d), ("ZADD", b, "1", "v" * 65),
        ("ZUNIONSTORE", d, "1", b), ("OBJECT", "ENCODING", d), ("ZADD", b + "s", "1", "w" * 64),
        ("ZUNIONSTORE", d, "1", b + "s"), ("OBJECT", "ENCODING", d),
        ("ZINTERSTORE", d, "2", a, b), ("OBJECT", "ENCODING", d), ("ZRANGE", d, "0", "-1", "WITHSCORES"),
    ])


def test_large(differ, K):
    """10k members: skiplists in and out, sets of every encoding mixed in."""
    a, b, c, d, e = K[:5]
    n = 10000
    big_a = zfill(a, n, score=lambda i: (i * 7919) % 1000 / 4)
    big_b = zfill(b, n, start=n // 2, score=lambda i: -i)
    big_s = sfill(c, [f"m{i}" for i in range(0, 2 * n, 3)])
    ints = sfill(e, [str(i) for i in range(300)])
    differ.check([
        big_a, big_b, big_s, ints,
        ("ZUNIONSTORE", d, "3", a, b, c), ("OBJECT", "ENCODING", d), ("ZCARD", d),
        ("ZRANGE", d, "0", "50", "WITHSCORES"), ("ZRANGE", d, "-50", "-1", "WITHSCORES"),
        ("ZINTERSTORE", d, "3", a, b, c, "WEIGHTS", "1", "2", "3", "AGGREGATE", "MAX"), ("ZCARD", d),
        ("ZRANGE", d, "0", "-1", "WITHSCORES"),
        ("ZDIFFSTORE", d, "3", a, b, c), ("ZCARD", d), ("OBJECT", "ENCODING", d),
        ("ZRANGE", d, "0", "-1", "WITHSCORES"),
        ("ZINTERCARD", "2", a, b), ("ZINTERCARD", "3", a, b, c, "LIMIT", "100"),
        ("ZINTER", "2", a, c, "WITHSCORES"), ("ZDIFF", "2", b, a, "WITHSCORES"),
        ("ZUNION", "2", a, e, "WITHSCORES"),
        ("ZINTERSTORE", d, "2", a, "nokey"), ("EXISTS", d),
        ("ZINTERSTORE", d, "2", e, a), ("OBJECT", "ENCODING", d),
    ])


def test_cross_shard_integrity(r, nshards, K):
    """Store results read back through the normal commands; every source survives."""
    a, b, c, d = K[:4]
    r.zadd(a, {f"x{i}": i for i in range(500)})
    r.zadd(b, {f"x{i}": 2 * i for i in range(250, 750)})
    r.sadd(c, *[f"x{i}" for i in range(0, 1000, 2)])
    assert r.zunionstore(d, [a, b, c]) == 875
    assert r.zscore(d, "x300") == 300 + 600 + 1
    assert r.zscore(d, "x749") == 1498
    assert r.zinterstore(d, {a: 1, b: 2, c: 3}, aggregate="MIN") == 125
    assert r.zrange(d, 0, 1, withscores=True) == [(b"x250", 3.0), (b"x252", 3.0)]
    assert r.execute_command("ZDIFFSTORE", d, 3, a, b, c) == 125
    assert r.zcard(a) == 500 and r.zcard(b) == 500 and r.scard(c) == 500
    assert r.execute_command("ZINTERCARD", 3, a, b, c) == 125
    r.set(c, "string")
    with pytest.raises(Exception, match="WRONGTYPE"):
        r.zunionstore(d, [a, b, c])
    assert r.zcard(d) == 125
    assert r.zunionstore(a, [a, b]) == 750 and r.zscore(a, "x260") == 780


def test_command_metadata(server, redis_ref, once):
    names = ["zunion", "zunionstore", "zinter", "zinterstore", "zintercard", "zdiff", "zdiffstore"]
    with server.raw() as a, redis_ref.raw() as b:
        got = a.call("COMMAND", "INFO", *names)
        exp = b.call("COMMAND", "INFO", *names)
        for g, e in zip(got, exp):
            # name, arity, flags, first, last, step, ACL categories
            assert [g[0], g[1], sorted(g[2]), g[3], g[4], g[5], sorted(g[6])] == \
                [e[0], e[1], sorted(e[2]), e[3], e[4], e[5], sorted(e[6])]
        ga = a.call("COMMAND", "DOCS", *names)
        gb = b.call("COMMAND", "DOCS", *names)
    da, db = dict(zip(ga[0::2], ga[1::2])), dict(zip(gb[0::2], gb[1::2]))
    assert sorted(da) == sorted(db)
    for name, doc in db.items():
        fe = dict(zip(doc[0::2], doc[1::2]))
        fg = dict(zip(da[name][0::2], da[name][1::2]))
        for f in (b"summary", b"since", b"complexity"):
            assert fg.get(f) == fe.get(f), (name, f)
        assert fg.get(b"group") == fe.get(b"group"), name


def test_in_multi(differ, K):
    a, b, d = K[:3]
    differ.check([
        ("ZADD", a, "1", "x", "2", "y"), ("ZADD", b, "3", "y", "4", "z"),
        ("MULTI",), ("ZUNIONSTORE", d, "2", a, b), ("ZINTER", "2", a, b, "WITHSCORES"),
        ("ZDIFFSTORE", a, "2", a, b), ("ZINTERCARD", "2", a, d), ("ZUNION", "0", a),
        ("ZRANGE", d, "0", "-1", "WITHSCORES"), ("EXEC",),
        ("ZRANGE", a, "0", "-1", "WITHSCORES"),
    ])
