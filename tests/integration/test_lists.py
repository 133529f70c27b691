"""List commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LINSERT LREM
LTRIM LPOS LMPOP RPOPLPUSH LMOVE. Differential (byte-identical replies with redis-server, in
RESP2 and RESP3) for every command, option and error; encodings against Redis 7.2's
documented rules (the local redis-server is 7.0, where every list is a "quicklist"); keys on
several shards for LMOVE / RPOPLPUSH / LMPOP; lists moved by DEL / RENAME / COPY."""
import time

import pytest

from helpers import keys_per_shard, spread_keys, two_keys_on_different_shards


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def differ(differ, request, server):
    """Every differential script of this module runs in RESP2 and in RESP3."""
    differ.proto = request.param
    return differ


@pytest.fixture
def K(nshards):
    # Eight keys spread over every shard (the same names on both servers).
    return spread_keys(nshards, "l", max(1, 8 // nshards))


# ------------------------------------------------------------------------- differential

@pytest.mark.differential
def test_push_pop_basic(differ, K):
    k, s, nk = K[0], K[1], "missing-" + K[2]
    differ.check([
        ("LPUSH", k, "a"), ("LPUSH", k, "b", "c"), ("RPUSH", k, "d", "e", "f"),
        ("LRANGE", k, 0, -1), ("LLEN", k), ("LPOP", k), ("RPOP", k), ("LRANGE", k, 0, -1),
        ("LPUSHX", nk, "x"), ("RPUSHX", nk, "x", "y"), ("EXISTS", nk),
        ("LPUSHX", k, "x", "y"), ("RPUSHX", k, "z"), ("LRANGE", k, 0, -1),
        ("LPOP", nk), ("RPOP", nk), ("LPOP", nk, 0), ("LPOP", nk, 3), ("RPOP", nk, 1),
        ("LPOP", k, 0), ("LPOP", k, 2), ("RPOP", k, 2), ("LRANGE", k, 0, -1),
        ("LPOP", k, 100), ("EXISTS", k), ("RPUSH", k, "only"), ("RPOP", k), ("EXISTS", k),
        ("RPUSH", k, 1, 2, 3), ("RPOP", k, 1), ("LPOP", k, 1),
        # counts and arity
        ("LPOP", k, -1), ("LPOP", k, "x"), ("RPOP", k, "1.5"), ("LPOP", k, 1, 2),
        ("RPOP", k, "9223372036854775807"), ("LPOP", nk, -1), ("LPOP",), ("LPUSH", k),
        ("RPUSH",), ("LPUSHX", k), ("LLEN",), ("LLEN", k, k),
        # wrong type
        ("SET", s, "str"), ("LPUSH", s, "a"), ("RPUSH", s, "a"), ("LPUSHX", s, "a"),
        ("RPUSHX", s, "a"), ("LPOP", s), ("RPOP", s, 2), ("LPOP", s, 0), ("LPOP", s, -1),
        ("LLEN", s), ("LLEN", nk), ("GET", s),
    ])


@pytest.mark.differential
def test_element_forms(differ, K):
    """Elements come back exactly as pushed: integers stored compactly must round-trip."""
    k = K[0]
    vals = ["0", "-0", "007", "+5", " 1", "1 ", "-1", "12345678901234567890",
            "9223372036854775807", "-9223372036854775808", "9223372036854775808", "1.5",
            "", b"bin\x00\r\n\xff", "x" * 63, "y" * 64, "z" * 4095, "w" * 4096, "v" * 70000,
            "127", "128", "-4096", "-4097", "32767", "8388608", "2147483648", "-2147483649"]
    script = [("RPUSH", k, *vals), ("LRANGE", k, 0, -1)]
    script += [("LINDEX", k, i) for i in range(-len(vals) - 1, len(vals) + 1)]
    script += [("LPOS", k, v) for v in vals[:14]]
    script += [("LREM", k, 0, "007"), ("LREM", k, 0, "7"), ("LRANGE", k, 0, 3)]
    differ.check(script)


@pytest.mark.differential
def test_lrange_lindex(differ, K):
    k, s, nk = K[0], K[1], "missing-" + K[2]
    script = [("RPUSH", k, *[f"e{i}" for i in range(10)])]
    for a, b in [(0, -1), (0, 0), (-1, -1), (2, 5), (5, 2), (-3, -1), (-100, 100), (9, 9),
                 (10, 20), (-11, 0), (-11, -11), (3, -8), (0, -11), ("-9223372036854775808",
                 "9223372036854775807"), (1, "-9223372036854775808")]:
        script.append(("LRANGE", k, a, b))
    script += [("LINDEX", k, i) for i in (0, 1, 9, 10, -1, -10, -11, "9223372036854775807",
                                          "-9223372036854775808")]
    script += [
        ("LRANGE", nk, 0, -1), ("LRANGE", k, "a", 1), ("LRANGE", k, 0, "b"), ("LRANGE", nk, "a", 1),
        ("LINDEX", nk, 0), ("LINDEX", nk, "x"), ("LINDEX", k, "x"), ("LINDEX", k, "1.0"),
        ("SET", s, "v"), ("LRANGE", s, 0, -1), ("LRANGE", s, "x", 0), ("LINDEX", s, 0),
        ("LINDEX", s, "x"), ("LRANGE", k, 0), ("LINDEX", k),
    ]
    differ.check(script)


@pytest.mark.differential
def test_lset_linsert(differ, K):
    k, s, nk = K[0], K[1], "missing-" + K[2]
    differ.check([
        ("RPUSH", k, "a", "b", "c", "b"), ("LSET", k, 0, "A"), ("LSET", k, -1, "B"),
        ("LSET", k, 4, "x"), ("LSET", k, -5, "x"), ("LSET", k, "x", "y"), ("LSET", nk, 0, "x"),
        ("LSET", nk, "x", "y"), ("LSET", k, 1, "z" * 10000), ("LRANGE", k, 0, -1),
        ("LSET", k, 1, "small"), ("LRANGE", k, 0, -1),
        ("LINSERT", k, "BEFORE", "c", "1"), ("LINSERT", k, "after", "c", "2"),
        ("LINSERT", k, "after", "B", "end"), ("LINSERT", k, "before", "A", "start"),
        ("LINSERT", k, "before", "nope", "x"), ("LINSERT", nk, "before", "a", "x"),
        ("LINSERT", k, "middle", "c", "x"), ("LINSERT", nk, "middle", "c", "x"),
        ("LRANGE", k, 0, -1), ("LINSERT", k, "before", "b", "x"), ("LRANGE", k, 0, -1),
        ("SET", s, "v"), ("LSET", s, 0, "x"), ("LSET", s, "x", "y"), ("LINSERT", s, "before", "a", "b"),
        ("LINSERT", s, "bad", "a", "b"), ("LSET", k, 0), ("LINSERT", k, "before", "a"),
        ("EXISTS", nk),
    ])


@pytest.mark.differential
def test_lrem_ltrim(differ, K):
    k, s, nk = K[0], K[1], "missing-" + K[2]
    base = ("RPUSH", k, "a", "b", "a", "c", "a", "b", "a")
    script = [("DEL", k), base, ("LREM", k, 2, "a"), ("LRANGE", k, 0, -1),
              ("DEL", k), base, ("LREM", k, -2, "a"), ("LRANGE", k, 0, -1),
              ("DEL", k), base, ("LREM", k, 0, "a"), ("LRANGE", k, 0, -1),
              ("LREM", k, 0, "zz"), ("LREM", k, 0, "b"), ("LREM", k, 0, "c"), ("EXISTS", k),
              ("DEL", k), base, ("LREM", k, "-9223372036854775808", "a"), ("LRANGE", k, 0, -1),
              ("LREM", k, "x", "a"), ("LREM", nk, 1, "a"), ("LREM", nk, "x", "a")]
    for a, b in [(1, -2), (0, 0), (-1, -1), (5, 2), (2, 100), (-100, 100), (100, 200),
                 (0, -100)]:
        script += [("DEL", k), base, ("LTRIM", k, a, b), ("LRANGE", k, 0, -1), ("EXISTS", k)]
    script += [("LTRIM", nk, 0, 1), ("LTRIM", k, "x", 1), ("LTRIM", nk, 0, "y"),
               ("SET", s, "v"), ("LREM", s, 1, "a"), ("LREM", s, "x", "a"), ("LTRIM", s, 0, 1),
               ("LTRIM", s, "x", 1), ("LREM", k, 1), ("LTRIM", k, 1)]
    differ.check(script)


@pytest.mark.differential
def test_lpos(differ, K):
    k, s, nk = K[0], K[1], "missing-" + K[2]
    script = [("RPUSH", k, "a", "b", "c", "1", "2", "3", "c", "c", "a")]
    for opts in [(), ("RANK", 1), ("RANK", 2), ("RANK", -1), ("RANK", -3), ("RANK", 4),
                 ("COUNT", 0), ("COUNT", 1), ("COUNT", 2), ("RANK", 2, "COUNT", 0),
                 ("RANK", -1, "COUNT", 2), ("MAXLEN", 1), ("MAXLEN", 3), ("MAXLEN", 8),
                 ("COUNT", 0, "MAXLEN", 7), ("RANK", -1, "MAXLEN", 1), ("RANK", -2, "MAXLEN", 3),
                 ("rank", 1, "count", 5, "maxlen", 0), ("RANK", 1, "RANK", 2),
                 ("RANK", "9223372036854775807"), ("RANK", "-9223372036854775807"),
                 ("RANK", 0), ("RANK", "x"),
                 ("COUNT", -1), ("COUNT", "x"), ("MAXLEN", -1), ("MAXLEN", "x"),
                 ("RANK",), ("COUNT",), ("bogus", 1), ("RANK", 1, "COUNT"),
                 ("COUNT", -1, "RANK", 0), ("RANK", 0, "COUNT", -1)]:
        script += [("LPOS", k, "c", *opts), ("LPOS", k, "zz", *opts)]
    script += [("LPOS", k, "3"), ("LPOS", k, 3), ("LPOS", nk, "a"), ("LPOS", nk, "a", "COUNT", 0),
               ("LPOS", nk, "a", "RANK", 0), ("SET", s, "v"), ("LPOS", s, "a"),
               ("LPOS", s, "a", "COUNT", 1), ("LPOS", s, "a", "RANK", 0), ("LPOS", k)]
    differ.check(script)


@pytest.mark.differential
def test_lmove_rpoplpush_one_shard(differ, nshards):
    # Keys sharing a hash tag: one shard whatever the count.
    a, b, s, nk = "{t}a", "{t}b", "{t}s", "{t}none"
    script = [("RPUSH", a, 1, 2, 3)]
    for w1 in ("LEFT", "RIGHT"):
        for w2 in ("LEFT", "RIGHT"):
            script += [("LMOVE", a, b, w1, w2), ("LRANGE", a, 0, -1), ("LRANGE", b, 0, -1)]
    script += [
        ("LMOVE", a, a, "LEFT", "RIGHT"), ("LRANGE", a, 0, -1), ("LMOVE", a, a, "right", "left"),
        ("LRANGE", a, 0, -1), ("RPOPLPUSH", a, a), ("LRANGE", a, 0, -1),
        ("RPOPLPUSH", b, a), ("RPOPLPUSH", b, a), ("RPOPLPUSH", b, a), ("EXISTS", b),
        ("RPOPLPUSH", nk, a), ("LMOVE", nk, a, "LEFT", "LEFT"), ("LMOVE", a, b, "UP", "LEFT"),
        ("LMOVE", a, b, "LEFT", "DOWN"), ("LMOVE", nk, b, "UP", "LEFT"),
        ("SET", s, "v"), ("LMOVE", s, a, "LEFT", "LEFT"), ("LMOVE", a, s, "LEFT", "LEFT"),
        ("RPOPLPUSH", s, a), ("RPOPLPUSH", a, s), ("LMOVE", nk, s, "LEFT", "LEFT"),
        ("RPOPLPUSH", nk, s), ("LRANGE", a, 0, -1), ("GET", s),
        ("DEL", a), ("RPUSH", a, "x"), ("LMOVE", a, a, "LEFT", "LEFT"), ("LRANGE", a, 0, -1),
        ("RPOPLPUSH", a, b), ("EXISTS", a), ("LRANGE", b, 0, -1),
        ("LMOVE", a, b, "LEFT"), ("RPOPLPUSH", a),
    ]
    differ.check(script)


@pytest.mark.differential
def test_lmove_across_shards_differential(differ, nshards):
    a, b = two_keys_on_different_shards(nshards, "mv")
    s = keys_per_shard(nshards, "str")[-1][0]
    nk = "missing-" + a
    script = [("RPUSH", a, 1, 2, 3, "x" * 100)]
    for w1 in ("LEFT", "RIGHT"):
        for w2 in ("LEFT", "RIGHT"):
            script += [("LMOVE", a, b, w1, w2), ("LRANGE", a, 0, -1), ("LRANGE", b, 0, -1)]
    script += [
        ("RPOPLPUSH", b, a), ("RPOPLPUSH", b, a), ("RPOPLPUSH", b, a), ("RPOPLPUSH", b, a),
        ("RPOPLPUSH", b, a), ("EXISTS", b), ("LRANGE", a, 0, -1),
        ("RPOPLPUSH", nk, b), ("LMOVE", nk, b, "LEFT", "LEFT"), ("EXISTS", b),
        ("SET", s, "v"), ("LMOVE", s, a, "LEFT", "LEFT"), ("LMOVE", a, s, "LEFT", "LEFT"),
        ("RPOPLPUSH", s, a), ("RPOPLPUSH", a, s), ("LMOVE", nk, s, "LEFT", "LEFT"),
        ("RPOPLPUSH", nk, s), ("LMOVE", a, s, "LEFT", "BAD"), ("LMOVE", a, b, "BAD", "LEFT"),
        ("LRANGE", a, 0, -1), ("GET", s),
    ]
    differ.check(script)


@pytest.mark.differential
def test_lmpop_differential(differ, nshards):
    keys = spread_keys(nshards, "mp", 2)
    a, b, c = keys[0], keys[1], keys[-1]
    s = "str-" + a
    script = [
        ("LMPOP", 1, a, "LEFT"), ("LMPOP", 3, a, b, c, "RIGHT"), ("LMPOP", 3, a, b, c, "LEFT", "COUNT", 5),
        ("RPUSH", b, 1, 2, 3, 4, 5), ("RPUSH", c, "c1", "c2"),
        ("LMPOP", 3, a, b, c, "LEFT"), ("LMPOP", 3, a, b, c, "RIGHT", "COUNT", 2),
        ("LMPOP", 2, c, b, "left", "count", 10), ("LMPOP", 2, c, b, "LEFT", "COUNT", 10),
        ("LMPOP", 2, c, b, "LEFT", "COUNT", 10), ("EXISTS", b, c),
        ("SET", s, "v"), ("RPUSH", a, "a1"),
        ("LMPOP", 2, s, a, "LEFT"), ("LMPOP", 2, a, s, "LEFT"), ("LMPOP", 2, b, s, "LEFT"),
        ("LMPOP", 2, b, a, "LEFT"),
        # argument errors, before any key is looked at
        ("LMPOP", 0, a, "LEFT"), ("LMPOP", -1, a, "LEFT"), ("LMPOP", "x", a, "LEFT"),
        ("LMPOP", 2, a, "LEFT"), ("LMPOP", 5, a, b, "LEFT"), ("LMPOP", 1, a, "UP"),
        ("LMPOP", 2, a, b, "LEFT", "COUNT"), ("LMPOP", 2, a, b, "LEFT", "COUNT", 0),
        ("LMPOP", 2, a, b, "LEFT", "COUNT", -1), ("LMPOP", 2, a, b, "LEFT", "COUNT", "x"),
        ("LMPOP", 2, a, b, "LEFT", "COUNT", 1, "COUNT", 2), ("LMPOP", 2, a, b, "LEFT", "EXTRA"),
        ("LMPOP", 2, s, b, "LEFT", "COUNT", 0), ("LMPOP", 1, a), ("LMPOP", 1),
        ("LMPOP", "9223372036854775807", a, "LEFT"), ("LMPOP", 2, a, b, "RIGHT", "COUNT",
                                                     "9223372036854775807"),
    ]
    differ.check(script)


def test_lpos_rank_min(r):
    """RANK -2^63 cannot be negated: Redis 7.2 refuses it (7.0 overflowed)."""
    r.rpush("k", "a")
    with pytest.raises(Exception, match="value is out of range, value must between "
                                        "-9223372036854775807 and 9223372036854775807"):
        r.execute_command("LPOS", "k", "a", "RANK", "-9223372036854775808")


# ------------------------------------------------------------------------------ encodings

def enc(r, k):
    return r.object("encoding", k)


def test_encoding_grows_and_shrinks(r):
    """Redis 7.2, list-max-listpack-size -2 (8 KiB): a listpack converts when its bytes plus
    the pushed strings' lengths pass 8192, and a quicklist of one node converts back once
    that node is within 4096 bytes. 100-byte elements take 103 listpack bytes each (2-byte
    header, 1-byte back length), plus 7 bytes of header and terminator."""
    k = "enc"
    v = "x" * 100
    for i in range(79):
        r.rpush(k, v)
    assert enc(r, k) == b"listpack"            # 7 + 103*78 + 100 <= 8192
    r.rpush(k, v)
    assert enc(r, k) == b"quicklist"           # 7 + 103*79 + 100 > 8192
    assert r.llen(k) == 80
    while r.llen(k) > 40:
        r.rpop(k)
        assert enc(r, k) == b"quicklist"
    r.rpop(k)                                  # 39 elements: 7 + 103*39 <= 4096
    assert enc(r, k) == b"listpack"
    assert r.lrange(k, 0, -1) == [v.encode()] * 39
    # a multi-element push is checked as a whole before the first element goes in
    # (the lengths of the strings count, not their encoded size: 7 + 8000 <= 8192)
    r.delete(k)
    r.rpush(k, *[v] * 80)
    assert enc(r, k) == b"listpack"
    r.delete(k)
    r.rpush(k, *[v] * 82)                      # 7 + 8200 > 8192
    assert enc(r, k) == b"quicklist"
    r.delete(k)
    r.rpush(k, "small")
    r.rpush(k, "y" * 9000)
    assert enc(r, k) == b"quicklist"
    r.rpop(k)
    assert enc(r, k) == b"listpack"


def test_encoding_other_commands(r):
    k = "enc2"
    r.rpush(k, *["a"] * 10)
    # LSET with a big value converts first; a small one back converts after
    r.lset(k, 3, "b" * 9000)
    assert enc(r, k) == b"quicklist"
    r.lset(k, 3, "c")
    assert enc(r, k) == b"listpack"
    # LINSERT converts before searching, even when the pivot is absent
    assert r.linsert(k, "BEFORE", "nope", "d" * 9000) == -1
    assert enc(r, k) == b"quicklist"
    assert r.lrem(k, 0, "zz") == 0
    assert enc(r, k) == b"quicklist"           # LREM converts back only after a removal
    assert r.lrem(k, 1, "a") == 1
    assert enc(r, k) == b"listpack"
    r.rpush(k, "e" * 9000)
    assert enc(r, k) == b"quicklist"
    r.ltrim(k, 0, 3)
    assert enc(r, k) == b"listpack"
    assert r.lrange(k, 0, -1) == [b"a", b"a", b"c", b"a"]


def test_quicklist_operations_match_a_model(r):
    """Inserts, removals, sets and trims in the middle of a many-node quicklist keep the
    order a Python list keeps."""
    import random
    rnd = random.Random(11)
    k = "model"
    model = [f"v{i}-" + "p" * rnd.randrange(0, 300) for i in range(400)]
    r.rpush(k, *model)
    assert enc(r, k) == b"quicklist"
    for step in range(300):
        op = rnd.randrange(6)
        if op == 0 and model:
            i = rnd.randrange(len(model))
            val = f"s{step}" + "q" * rnd.randrange(0, 500)
            r.lset(k, i, val)
            model[i] = val
        elif op == 1 and model:
            i = rnd.randrange(len(model))
            pivot = model[i]
            val = f"i{step}"
            after = rnd.random() < 0.5
            r.linsert(k, "AFTER" if after else "BEFORE", pivot, val)
            j = model.index(pivot)
            model.insert(j + 1 if after else j, val)
        elif op == 2 and model:
            val = model[rnd.randrange(len(model))]
            cnt = rnd.choice([0, 1, -1, 2])
            n = r.lrem(k, cnt, val)
            idx = [i for i, x in enumerate(model) if x == val]
            if cnt < 0:
                idx = idx[::-1]
            drop = set(idx if cnt == 0 else idx[:abs(cnt)])
            assert n == len(drop)
            model = [x for i, x in enumerate(model) if i not in drop]
        elif op == 3:
            val = f"h{step}" + "r" * rnd.randrange(0, 200)
            r.lpush(k, val)
            model.insert(0, val)
        elif op == 4 and len(model) > 50:
            r.ltrim(k, 1, -2)
            model = model[1:-1]
        else:
            i = rnd.randrange(-len(model) - 2, len(model) + 2) if model else 0
            got = r.lindex(k, i)
            want = model[i].encode() if -len(model) <= i < len(model) else None
            assert got == want
        if step % 25 == 0:
            assert r.lrange(k, 0, -1) == [x.encode() for x in model]
    assert r.lrange(k, 0, -1) == [x.encode() for x in model]
    assert r.lrange(k, -7, -3) == [x.encode() for x in model[-7:-2]]


# ------------------------------------------------------------------------------ multi-shard

def test_cross_shard_moves_keep_both_sides_on_wrongtype(r, nshards):
    a, b = two_keys_on_different_shards(nshards, "ws")
    r.rpush(a, "1", "2")
    r.set(b, "str")
    for cmd in (("LMOVE", a, b, "LEFT", "RIGHT"), ("RPOPLPUSH", a, b)):
        with pytest.raises(Exception, match="WRONGTYPE"):
            r.execute_command(*cmd)
        assert r.lrange(a, 0, -1) == [b"1", b"2"] and r.get(b) == b"str"
    for cmd in (("LMOVE", b, a, "LEFT", "RIGHT"), ("RPOPLPUSH", b, a)):
        with pytest.raises(Exception, match="WRONGTYPE"):
            r.execute_command(*cmd)
        assert r.lrange(a, 0, -1) == [b"1", b"2"] and r.get(b) == b"str"
    r.delete(a)
    assert r.lmove(a, b, "LEFT", "LEFT") is None   # no source: nil, destination unchecked
    assert r.get(b) == b"str"


def test_cross_shard_lmove_every_pair(r, nshards):
    per = keys_per_shard(nshards, "pair")
    keys = [ks[0] for ks in per]
    r.rpush(keys[0], *[f"e{i}" for i in range(20)])
    expect = {keys[0]: [f"e{i}" for i in range(20)]}
    for src in keys:
        for dst in keys:
            if not expect.get(src):
                continue
            v = r.lmove(src, dst, "RIGHT", "LEFT")
            val = expect[src].pop()
            assert v == val.encode()
            expect.setdefault(dst, []).insert(0, val)
    for k in keys:
        assert r.lrange(k, 0, -1) == [x.encode() for x in expect.get(k, [])]
        assert r.exists(k) == (1 if expect.get(k) else 0)


def test_cross_shard_lmove_quicklist_source(r, nshards):
    a, b = two_keys_on_different_shards(nshards, "ql")
    big = ["z" * 1000 + str(i) for i in range(30)]
    r.rpush(a, *big)
    assert enc(r, a) == b"quicklist"
    for i in range(30):
        assert r.rpoplpush(a, b) == big[29 - i].encode()
    assert r.exists(a) == 0
    assert r.lrange(b, 0, -1) == [x.encode() for x in big]
    assert enc(r, b) == b"quicklist"


def test_cross_shard_lmpop(r, nshards):
    keys = spread_keys(nshards, "lm", 3)
    s = keys[1]
    r.set(s, "v")
    r.rpush(keys[-1], "last1", "last2")
    # a wrong-typed key before the first list: WRONGTYPE, nothing popped
    with pytest.raises(Exception, match="WRONGTYPE"):
        r.lmpop(len(keys), *keys, direction="LEFT")
    assert r.llen(keys[-1]) == 2
    # the wrong-typed key after the first non-empty list is never looked at
    r.rpush(keys[0], "first")
    assert r.lmpop(len(keys), *keys, direction="RIGHT", count=5) == [keys[0].encode(), [b"first"]]
    assert r.exists(keys[0]) == 0
    r.delete(s)
    assert r.lmpop(len(keys), *keys, direction="LEFT", count=5) == [keys[-1].encode(),
                                                                    [b"last1", b"last2"]]
    assert r.lmpop(len(keys), *keys, direction="LEFT") is None


def test_lists_move_with_rename_copy_del(r, nshards):
    a, b = two_keys_on_different_shards(nshards, "rn")
    small = ["1", "two", "-3"]
    r.rpush(a, *small)
    r.rename(a, b)
    assert r.lrange(b, 0, -1) == [x.encode() for x in small] and enc(r, b) == b"listpack"
    big = ["q" * 500 + str(i) for i in range(100)]
    r.rpush(b, *big)
    assert enc(r, b) == b"quicklist"
    assert r.copy(b, a) is True
    assert enc(r, a) == b"quicklist"
    assert r.lrange(a, 0, -1) == r.lrange(b, 0, -1)
    r.rename(a, "x" + a)
    assert enc(r, "x" + a) == b"quicklist" and r.llen("x" + a) == 103
    assert r.delete(b, "x" + a) == 2
    r.rpush(a, "1")
    r.expire(a, 1000)
    r.rename(a, b)
    assert 0 < r.ttl(b) <= 1000 and r.type(b) == b"list"


# ----------------------------------------------------------------------- big lists, no O(n)

def test_big_list_operations_stay_fast(server, r):
    """A 300,000-element list: pushes and pops at both ends, LINDEX / LSET at any index
    and LRANGE of a small window must not walk the list element by element."""
    k = "big"
    n = 300000
    with server.raw() as c:
        batch = 10000
        for start in range(0, n, batch):
            c.send(b"".join(b"*3\r\n$5\r\nRPUSH\r\n$3\r\nbig\r\n$%d\r\n%d\r\n" % (len(str(i)), i)
                            for i in range(start, start + batch)))
            for _ in range(batch):
                c.read_reply()
    assert r.llen(k) == n
    t0 = time.monotonic()
    p = r.pipeline(transaction=False)
    for i in range(2000):
        p.lpush(k, i)
        p.rpop(k)
        p.lindex(k, n // 2 + i)
        p.lrange(k, n // 3, n // 3 + 5)
        p.lset(k, -(n // 2) - i, "s")
    out = p.execute()
    elapsed = time.monotonic() - t0
    assert r.llen(k) == n
    assert out[4] is True
    # element walks would take ~10^9 steps here; node walks take well under a second
    assert elapsed < 20, f"{elapsed:.1f}s for 10,000 commands on a {n}-element list"
