"""Sorted-set commands: ZADD ZINCRBY ZREM ZCARD ZCOUNT ZLEXCOUNT ZSCORE ZMSCORE ZRANK
ZREVRANK, the ZRANGE family, ZREMRANGEBY*, ZPOPMIN/MAX, ZMPOP, ZRANGESTORE, ZRANDMEMBER,
ZSCAN. Differential: the same script runs on corekv and on redis-server and every reply
must be byte-identical, in RESP2 and RESP3; keys span shards where a command allows it."""
import pytest

from helpers import decode, spread_keys

pytestmark = pytest.mark.differential


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def differ(differ, request, server):
    differ.proto = request.param
    return differ


@pytest.fixture
def K(nshards):
    return spread_keys(nshards, "z", max(1, 8 // nshards))


def fill(k, n, prefix="m", score=lambda i: i):
    args = ["ZADD", k]
    for i in range(n):
        args += [str(score(i)), f"{prefix}{i}"]
    return tuple(args)


def test_zadd_options_and_errors(differ, K):
    k, s = K[0], K[1]
    differ.check([
        ("ZADD", k, "1", "a"), ("ZADD", k, "2", "b", "3", "c"), ("ZADD", k, "1", "a"),
        ("ZADD", k, "CH", "5", "a", "6", "d"), ("ZADD", k, "NX", "9", "a", "10", "e"),
        ("ZADD", k, "XX", "9", "a", "10", "f"), ("ZADD", k, "XX", "CH", "9", "a"),
        ("ZADD", k, "GT", "CH", "1", "a", "100", "b"), ("ZADD", k, "LT", "CH", "1", "a"),
        ("ZADD", k, "INCR", "2.5", "a"), ("ZADD", k, "NX", "INCR", "1", "a"),
        ("ZADD", k, "XX", "INCR", "1", "zz"), ("ZADD", k, "GT", "INCR", "-1", "a"),
        ("ZADD", k, "INCR", "0", "a"),
        ("ZADD", k, "NX", "XX", "1", "a"), ("ZADD", k, "GT", "LT", "1", "a"),
        ("ZADD", k, "GT", "NX", "1", "a"), ("ZADD", k, "INCR", "1", "a", "2", "b"),
        ("ZADD", k, "1"), ("ZADD", k, "1", "a", "2"), ("ZADD", k, "x", "a"),
        ("ZADD", k, "1", "a", "nan", "b"), ("ZADD", k, "inf", "a"), ("ZADD", k, "INCR", "-inf", "a"),
        ("ZADD", k, "-inf", "n"), ("ZADD", k, "+inf", "p"), ("ZSCORE", k, "n"),
        ("ZADD", k, "1e300", "big"), ("ZADD", k, "0.1", "tenth"), ("ZADD", k, "-0", "negz"),
        ("ZRANGE", k, "0", "-1", "WITHSCORES"),
        ("ZADD", "nokey", "XX", "1", "a"), ("ZADD", "nokey", "XX", "INCR", "1", "a"),
        ("EXISTS", "nokey"), ("SET", s, "str"), ("ZADD", s, "1", "a"), ("ZADD", s, "x", "a"),
        ("ZINCRBY", k, "3", "b"), ("ZINCRBY", k, "x", "b"), ("ZINCRBY", k, "1", "new"),
        ("ZINCRBY", s, "1", "a"), ("ZINCRBY", k, "-inf", "p"), ("ZINCRBY", k, "+inf", "n"),
        ("ZCARD", k), ("ZCARD", "nokey"), ("ZCARD", s), ("zadd", k, "nx", "ch", "7", "q"),
    ])


def test_zrem_score_rank(differ, K):
    k, s = K[0], K[1]
    differ.check([
        fill(k, 10), ("ZREM", k, "m1", "m2", "nope", "m1"), ("ZREM", "nokey", "a"),
        ("ZSCORE", k, "m3"), ("ZSCORE", k, "m1"), ("ZSCORE", "nokey", "a"),
        ("ZMSCORE", k, "m3", "nope", "m4"), ("ZMSCORE", "nokey", "a", "b"),
        ("ZRANK", k, "m0"), ("ZRANK", k, "m9"), ("ZREVRANK", k, "m0"), ("ZRANK", k, "x"),
        ("ZRANK", "nokey", "x"), ("ZREVRANK", k, "m5"),
        ("SET", s, "v"), ("ZREM", s, "a"), ("ZSCORE", s, "a"), ("ZMSCORE", s, "a"),
        ("ZRANK", s, "a"), ("ZREVRANK", s, "a"),
        ("ZREM", k, *[f"m{i}" for i in range(10)]), ("EXISTS", k),
    ])


def test_zrank_withscore(server, K):
    """ZRANK / ZREVRANK key member WITHSCORE, Redis 7.2's form (the reference redis-server
    is 7.0, which lacks it, so the expected bytes are spelled out from 7.2's t_zset.c):
    [rank, score] with the score a bulk string in RESP2 and a double in RESP3; a missing
    key or member is a null array; the option is checked before the key."""
    k, s = K[0], K[1]
    with server.raw() as c:
        c.call("ZADD", k, "1.5", "a", "2", "b", "inf", "c", "-inf", "d")
        c.call("SET", s, "v")
        common = [
            (("ZRANK", k, "a", "FOO"), b"-ERR syntax error\r\n"),
            (("ZRANK", "nokey", "a", "FOO"), b"-ERR syntax error\r\n"),
            (("ZRANK", s, "a", "FOO"), b"-ERR syntax error\r\n"),
            (("ZRANK", k, "a", "WITHSCORE", "x"),
             b"-ERR wrong number of arguments for 'zrank' command\r\n"),
            (("ZREVRANK", k, "a", "WITHSCORE", "WITHSCORE"),
             b"-ERR wrong number of arguments for 'zrevrank' command\r\n"),
            (("ZRANK", s, "a", "WITHSCORE"),
             b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            (("ZRANK", k, "a"), b":1\r\n"),
        ]
        for args, want in common + [
            (("ZRANK", k, "a", "WITHSCORE"), b"*2\r\n:1\r\n$3\r\n1.5\r\n"),
            (("zrevrank", k, "a", "withscore"), b"*2\r\n:2\r\n$3\r\n1.5\r\n"),
            (("ZRANK", k, "c", "WithScore"), b"*2\r\n:3\r\n$3\r\ninf\r\n"),
            (("ZREVRANK", k, "d", "WITHSCORE"), b"*2\r\n:3\r\n$4\r\n-inf\r\n"),
            (("ZRANK", k, "nope", "WITHSCORE"), b"*-1\r\n"),
            (("ZRANK", "nokey", "a", "WITHSCORE"), b"*-1\r\n"),
            (("ZRANK", k, "nope"), b"$-1\r\n"),
        ]:
            assert c.cmd(*args) == want, args
        c.call("HELLO", "3")
        for args, want in common + [
            (("ZRANK", k, "a", "WITHSCORE"), b"*2\r\n:1\r\n,1.5\r\n"),
            (("ZREVRANK", k, "b", "WITHSCORE"), b"*2\r\n:1\r\n,2\r\n"),
            (("ZRANK", k, "c", "WITHSCORE"), b"*2\r\n:3\r\n,inf\r\n"),
            (("ZRANK", k, "d", "WITHSCORE"), b"*2\r\n:0\r\n,-inf\r\n"),
            (("ZREVRANK", k, "nope", "WITHSCORE"), b"_\r\n"),
            (("ZRANK", "nokey", "a", "WITHSCORE"), b"_\r\n"),
            (("ZRANK", k, "nope"), b"_\r\n"),
        ]:
            assert c.cmd(*args) == want, args
        # A skiplist-encoded set answers the same way.
        c.call("ZADD", k, *[x for i in range(200) for x in (str(i + 10), f"big{i}")])
        assert c.cmd("ZRANK", k, "big7", "WITHSCORE") == b"*2\r\n:10\r\n,17\r\n"
        assert c.cmd("ZREVRANK", k, "big7", "WITHSCORE") == b"*2\r\n:193\r\n,17\r\n"


def test_zrank_metadata(server, redis_ref, once):
    """COMMAND INFO / DOCS of ZRANK and ZREVRANK as Redis 7.0 reports them, but for the
    arity: -3 since WITHSCORE (7.2), 3 in 7.0."""
    names = ["zrank", "zrevrank"]
    with server.raw() as a, redis_ref.raw() as b:
        got = a.call("COMMAND", "INFO", *names)
        exp = b.call("COMMAND", "INFO", *names)
        ga = a.call("COMMAND", "DOCS", *names)
        gb = b.call("COMMAND", "DOCS", *names)
    for g, e in zip(got, exp):
        assert g[1] == -3 and e[1] in (3, -3)
        assert [g[0], sorted(g[2]), g[3], g[4], g[5], sorted(g[6])] == \
            [e[0], sorted(e[2]), e[3], e[4], e[5], sorted(e[6])]
    da, db = dict(zip(ga[0::2], ga[1::2])), dict(zip(gb[0::2], gb[1::2]))
    assert sorted(da) == sorted(db)
    for name, doc in db.items():
        fe = dict(zip(doc[0::2], doc[1::2]))
        fg = dict(zip(da[name][0::2], da[name][1::2]))
        for f in (b"summary", b"since", b"complexity"):
            assert fg.get(f) == fe.get(f), (name, f)


@pytest.mark.parametrize("n", [5, 200])
def test_ranges(differ, K, n):
    k, s = K[0], K[1]
    lex = ("ZADD", k + "l", *sum([["0", c] for c in ["a", "b", "bb", "c", "d", "e", "ab"]], []))
    differ.check([
        fill(k, n, score=lambda i: i // 2), lex, ("OBJECT", "ENCODING", k),
        ("ZRANGE", k, "0", "-1"), ("ZRANGE", k, "0", "-1", "WITHSCORES"), ("ZRANGE", k, "2", "4"),
        ("ZRANGE", k, "-3", "-1", "withscores"), ("ZRANGE", k, "5", "1"), ("ZRANGE", k, "100", "200"),
        ("ZRANGE", k, "-1000", "1"), ("ZRANGE", k, "0", "1", "REV"), ("ZREVRANGE", k, "0", "2", "WITHSCORES"),
        ("ZRANGE", k, "1", "3", "BYSCORE"), ("ZRANGE", k, "(1", "3", "BYSCORE", "WITHSCORES"),
        ("ZRANGE", k, "3", "(1", "BYSCORE", "REV"), ("ZRANGE", k, "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"),
        ("ZRANGE", k, "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"),
        ("ZRANGE", k, "-inf", "+inf", "BYSCORE", "LIMIT", "1", "-1"),
        ("ZRANGE", k, "-inf", "+inf", "BYSCORE", "LIMIT", "1000", "1"),
        ("ZRANGE", k, "0", "1", "LIMIT", "0", "1"), ("ZRANGE", k, "0", "1", "LIMIT", "0", "-1"),
        ("ZRANGE", k + "l", "[b", "(d", "BYLEX"), ("ZRANGE", k + "l", "-", "+", "BYLEX", "LIMIT", "1", "3"),
        ("ZRANGE", k + "l", "+", "-", "BYLEX", "REV"), ("ZRANGE", k + "l", "-", "+", "BYLEX", "WITHSCORES"),
        ("ZRANGE", k + "l", "a", "+", "BYLEX"), ("ZRANGE", k, "x", "1", "BYSCORE"),
        ("ZRANGE", k, "x", "1"), ("ZRANGE", k, "0", "1", "LIMIT", "x", "1"), ("ZRANGE", k, "0", "1", "FOO"),
        ("ZRANGE", k, "0", "1", "LIMIT", "1"), ("ZRANGE", k, "1", "2", "BYSCORE", "BYLEX"),
        ("ZRANGEBYSCORE", k, "1", "2"), ("ZRANGEBYSCORE", k, "(1", "(3", "WITHSCORES"),
        ("ZRANGEBYSCORE", k, "-inf", "inf", "LIMIT", "2", "3"), ("ZRANGEBYSCORE", k, "1", "2", "REV"),
        ("ZREVRANGEBYSCORE", k, "3", "1"), ("ZREVRANGEBYSCORE", k, "+inf", "-inf", "WITHSCORES", "LIMIT", "0", "4"),
        ("ZREVRANGEBYSCORE", k, "1", "3"), ("ZRANGEBYSCORE", k, "2", "1"), ("ZRANGEBYSCORE", k, "(1", "1"),
        ("ZRANGEBYLEX", k + "l", "[a", "[c"), ("ZRANGEBYLEX", k + "l", "(a", "+", "LIMIT", "0", "2"),
        ("ZREVRANGEBYLEX", k + "l", "[c", "[a"), ("ZREVRANGEBYLEX", k + "l", "+", "-", "LIMIT", "1", "2"),
        ("ZRANGEBYLEX", k + "l", "[c", "[a"), ("ZRANGEBYLEX", k + "l", "c", "[a"),
        ("ZRANGEBYLEX", k + "l", "[a", "[c", "WITHSCORES"),
        ("ZCOUNT", k, "1", "3"), ("ZCOUNT", k, "(1", "(3"), ("ZCOUNT", k, "-inf", "+inf"),
        ("ZCOUNT", k, "x", "1"), ("ZCOUNT", "nokey", "1", "2"), ("ZCOUNT", k, "3", "1"),
        ("ZLEXCOUNT", k + "l", "-", "+"), ("ZLEXCOUNT", k + "l", "[b", "(d"), ("ZLEXCOUNT", k + "l", "b", "c"),
        ("ZLEXCOUNT", "nokey", "-", "+"),
        ("ZRANGE", "nokey", "0", "-1"), ("SET", s, "v"), ("ZRANGE", s, "0", "-1"), ("ZCOUNT", s, "1", "2"),
        ("ZRANGEBYLEX", s, "-", "+"),
    ])


@pytest.mark.parametrize("n", [10, 300])
def test_remrange(differ, K, n):
    k = K[0]
    differ.check([
        fill(k, n), ("ZREMRANGEBYRANK", k, "0", "1"), ("ZREMRANGEBYRANK", k, "-2", "-1"),
        ("ZREMRANGEBYRANK", k, "5", "2"), ("ZREMRANGEBYRANK", k, "x", "2"),
        ("ZREMRANGEBYSCORE", k, "(3", "5"), ("ZREMRANGEBYSCORE", k, "x", "5"),
        ("ZREMRANGEBYSCORE", "nokey", "1", "2"), ("ZCARD", k), ("ZRANGE", k, "0", "-1", "WITHSCORES"),
        ("ZADD", k + "l", "0", "a", "0", "b", "0", "c", "0", "d"),
        ("ZREMRANGEBYLEX", k + "l", "[b", "(d"), ("ZREMRANGEBYLEX", k + "l", "b", "c"),
        ("ZREMRANGEBYLEX", k + "l", "-", "+"), ("EXISTS", k + "l"),
        ("ZREMRANGEBYRANK", k, "0", "-1"), ("EXISTS", k),
    ])


def test_pops(differ, K):
    k, s = K[0], K[1]
    differ.check([
        fill(k, 10), ("ZPOPMIN", k), ("ZPOPMAX", k), ("ZPOPMIN", k, "2"), ("ZPOPMAX", k, "0"),
        ("ZPOPMIN", k, "-1"), ("ZPOPMIN", k, "x"), ("ZPOPMIN", k, "1", "2"), ("ZPOPMIN", "nokey"),
        ("ZPOPMIN", "nokey", "3"), ("ZPOPMAX", k, "100"), ("EXISTS", k),
        ("SET", s, "v"), ("ZPOPMIN", s), ("ZPOPMAX", s, "0"),
    ])


def test_zmpop(differ, K):
    a, b, c = K[0], K[1], K[2]
    differ.check([
        ("ZMPOP", "1", a, "MIN"), ("ZADD", b, "1", "x", "2", "y", "3", "z"),
        ("ZMPOP", "3", a, b, c, "MIN"), ("ZMPOP", "3", a, b, c, "MAX", "COUNT", "5"),
        ("ZMPOP", "2", a, b, "MIN"), ("EXISTS", b),
        ("ZMPOP", "0", a, "MIN"), ("ZMPOP", "x", a, "MIN"), ("ZMPOP", "-1", a, "MIN"),
        ("ZMPOP", "5", a, "MIN"), ("ZMPOP", "1", a, "MID"), ("ZMPOP", "1", a, "MIN", "COUNT", "0"),
        ("ZMPOP", "1", a, "MIN", "COUNT", "x"), ("ZMPOP", "1", a, "MIN", "COUNT", "1", "COUNT", "1"),
        ("ZMPOP", "1", a, "MIN", "FOO"),
        ("SET", a, "str"), ("ZADD", c, "1", "q"), ("ZMPOP", "2", a, c, "MIN"),
        ("ZMPOP", "2", c, a, "MAX"), ("ZMPOP", "2", c, a, "MAX"),
    ])


def test_zrangestore(differ, K):
    src, dst, s = K[0], K[1], K[2]
    differ.check([
        fill(src, 20), ("ZRANGESTORE", dst, src, "0", "4"), ("ZRANGE", dst, "0", "-1", "WITHSCORES"),
        ("OBJECT", "ENCODING", dst),
        ("ZRANGESTORE", dst, src, "(3", "10", "BYSCORE", "LIMIT", "1", "3"), ("ZRANGE", dst, "0", "-1"),
        ("ZRANGESTORE", dst, src, "10", "3", "BYSCORE", "REV"), ("ZRANGE", dst, "0", "-1"),
        ("ZRANGESTORE", dst, src, "0", "-1", "WITHSCORES"), ("ZRANGESTORE", dst, src, "x", "1"),
        ("ZRANGESTORE", dst, src, "5", "1"), ("EXISTS", dst), ("ZRANGESTORE", dst, "nokey", "0", "1"),
        ("SET", s, "v"), ("ZRANGESTORE", dst, s, "0", "1"), ("ZRANGESTORE", s, src, "0", "1"),
        ("TYPE", s), ("ZRANGESTORE", src, src, "0", "2"), ("ZRANGE", src, "0", "-1"),
    ])


def test_zrangestore_big(differ, K):
    src, dst = K[0], K[1]
    differ.check([
        fill(src, 300), ("ZRANGESTORE", dst, src, "0", "199"), ("OBJECT", "ENCODING", dst),
        ("ZRANGESTORE", dst, src, "0", "99"), ("OBJECT", "ENCODING", dst), ("ZCARD", dst),
        ("ZADD", src, "1000", "x" * 100), ("ZRANGESTORE", dst, src, "-2", "-1"), ("OBJECT", "ENCODING", dst),
    ])


def test_encodings(differ, K):
    k, k2 = K[0], K[1]
    differ.check([
        fill(k, 128), ("OBJECT", "ENCODING", k), ("ZADD", k, "1", "extra"), ("OBJECT", "ENCODING", k),
        ("ZREM", k, "extra", "m1", "m2"), ("OBJECT", "ENCODING", k),
        ("ZADD", k2, "1", "a" * 64), ("OBJECT", "ENCODING", k2), ("ZADD", k2, "1", "b" * 65),
        ("OBJECT", "ENCODING", k2), fill(k + "x", 129), ("OBJECT", "ENCODING", k + "x"),
        ("ZADD", k + "y", "1", "c" * 65), ("OBJECT", "ENCODING", k + "y"),
    ])


def test_zrandmember(differ, K):
    k, s = K[0], K[1]
    differ.check([
        ("ZRANDMEMBER", "nokey"), ("ZRANDMEMBER", "nokey", "3"), ("ZRANDMEMBER", "nokey", "-3", "WITHSCORES"),
        ("ZADD", k, "1", "a"), ("ZRANDMEMBER", k), ("ZRANDMEMBER", k, "1"), ("ZRANDMEMBER", k, "-3"),
        ("ZRANDMEMBER", k, "-2", "WITHSCORES"), ("ZRANDMEMBER", k, "5", "WITHSCORES"), ("ZRANDMEMBER", k, "0"),
        ("ZRANDMEMBER", k, "x"), ("ZRANDMEMBER", k, "1", "FOO"), ("ZRANDMEMBER", k, "1", "WITHSCORES", "x"),
        ("ZRANDMEMBER", k, "-9223372036854775808"), ("ZRANDMEMBER", k, "-9223372036854775807", "WITHSCORES"),
        ("SET", s, "v"), ("ZRANDMEMBER", s), ("ZRANDMEMBER", s, "2"),
    ])


@pytest.mark.parametrize("n", [20, 300])
def test_zrandmember_props(r, K, n):
    k = K[0]
    r.zadd(k, {f"m{i}": i for i in range(n)})
    for cnt in (1, 5, n // 2, n - 1, n, n + 10):
        got = r.zrandmember(k, cnt)
        assert len(got) == min(cnt, n) and len(set(got)) == len(got)
    got = r.zrandmember(k, -50, withscores=True)
    assert len(got) == 100  # flat member, score in RESP2


def test_zscan(differ, K, r):
    k, s = K[0], K[1]
    differ.check([
        fill(k, 20), ("ZSCAN", k, "0"), ("ZSCAN", k, "0", "MATCH", "m1*"), ("ZSCAN", k, "0", "COUNT", "0"),
        ("ZSCAN", k, "x"), ("ZSCAN", k, "0", "FOO", "1"), ("ZSCAN", "nokey", "0"), ("ZSCAN", "nokey", "0", "FOO"),
        ("SET", s, "v"), ("ZSCAN", s, "0"),
        # The cursor as strtoul reads it, then the options (SCAN's shared parser).
        ("ZSCAN", k, "-1"), ("ZSCAN", k, "+0"), ("ZSCAN", k, " 1"), ("ZSCAN", k, "1 "),
        ("ZSCAN", k, ""), ("ZSCAN", k, "18446744073709551616"), ("ZSCAN", s, "x"),
        ("ZSCAN", "nokey", "x"), ("ZSCAN", k, "0", "COUNT", "x"),
        ("ZSCAN", k, "0", "COUNT", "-1"), ("ZSCAN", k, "0", "MATCH"),
        ("ZSCAN", k, "0", "TYPE", "zset"), ("ZSCAN", k, "0", "match", "*", "count", "5"),
        ("ZSCAN", k, "0", "COUNT", "9223372036854775807"),
        ("ZSCAN", k, "0", "COUNT", "0", "MATCH", "m*"),
        ("ZSCAN", k, "0", "MATCH", "m*", "COUNT", "0"),
    ])


def test_zscan_skiplist(r, K):
    k = K[0]
    n = 1000
    r.zadd(k, {f"m{i}": i / 4 for i in range(n)})
    seen = {}
    cur = 0
    while True:
        cur, items = r.zscan(k, cur, count=50)
        seen.update(items)
        if cur == 0:
            break
    assert len(seen) == n and seen[b"m5"] == 1.25


def test_order_and_big(r, K):
    k = K[0]
    n = 5000
    import random
    rnd = random.Random(7)
    ref = {}
    for _ in range(3):
        batch = {f"x{rnd.randrange(2000)}": rnd.randrange(100) for _ in range(500)}
        r.zadd(k, batch)
        ref.update(batch)
    for m in list(ref)[:300]:
        r.zrem(k, m)
        del ref[m]
    want = sorted(ref.items(), key=lambda kv: (kv[1], kv[0].encode()))
    got = r.zrange(k, 0, -1, withscores=True)
    assert [(m.decode(), int(s)) for m, s in got] == want
    for i, (m, _) in enumerate(want[:50]):
        assert r.zrank(k, m) == i
        assert r.zrevrank(k, m) == len(want) - 1 - i
    assert r.object("encoding", k) == b"skiplist"
    assert n  # keep n used


def test_cross_shard_rangestore_zmpop(r, nshards):
    from helpers import two_keys_on_different_shards
    a, b = two_keys_on_different_shards(nshards, "cz") if nshards > 1 else ("cza", "czb")
    r.zadd(a, {"x": 1, "y": 2, "z": 3})
    assert r.zrangestore(b, a, 0, 1) == 2
    assert r.zrange(b, 0, -1, withscores=True) == [(b"x", 1.0), (b"y", 2.0)]
    assert r.execute_command("ZMPOP", 2, b, a, "MAX", "COUNT", 5) == [b.encode(), [[b"y", b"2"], [b"x", b"1"]]]
    assert r.exists(b) == 0
    assert r.execute_command("ZMPOP", 2, b, a, "MIN") == [a.encode(), [[b"x", b"1"]]]
    r.set(b, "str")
    with pytest.raises(Exception, match="WRONGTYPE"):
        r.execute_command("ZMPOP", 2, b, a, "MIN")
    assert r.execute_command("ZMPOP", 2, "{nothing}1", "{nothing}2", "MIN") is None
    assert decode(b"*0\r\n") == []
