"""Set commands: SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS SPOP SRANDMEMBER SMOVE SINTER
SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE SSCAN.

Mostly differential against redis-server (7.0): byte-for-byte where the reply order is
defined (intsets reply in ascending order, errors, counts), and as sorted members where it
is not (hash order, random picks). Encodings are checked against Redis 7.2's documented
behaviour (listpack sets), which the 7.0 reference does not have. The multi-key commands
run with their keys spread over every shard."""
import random
import threading

import pytest

from helpers import Loose, decode, spread_keys, two_keys_on_different_shards

pytestmark = pytest.mark.differential

WRONGTYPE = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def differ(differ, request, server):
    """Every differential script of this module runs in RESP2 and in RESP3."""
    differ.proto = request.param
    return differ


@pytest.fixture
def K(nshards):
    # Eight keys spread over every shard (the same names on both servers).
    return spread_keys(nshards, "set", max(1, 8 // nshards))


def _key(m):
    return repr(m)


def same_members(a, b):
    """Loose check: the same reply type; aggregates hold the same members in any order."""
    if a[:1] != b[:1]:
        return False
    da, db = decode(a), decode(b)
    if isinstance(da, list) and isinstance(db, list):
        return sorted(da, key=_key) == sorted(db, key=_key)
    return a == b


def S(*args):
    return Loose(*args, check=same_members)


def enc(r, k):
    return r.object("encoding", k)


# --------------------------------------------------------------------------------------
# Single-key commands
# --------------------------------------------------------------------------------------

def test_intsets_byte_exact(differ, K):
    k, k2, nk = K[0], K[1], "missing-" + K[2]
    differ.check([
        ("SADD", k, 3, 1, 2, 2, -5), ("SCARD", k), ("SMEMBERS", k), ("OBJECT", "ENCODING", k),
        ("SISMEMBER", k, 1), ("SISMEMBER", k, "01"), ("SISMEMBER", k, 9), ("SISMEMBER", nk, 1),
        ("SMISMEMBER", k, 1, 9, 3, "x"), ("SMISMEMBER", nk, 1, 2), ("SCARD", nk),
        ("SMEMBERS", nk), ("SADD", k, 9223372036854775807, -9223372036854775808),
        ("SMEMBERS", k), ("SADD", k, 1, 2), ("SREM", k, 1, 77, 3), ("SMEMBERS", k),
        ("SREM", nk, 1), ("SREM", k, -5, 2, 9223372036854775807, -9223372036854775808, 1),
        ("EXISTS", k), ("SMEMBERS", k), ("TYPE", k),
        ("SADD", k2, *range(100, 0, -3)), ("SMEMBERS", k2), ("SCARD", k2),
        ("SADD", k2, "007"), ("SISMEMBER", k2, "007"), ("SISMEMBER", k2, 7),
    ])


def test_string_members(differ, K):
    k, nk = K[0], "missing-" + K[1]
    big = "x" * 100
    differ.check([
        ("SADD", k, "a", "b", "", b"bin\x00\r\n\xff", "a", big), S("SMEMBERS", k), ("SCARD", k),
        ("SISMEMBER", k, ""), ("SISMEMBER", k, b"bin\x00\r\n\xff"), ("SISMEMBER", k, big),
        ("SMISMEMBER", k, "a", "zz", big), ("SADD", k, 1, 2), S("SMEMBERS", k),
        ("SREM", k, "a", "", "nope"), S("SMEMBERS", k), ("SREM", k, "b", big, 1, 2),
        S("SMEMBERS", k), ("SREM", k, b"bin\x00\r\n\xff"), ("EXISTS", k), ("SREM", nk, "x"),
    ])


def test_wrongtype_and_arity(differ, K):
    s, st = K[0], K[1]
    cmds = [("SADD", s, "v"), ("SREM", s, "v"), ("SCARD", s), ("SISMEMBER", s, "v"),
            ("SMISMEMBER", s, "v"), ("SMEMBERS", s), ("SPOP", s), ("SPOP", s, 2),
            ("SRANDMEMBER", s), ("SRANDMEMBER", s, 2), ("SRANDMEMBER", s, -2),
            ("SSCAN", s, 0), ("SINTER", s), ("SUNION", s), ("SDIFF", s),
            ("SINTERCARD", 1, s), ("SINTERSTORE", st, s), ("SUNIONSTORE", st, s),
            ("SDIFFSTORE", st, s), ("SMOVE", s, st, "v")]
    arity = [("SADD", s), ("SREM", s), ("SCARD",), ("SCARD", s, s), ("SISMEMBER", s),
             ("SMISMEMBER", s), ("SMEMBERS",), ("SPOP",), ("SRANDMEMBER",), ("SMOVE", s, st),
             ("SINTER",), ("SINTERCARD", 1), ("SINTERSTORE", st), ("SUNION",),
             ("SUNIONSTORE", st), ("SDIFF",), ("SDIFFSTORE", st), ("SSCAN", s)]
    differ.check([("SET", s, "str"), ("SET", st, "dst")] + cmds + arity +
                 [("GET", s), ("GET", st)])


def test_count_errors(differ, K):
    k, nk = K[0], "missing-" + K[1]
    differ.check([
        ("SADD", k, 1, 2, 3),
        ("SPOP", k, -1), ("SPOP", k, "x"), ("SPOP", k, "1.5"), ("SPOP", k, 1, 2),
        ("SPOP", nk, -1), ("SPOP", nk, 3), ("SPOP", nk), ("SPOP", k, 0),
        ("SRANDMEMBER", k, "x"), ("SRANDMEMBER", k, "9223372036854775808"),
        ("SRANDMEMBER", k, "-9223372036854775808"), ("SRANDMEMBER", k, 1, 2),
        ("SRANDMEMBER", k, 0), ("SRANDMEMBER", nk), ("SRANDMEMBER", nk, 5),
        ("SRANDMEMBER", nk, -5), ("SRANDMEMBER", k, 3), ("SRANDMEMBER", k, 100),
        ("SCARD", k),
    ])


def test_spop_srandmember_random(differ, K):
    k = K[0]
    ints = list(range(1, 41))
    strs = ["m%d" % i for i in range(40)]
    script = []
    for members in (ints, strs):
        script += [("DEL", k), ("SADD", k, *members)]
        for c in (1, 5, 15, 39, 40, 41):
            script.append(Loose("SRANDMEMBER", k, c, check=_shape_same_len))
            script.append(Loose("SRANDMEMBER", k, -c, check=_shape_same_len))
        script += [Loose("SPOP", k), ("SCARD", k), Loose("SPOP", k, 3, check=_shape_same_len),
                   ("SCARD", k), Loose("SPOP", k, 30, check=_shape_same_len), ("SCARD", k),
                   Loose("SPOP", k, 10, check=_shape_same_len), ("EXISTS", k)]
    differ.check(script)


def _shape_same_len(a, b):
    if a[:1] != b[:1]:
        return False
    da, db = decode(a), decode(b)
    return isinstance(da, list) and isinstance(db, list) and len(da) == len(db)


@pytest.mark.parametrize("kind", ["intset", "listpack", "hashtable"])
def test_spop_srandmember_semantics(r, kind):
    members = {"intset": [str(i) for i in range(60)],
               "listpack": ["m%d" % i for i in range(60)],
               "hashtable": ["m%d" % i for i in range(300)]}[kind]
    r.sadd("s", *members)
    assert enc(r, "s") == kind.encode()
    n = len(members)
    full = set(m.encode() for m in members)
    for c in (1, 2, n // 10, n // 3, n // 2, n - 1, n, n + 5):
        got = r.execute_command("SRANDMEMBER", "s", c)
        assert len(got) == min(c, n) and len(set(got)) == len(got) and set(got) <= full
        got = r.execute_command("SRANDMEMBER", "s", -c)
        assert len(got) == c and set(got) <= full
    # A negative count returns repeats: over many draws a small set repeats members.
    assert len(set(r.execute_command("SRANDMEMBER", "s", -3 * n))) <= n
    assert r.srandmember("s") in full
    # SPOP in each of Redis's strategies: few (pop one by one), most (keep a sample).
    left = set(full)
    for c in (1, 3, n // 10, (n - 5) // 2):
        got = r.execute_command("SPOP", "s", c)
        assert len(got) == c and len(set(got)) == c and set(got) <= left
        left -= set(got)
        assert set(r.smembers("s")) == left
    # Most of what is left: the two that stay are drawn into a new set.
    got = r.execute_command("SPOP", "s", len(left) - 2)
    assert len(set(got)) == len(left) - 2 and set(got) <= left
    left -= set(got)
    assert set(r.smembers("s")) == left
    assert enc(r, "s") == (b"intset" if kind == "intset" else b"listpack")
    assert r.spop("s") in left
    rest = r.execute_command("SPOP", "s", 10)
    assert len(rest) == 1 and r.exists("s") == 0


def test_srandmember_huge_negative_count_is_bounded(r):
    r.sadd("s", "a", "b")
    with pytest.raises(Exception):
        r.execute_command("SRANDMEMBER", "s", -(1 << 40))
    assert r.scard("s") == 2


# --------------------------------------------------------------------------------------
# Encodings (Redis 7.2: intset, listpack, hashtable)
# --------------------------------------------------------------------------------------

def test_encodings_and_conversions(r):
    r.sadd("i", 1, 2, 3)
    assert enc(r, "i") == b"intset"
    r.sadd("i", "a")
    assert enc(r, "i") == b"listpack"
    r.srem("i", "a")
    assert enc(r, "i") == b"listpack"  # never converts back
    r.sadd("i", *["s%d" % j for j in range(124)])
    assert r.scard("i") == 127 and enc(r, "i") == b"listpack"
    r.sadd("i", "last")
    assert r.scard("i") == 128 and enc(r, "i") == b"listpack"
    r.sadd("i", "one-more")
    assert enc(r, "i") == b"hashtable"

    r.sadd("big-ints", *range(200))
    assert enc(r, "big-ints") == b"intset"
    r.sadd("big-ints", "x")  # 200 integers and a string: too many for a listpack
    assert enc(r, "big-ints") == b"hashtable"

    r.sadd("n512", *range(512))
    assert enc(r, "n512") == b"intset"
    r.sadd("n512", 512)
    assert enc(r, "n512") == b"hashtable"
    r.sadd("n513", *range(513))  # one SADD too big for an intset: hashtable at once
    assert enc(r, "n513") == b"hashtable"

    r.sadd("lv", "x" * 64)
    assert enc(r, "lv") == b"listpack"
    r.sadd("lv", "y" * 65)
    assert enc(r, "lv") == b"hashtable"
    r.sadd("lv2", "y" * 65)
    assert enc(r, "lv2") == b"hashtable"
    r.sadd("many", *["m%d" % j for j in range(129)])
    assert enc(r, "many") == b"hashtable"
    r.sadd("few", "a")
    r.sadd("few", *["m%d" % j for j in range(129)])  # SADD's size hint converts first
    assert enc(r, "few") == b"hashtable"
    r.sadd("mix", 1, "a")  # first member decides: intset, then a string
    assert enc(r, "mix") == b"listpack"
    r.sadd("strfirst", "a", 1, 2)
    assert enc(r, "strfirst") == b"listpack"
    assert sorted(r.smembers("strfirst")) == [b"1", b"2", b"a"]


def test_store_result_encodings(r, nshards):
    a, b, c, d, e, dst = spread_keys(nshards, "enc", -(-6 // nshards))[:6]
    r.sadd(a, 1, 2, 3, "x")
    r.sadd(b, 1, 2, 3, "x")
    assert r.sinterstore(dst, a, b) == 4 and enc(r, dst) == b"listpack"
    r.srem(a, "x")
    assert r.sinterstore(dst, a, b) == 3 and enc(r, dst) == b"intset"
    assert r.sunionstore(dst, a, b) == 4 and enc(r, dst) == b"listpack"
    assert r.sdiffstore(dst, b, a) == 1 and enc(r, dst) == b"listpack"
    assert r.sdiffstore(dst, a, c) == 3 and enc(r, dst) == b"intset"
    r.delete(a, b)
    r.sadd(a, *range(300))
    r.sadd(b, *range(150, 700))  # hashtable of integers
    assert enc(r, b) == b"hashtable"
    assert r.sinterstore(dst, a, b) == 150 and enc(r, dst) == b"intset"
    assert r.sunionstore(dst, a, b) == 700 and enc(r, dst) == b"hashtable"
    assert r.sdiffstore(dst, b, a) == 400 and enc(r, dst) == b"intset"
    r.sadd(c, *["s%d" % j for j in range(200)])
    assert r.sunionstore(dst, c) == 200 and enc(r, dst) == b"hashtable"
    # SDIFFSTORE's "add the first set, then remove the others" plan keeps the first
    # set's encoding even when only integers remain (Redis 7.2's algorithm 2).
    r.delete(a, b, c, d, e)
    r.sadd(a, "a", 1, 2, 3, 4, 5)
    r.sadd(b, "a")
    r.sadd(c, "p")
    r.sadd(d, "q")
    r.sadd(e, "r")
    assert r.sdiffstore(dst, a, b, c, d, e) == 5
    assert enc(r, dst) == b"listpack"
    assert sorted(r.smembers(dst)) == [b"1", b"2", b"3", b"4", b"5"]
    assert r.sdiffstore(dst, a, b) == 5 and enc(r, dst) == b"intset"  # algorithm 1


@pytest.mark.parametrize("kind", ["intset", "listpack", "hashtable"])
def test_values_move_between_shards_with_encoding(r, nshards, kind):
    src, dst = two_keys_on_different_shards(nshards, "mv")
    members = {"intset": list(range(50)), "listpack": ["a", 1, "b" * 10],
               "hashtable": ["h%d" % j for j in range(1000)]}[kind]
    r.sadd(src, *members)
    assert enc(r, src) == kind.encode()
    want = r.smembers(src)
    r.rename(src, dst)
    assert enc(r, dst) == kind.encode() and r.smembers(dst) == want
    r.copy(dst, src)
    assert enc(r, src) == kind.encode() and r.smembers(src) == want
    assert r.sismember(src, str(members[-1]))


# --------------------------------------------------------------------------------------
# Multi-key commands, keys spread over the shards
# --------------------------------------------------------------------------------------

def _fill_script(keys, rnd, ints_only):
    script = []
    for k in keys:
        n = rnd.choice([0, 1, 3, 10, 40, 150])
        if not n:
            continue
        if ints_only:
            members = [rnd.randrange(60) for _ in range(n)]
        else:
            members = [rnd.choice(["m%d" % rnd.randrange(60), rnd.randrange(60)])
                       for _ in range(n)]
        script.append(("SADD", k, *members))
    return script


@pytest.mark.parametrize("ints_only", [True, False], ids=["ints", "mixed"])
def test_algebra_differential(differ, K, ints_only):
    rnd = random.Random(7 if ints_only else 8)
    srcs, dst = K[:6], K[6 % len(K)] + "-dst"
    script = _fill_script(srcs, rnd, ints_only)
    R = (lambda *a: a) if ints_only else S  # intsets reply in ascending order
    for _ in range(25):
        ks = rnd.sample(srcs + ["nokey"], rnd.randint(1, 4))
        if rnd.random() < 0.2:
            ks.append(ks[0])  # a key given twice
        script += [R("SINTER", *ks), R("SUNION", *ks), R("SDIFF", *ks),
                   ("SINTERCARD", len(ks), *ks), ("SINTERCARD", len(ks), *ks, "LIMIT", 2),
                   ("SINTERCARD", len(ks), *ks, "LIMIT", 0)]
        for cmd in ("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"):
            script += [(cmd, dst, *ks), ("SCARD", dst), R("SMEMBERS", dst), ("EXISTS", dst)]
    # The destination is one of the sources.
    script += [("SUNIONSTORE", srcs[0], srcs[0], srcs[1]), R("SMEMBERS", srcs[0]),
               ("SINTERSTORE", srcs[1], srcs[1], srcs[0]), R("SMEMBERS", srcs[1]),
               ("SDIFFSTORE", srcs[2], srcs[2], srcs[3]), R("SMEMBERS", srcs[2])]
    differ.check(script)


def test_algebra_errors_and_missing(differ, K):
    a, b, c, st, dst = K[0], K[1], K[2], K[3], K[4] + "-dst"
    differ.check([
        ("SADD", a, 1, 2, 3), ("SADD", b, 2, 3, 4), ("SET", st, "x"), ("SADD", dst, 9),
        ("SINTER", a, "nokey"), ("SINTER", "nokey", st), ("SINTER", a, st),
        ("SUNION", "nokey"), ("SUNION", a, st), ("SDIFF", "nokey", a), ("SDIFF", a, st),
        ("SDIFF", "nokey", st), ("SDIFF", a, a), ("SDIFF", a, b, a),
        ("SINTERCARD", 2, a, st), ("SINTERCARD", 2, "nokey", st), ("SINTERCARD", 2, a, b),
        ("SINTERCARD", 0, a), ("SINTERCARD", -1, a), ("SINTERCARD", "x", a),
        ("SINTERCARD", 3, a, b), ("SINTERCARD", 2, a, b, "LIMIT"),
        ("SINTERCARD", 2, a, b, "LIMIT", -1), ("SINTERCARD", 2, a, b, "LIMIT", "x"),
        ("SINTERCARD", 2, a, b, "FOO", 1), ("SINTERCARD", 2, a, b, "limit", 1, "limit", 5),
        ("SINTERCARD", 1, st), ("SINTERCARD", 3, a, b, "LIMIT"),
        # WRONGTYPE anywhere: nothing written.
        ("SINTERSTORE", dst, a, st), ("SMEMBERS", dst), ("SUNIONSTORE", dst, st, a),
        ("SMEMBERS", dst), ("SDIFFSTORE", dst, a, b, st), ("SMEMBERS", dst),
        ("SINTERSTORE", dst, "nokey", st), ("SMEMBERS", dst), ("GET", st),
        # Empty results delete the destination.
        ("SINTERSTORE", dst, a, "nokey"), ("EXISTS", dst), ("SADD", dst, 9),
        ("SDIFFSTORE", dst, a, a), ("EXISTS", dst), ("SET", dst, "str"),
        ("SUNIONSTORE", dst, "nokey"), ("EXISTS", dst), ("SET", dst, "str"),
        ("SUNIONSTORE", dst, a, b), ("TYPE", dst), ("SMEMBERS", dst),
        ("SET", dst, "str"), ("EXPIRE", dst, 100), ("SINTERSTORE", dst, a, b), ("TTL", dst),
        ("SMEMBERS", dst), ("SMEMBERS", a), ("SMEMBERS", b),
    ])


def test_algebra_big_sets_across_shards(differ, K):
    a, b, c, dst = K[0], K[1], K[2], K[3] + "-dst"
    rnd = random.Random(11)
    script = []
    for k in (a, b, c):
        members = ["e%d" % rnd.randrange(3000) for _ in range(2000)]
        for j in range(0, len(members), 500):
            script.append(("SADD", k, *members[j:j + 500]))
    script += [S("SINTER", a, b, c), S("SUNION", a, b, c), S("SDIFF", a, b, c),
               S("SDIFF", c, a), ("SINTERCARD", 3, a, b, c), ("SINTERCARD", 2, a, b),
               ("SINTERCARD", 2, a, b, "LIMIT", 10), ("SINTERSTORE", dst, a, b, c),
               S("SMEMBERS", dst), ("SUNIONSTORE", dst, a, b, c), ("SCARD", dst),
               ("SDIFFSTORE", dst, a, b), S("SMEMBERS", dst)]
    script += [("SINTERCARD", 3, a, b, c, "LIMIT", n) for n in (1, 31, 32, 100, 1000, 5000)]
    script += [("SINTERCARD", 2, a, b, "LIMIT", n) for n in (1, 64, 65, 200, 1000, 5000)]
    differ.check(script)


def test_sdiff_big_first_set_small_others(differ, K):
    """The other owners' sets are smaller than the first set: they travel to it."""
    a, b, c, d, dst = K[0], K[1], K[2], K[3], K[4] + "-dst"
    script = [("SADD", a, *["e%d" % j for j in range(0, 3000)]),
              ("SADD", b, *["e%d" % j for j in range(0, 3000, 7)], "zz"),
              ("SADD", c, *range(50)), ("SADD", d, "e5", "e6", "e3001")]
    script += [S("SDIFF", a, b), S("SDIFF", a, c, d, b), S("SDIFF", a, "nokey", d),
               ("SDIFFSTORE", dst, a, b, c, d), ("SCARD", dst), S("SMEMBERS", dst),
               S("SDIFF", b, a), ("SDIFFSTORE", dst, c, a, b), ("SMEMBERS", dst),
               ("SADD", a, *range(40)), ("SDIFFSTORE", dst, a, b, d), ("SCARD", dst)]
    differ.check(script)


# --------------------------------------------------------------------------------------
# SMOVE
# --------------------------------------------------------------------------------------

def test_smove(differ, nshards):
    src, dst = two_keys_on_different_shards(nshards, "smv")
    st = spread_keys(nshards, "smvs")[-1]
    differ.check([
        ("SMOVE", src, dst, "a"), ("SET", st, "x"), ("SMOVE", "nokey", st, "a"),
        ("SADD", src, "a", "b", 1), ("SMOVE", src, st, "a"), ("SMOVE", st, src, "a"),
        ("SMOVE", src, st, "zz"), ("SMOVE", src, dst, "zz"), ("SMOVE", src, dst, "a"),
        S("SMEMBERS", src), ("SMEMBERS", dst), ("SMOVE", src, dst, 1), S("SMEMBERS", dst),
        ("SADD", src, "b2"), ("SMOVE", src, dst, "b"),
        ("SADD", src, "a"), ("SMOVE", src, dst, "a"), S("SMEMBERS", dst),
        ("SMOVE", src, src, "b2"), ("SMOVE", src, src, "nope"), ("SMEMBERS", src),
        ("SMOVE", src, dst, "b2"), ("EXISTS", src), S("SMEMBERS", dst), ("GET", st),
        ("SADD", src, 5), ("SMOVE", src, dst, 5), ("EXISTS", src), ("SCARD", dst),
    ])


def test_smove_creates_intset_destination(r, nshards):
    src, dst = two_keys_on_different_shards(nshards, "smi")
    r.sadd(src, "x", 7)
    assert r.smove(src, dst, 7) == 1 and enc(r, dst) == b"intset"
    assert r.smove(src, dst, "x") == 1 and enc(r, dst) == b"listpack"
    assert r.exists(src) == 0 and sorted(r.smembers(dst)) == [b"7", b"x"]


# --------------------------------------------------------------------------------------
# SSCAN
# --------------------------------------------------------------------------------------

def test_sscan_errors(differ, K):
    k, nk = K[0], "missing-" + K[1]
    differ.check([
        ("SADD", k, 1, 2, 3), ("SSCAN", k, 0), ("SSCAN", k, 0, "COUNT", 1),
        ("SSCAN", k, 5), ("SSCAN", k, 0, "MATCH", "1*"), ("SSCAN", k, 0, "MATCH", "*"),
        ("SSCAN", k, "abc"), ("SSCAN", k, " 1"), ("SSCAN", k, "18446744073709551616"),
        ("SSCAN", k, 0, "COUNT", 0), ("SSCAN", k, 0, "COUNT", -1), ("SSCAN", k, 0, "COUNT", "x"),
        ("SSCAN", k, 0, "MATCH"), ("SSCAN", k, 0, "TYPE", "set"), ("SSCAN", k, 0, "FOO", 1),
        ("SSCAN", nk, 0), ("SSCAN", nk, 0, "FOO"), ("SSCAN", nk, "x"),
    ])


def test_sscan_compact_sets_return_everything(r):
    r.sadd("lp", "a", "b", "c", 1)
    for cur in (0, 12345):
        c, items = r.sscan("lp", cur, count=1)
        assert c == 0 and sorted(items) == [b"1", b"a", b"b", b"c"]
    c, items = r.sscan("lp", 0, match="[ab]")
    assert c == 0 and sorted(items) == [b"a", b"b"]


def _scan_all(conn, key, *opts):
    seen, cur = [], b"0"
    while True:
        rep = conn.call("SSCAN", key, cur, *opts)
        cur, items = rep[0], rep[1]
        seen += items
        if cur == b"0":
            return seen


def test_sscan_hashtable_full_iteration(server, redis_ref):
    members = ["mem:%d" % j for j in range(3000)]
    with server.raw() as a, redis_ref.raw() as b:
        for c in (a, b):
            for j in range(0, len(members), 1000):
                c.call("SADD", "big", *members[j:j + 1000])
        for opts in ((), ("COUNT", 7), ("COUNT", 500), ("MATCH", "mem:1*"),
                     ("MATCH", "*7", "COUNT", 50)):
            got, exp = _scan_all(a, "big", *opts), _scan_all(b, "big", *opts)
            assert set(got) == set(exp), opts
            assert len(got) == len(set(got))  # no resize happened: no duplicates
        # Members present for the whole scan are returned even while it grows and shrinks.
        seen, cur, step = set(), b"0", 0
        while True:
            cur, items = a.call("SSCAN", "big", cur, "COUNT", 20)
            seen.update(items)
            step += 1
            if step == 5:
                a.call("SADD", "big", *["grow:%d" % j for j in range(5000)])
            if step == 40:
                a.call("SREM", "big", *["grow:%d" % j for j in range(5000)])
            if cur == b"0":
                break
        assert set(m.encode() for m in members) <= seen


# --------------------------------------------------------------------------------------
# Isolation, WATCH, MULTI
# --------------------------------------------------------------------------------------

def test_watch_sees_set_changes_across_shards(server, nshards):
    src, dst = two_keys_on_different_shards(nshards, "w")
    with server.raw() as c, server.raw() as o:
        c.call("SADD", src, "a", "b")
        for writer in (("SMOVE", src, dst, "a"), ("SADD", src, "c"), ("SREM", src, "c"),
                       ("SPOP", src), ("SINTERSTORE", src, dst)):
            c.call("WATCH", src)
            o.call(*writer)
            c.call("MULTI")
            c.call("PING")
            assert c.call("EXEC") is None, writer
            o.call("SADD", src, "a", "b")
        c.call("WATCH", dst)
        o.call("SUNIONSTORE", dst, src)
        c.call("MULTI")
        c.call("PING")
        assert c.call("EXEC") is None


def test_cross_shard_smove_is_isolated(server, nshards):
    """Members shuttle between two sets on different shards; a concurrent SUNION and
    SINTERCARD never see a member twice or missing, and SCARDs taken in one MULTI add up."""
    a, b = two_keys_on_different_shards(nshards, "iso")
    members = ["m%d" % j for j in range(20)] + list(range(20))
    with server.raw() as c:
        c.call("SADD", a, *members)
    errors = []

    def mover(seed):
        rnd = random.Random(seed)
        with server.raw() as c:
            for _ in range(300):
                src, dst = (a, b) if rnd.random() < 0.5 else (b, a)
                if c.call("SMOVE", src, dst, rnd.choice(members)) not in (0, 1):
                    errors.append("bad SMOVE reply")

    threads = [threading.Thread(target=mover, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    with server.raw() as c:
        while any(t.is_alive() for t in threads):
            u = c.call("SUNION", a, b)
            if len(u) != len(members) or len(set(u)) != len(members):
                errors.append(f"SUNION saw {len(u)} members")
            if c.call("SINTERCARD", 2, a, b) != 0:
                errors.append("a member in both sets")
            c.call("MULTI")
            c.call("SCARD", a)
            c.call("SCARD", b)
            x, y = c.call("EXEC")
            if x + y != len(members):
                errors.append(f"SCARDs add up to {x + y}")
    for t in threads:
        t.join()
    assert not errors, errors[:5]


def test_multi_exec_with_set_algebra(r, nshards):
    keys = spread_keys(nshards, "mx", 4)
    p = r.pipeline(transaction=True)
    p.sadd(keys[0], 1, 2, 3)
    p.sadd(keys[1], 2, 3, 4)
    p.sinter(keys[0], keys[1])
    p.sunionstore(keys[2], keys[0], keys[1])
    p.smove(keys[2], keys[3], 4)
    p.sdiff(keys[0], keys[1])
    res = p.execute()
    assert res[2] == {b"2", b"3"} and res[3] == 4 and res[4] == 1 and res[5] == {b"1"}


# --------------------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------------------

SET_COMMANDS = ["sadd", "srem", "scard", "sismember", "smismember", "smembers", "spop",
                "srandmember", "smove", "sinter", "sintercard", "sinterstore", "sunion",
                "sunionstore", "sdiff", "sdiffstore", "sscan"]


def test_command_metadata_differential(server, redis_ref, once):
    with server.raw() as a, redis_ref.raw() as b:
        got, exp = a.call("COMMAND", "INFO", *SET_COMMANDS), b.call("COMMAND", "INFO", *SET_COMMANDS)
        gd, ed = a.call("COMMAND", "DOCS", *SET_COMMANDS), b.call("COMMAND", "DOCS", *SET_COMMANDS)
    diffs = []
    for name, g, e in zip(SET_COMMANDS, got, exp):
        if [g[0], g[1], sorted(g[2]), g[3], g[4], g[5], sorted(g[6])] != \
                [e[0], e[1], sorted(e[2]), e[3], e[4], e[5], sorted(e[6])]:
            diffs.append(f"{name}: redis {e[:7]} corekv {g[:7]}")
    gdd, edd = dict(zip(gd[0::2], gd[1::2])), dict(zip(ed[0::2], ed[1::2]))
    for name, doc in edd.items():
        fe = dict(zip(doc[0::2], doc[1::2]))
        fg = dict(zip(gdd.get(name, [])[0::2], gdd.get(name, [])[1::2]))
        for f in (b"summary", b"since", b"group", b"complexity"):
            if fg.get(f) != fe.get(f):
                diffs.append(f"{name} {f}: redis {fe.get(f)!r} corekv {fg.get(f)!r}")
    assert not diffs, "\n".join(diffs)


def test_internal_commands_are_not_reachable(r):
    for name in ("__scard", "__sop", "__sprobe", "__sstore", "__sismember", "__sclass"):
        with pytest.raises(Exception):
            r.execute_command(name, "R", "k")
