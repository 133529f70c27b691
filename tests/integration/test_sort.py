"""SORT and SORT_RO: every option (BY with string keys, hash fields and "nosort", LIMIT,
GET with '#', patterns and hash fields, ASC/DESC, ALPHA, STORE) on lists, sets and sorted
sets, and the errors. Differential: every reply is compared byte for byte with
redis-server, in RESP2 and RESP3. The pattern keys (w_1, w_2, ...) fall on every shard, the
destinations on another shard than the sorted key, so the multi-shard path runs; the
hash-tagged variants ({t}...) keep everything on one shard (the one-part path)."""
import pytest

from helpers import Loose, decode, shard_of, two_keys_on_different_shards

pytestmark = pytest.mark.differential


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def differ(differ, request, server):
    differ.proto = request.param
    return differ


@pytest.fixture
def KD(nshards):
    """The sorted key and a destination on another shard (when there are several)."""
    return two_keys_on_different_shards(nshards, "srt")


def unordered(a, b):
    """Two array replies holding the same elements, in any order (a set's native order)."""
    da, db = decode(a), decode(b)
    if isinstance(da, list) and isinstance(db, list):
        return sorted(da) == sorted(db)
    return a == b


def weights(vals, prefix="w_"):
    """MSET of prefix+element -> weight."""
    args = ["MSET"]
    for el, w in vals.items():
        args += [f"{prefix}{el}", w]
    return tuple(args)


def test_pattern_keys_spread(nshards):
    # The premise of the multi-shard tests: the pattern keys live on several shards.
    shards = {shard_of(f"w_{i}", nshards) for i in range(1, 11)}
    assert len(shards) == min(nshards, 4) or nshards == 1 or len(shards) > 1


def test_numeric(differ, KD):
    k, _ = KD
    differ.check([
        ("RPUSH", k, "3", "-1", "10", "2.5", "1e2", "0", "-0", "007", "3", " 4", "0x10"),
        ("SORT", k), ("SORT", k, "DESC"), ("SORT", k, "ASC"), ("sort", k, "desc", "asc"),
        ("SORT", k, "LIMIT", "0", "3"), ("SORT", k, "LIMIT", "2", "4"),
        ("SORT", k, "LIMIT", "-5", "2"), ("SORT", k, "LIMIT", "1", "-1"),
        ("SORT", k, "LIMIT", "1", "-7"), ("SORT", k, "LIMIT", "0", "0"),
        ("SORT", k, "LIMIT", "11", "3"), ("SORT", k, "LIMIT", "100", "3"),
        ("SORT", k, "LIMIT", "10", "100"), ("SORT", k, "LIMIT", "9223372036854775807", "1"),
        ("SORT", k, "LIMIT", "0", "9223372036854775807"),
        ("SORT", k, "LIMIT", "-9223372036854775808", "-9223372036854775808"),
        ("SORT", k, "DESC", "LIMIT", "1", "3"), ("SORT", k, "LIMIT", "1", "3", "LIMIT", "0", "1"),
        ("SORT_RO", k), ("SORT_RO", k, "DESC", "LIMIT", "2", "2"),
        ("RPUSH", k, "inf", "-inf", "+inf"), ("SORT", k),
        ("SORT", "missing"), ("SORT", "missing", "LIMIT", "0", "1", "DESC", "ALPHA"),
        ("SORT_RO", "missing"),
    ])


def test_numeric_errors(differ, KD):
    k, _ = KD
    differ.check([
        ("RPUSH", k, "1", "x"), ("SORT", k), ("SORT", k, "DESC"), ("SORT", k, "LIMIT", "0", "1"),
        ("DEL", k), ("RPUSH", k, "1", "nan"), ("SORT", k),
        ("DEL", k), ("RPUSH", k, "1", ""), ("SORT", k),
        ("DEL", k), ("RPUSH", k, "1", "2 "), ("SORT", k), ("SORT", k, "ALPHA"),
        ("DEL", k), ("RPUSH", k, b"5\x00junk", "3"), ("SORT", k),
        # last: Redis checks errno without clearing it, so after an ERANGE the next
        # commands of this connection would fail too
        ("DEL", k), ("RPUSH", k, "1", "1e400"), ("SORT", k),
    ])


def test_alpha(differ, KD):
    k, _ = KD
    differ.check([
        ("RPUSH", k, "banana", "apple", "Cherry", "10", "9", "apple2", "", "b", "ab"),
        ("SORT", k, "ALPHA"), ("SORT", k, "ALPHA", "DESC"), ("SORT", k, "alpha", "limit", "2", "3"),
        ("SORT", k, "DESC", "ALPHA", "LIMIT", "0", "2"), ("SORT_RO", k, "ALPHA"),
        ("SORT", k, "BY", "nosort"), ("SORT", k, "BY", "nosort", "DESC"),
        ("SORT", k, "BY", "nosort", "LIMIT", "2", "3"),
        ("SORT", k, "BY", "nosort", "DESC", "LIMIT", "2", "3"),
        ("SORT", k, "BY", "nosort", "DESC", "LIMIT", "7", "30"),
        ("SORT", k, "BY", "#"), ("SORT", k, "BY", "w_", "ALPHA", "LIMIT", "1", "1"),
    ])


def test_by_string_keys(differ, KD):
    k, _ = KD
    differ.check([
        ("RPUSH", k, "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"),
        weights({1: 50, 2: 40, 3: 30, 4: 100, 5: "-2", 6: "1.5", 7: 7, 8: 7}),
        ("SORT", k, "BY", "w_*"), ("SORT", k, "BY", "w_*", "DESC"),
        ("SORT", k, "BY", "w_*", "LIMIT", "2", "3"), ("SORT", k, "BY", "w_*", "DESC", "LIMIT", "0", "4"),
        ("SORT", k, "BY", "w_*", "GET", "#", "GET", "w_*"),
        ("SORT", k, "BY", "w_*", "GET", "w_*", "LIMIT", "1", "5"),
        ("SORT_RO", k, "BY", "w_*", "GET", "#", "GET", "w_*"),
        # a BY key of another type counts as missing (score 0)
        ("SADD", "w_9", "x"), ("SORT", k, "BY", "w_*"),
        # the substitution keeps text after the '*'
        ("MSET", "p_3_s", "-5", "p_10_s", "-10"), ("SORT", k, "BY", "p_*_s", "GET", "p_*_s"),
        # a BY value that is not a number
        ("SET", "w_2", "abc"), ("SORT", k, "BY", "w_*"),
        ("SORT", k, "BY", "w_*", "ALPHA"), ("SORT", k, "BY", "w_*", "ALPHA", "DESC"),
        ("SET", "w_2", "1e400"), ("SORT", k, "BY", "w_*"),
    ])


def test_by_alpha_missing_first(differ, KD):
    k, _ = KD
    differ.check([
        ("RPUSH", k, "a", "b", "c", "d"),
        ("MSET", "n_a", "zeta", "n_c", "alpha"),
        # two elements without a BY key compare equal: give each a distinct place via LIMIT
        Loose("SORT", k, "BY", "n_*", "ALPHA", check=unordered),
        ("SORT", k, "BY", "n_*", "ALPHA", "LIMIT", "2", "2"),
        ("SORT", k, "BY", "n_*", "ALPHA", "DESC", "LIMIT", "0", "2"),
        ("MSET", "n_b", "m", "n_d", "b"), ("SORT", k, "BY", "n_*", "ALPHA"),
        ("SORT", k, "BY", "n_*", "ALPHA", "DESC", "GET", "n_*", "GET", "#"),
    ])


def test_by_and_get_hash_fields(differ, KD):
    k, _ = KD
    differ.check([
        ("RPUSH", k, "1", "2", "3", "4"),
        ("HSET", "h_1", "w", "3", "name", "one"), ("HSET", "h_2", "w", "1", "name", "two"),
        ("HSET", "h_3", "w", "2", "name", "three"), ("HSET", "h_4", "name", "four"),
        ("SORT", k, "BY", "h_*->w"), ("SORT", k, "BY", "h_*->w", "DESC"),
        ("SORT", k, "BY", "h_*->w", "GET", "h_*->name", "GET", "#", "GET", "h_*->w"),
        ("SORT", k, "BY", "h_*->name", "ALPHA", "GET", "h_*->name"),
        ("SORT", k, "BY", "h_*->missing", "GET", "h_*->nope"),
        # "->" with nothing after it is part of the key name
        ("SET", "h_1->", "9"), ("SORT", k, "GET", "h_*->"),
        # a hash field read from a string key, a string read from a hash: nil
        ("SET", "s_1", "x"), ("SORT", k, "GET", "s_*->f", "GET", "h_*"),
        # "->" before the '*' is not a field separator
        ("SET", "a->1", "v1"), ("SORT", k, "GET", "a->*"),
        ("HSET", "big_1", "f", "x" * 200), ("SORT", k, "GET", "big_*->f", "LIMIT", "0", "1"),
    ])


def test_get(differ, KD):
    k, _ = KD
    differ.check([
        ("RPUSH", k, "3", "1", "2"), ("MSET", "g_1", "one", "g_2", "two", "o_3", "x"),
        ("SORT", k, "GET", "#"), ("SORT", k, "GET", "g_*"), ("SORT", k, "GET", "g_*", "GET", "o_*"),
        ("SORT", k, "GET", "nostar"), ("SORT", k, "GET", "#", "GET", "#", "DESC"),
        ("SORT", k, "GET", "g_*", "LIMIT", "1", "1"), ("SORT", k, "GET", "g_*", "LIMIT", "5", "1"),
        ("SORT", k, "BY", "nosort", "GET", "g_*"), ("SORT", k, "BY", "nosort", "GET", "#", "DESC"),
        ("SORT", k, "GET", "##"), ("SORT", k, "GET", "*"), ("SET", "1", "self"),
        ("SORT", k, "GET", "*"), ("SORT", k, "get", "G_*"),
        ("SORT", "missing", "GET", "g_*"),
    ])


def test_store(differ, KD):
    k, d = KD
    differ.check([
        ("RPUSH", k, "3", "1", "2"), ("MSET", "g_1", "one", "g_3", "three"),
        ("SORT", k, "STORE", d), ("LRANGE", d, "0", "-1"), ("TYPE", d),
        ("SORT", k, "DESC", "STORE", d), ("LRANGE", d, "0", "-1"),
        ("SORT", k, "GET", "g_*", "GET", "#", "STORE", d), ("LRANGE", d, "0", "-1"),
        ("SORT", k, "LIMIT", "1", "1", "STORE", d), ("LRANGE", d, "0", "-1"),
        # an empty result deletes the destination
        ("SORT", k, "LIMIT", "5", "1", "STORE", d), ("EXISTS", d),
        ("SET", d, "x"), ("SORT", "missing", "STORE", d), ("EXISTS", d),
        ("SORT", "missing", "STORE", d), ("EXISTS", d),
        # any type and any TTL is replaced
        ("SET", d, "string", "EX", "1000"), ("SORT", k, "STORE", d), ("TTL", d), ("TYPE", d),
        ("SADD", d, "m"), ("SORT", k, "STORE", d), ("LRANGE", d, "0", "-1"),
        # the sorted key itself as destination
        ("SORT", k, "DESC", "STORE", k), ("LRANGE", k, "0", "-1"),
        # the last STORE wins; errors store nothing
        ("SORT", k, "STORE", "other", "STORE", d), ("LRANGE", d, "0", "-1"), ("EXISTS", "other"),
        ("RPUSH", "bad", "x"), ("SORT", "bad", "STORE", d), ("LRANGE", d, "0", "-1"),
        ("SORT", k, "STORE"), ("SORT", k, "store", d, "BY"),
        ("SORT", k, "BY", "nosort", "STORE", d), ("LRANGE", d, "0", "-1"),
        ("SORT", k, "BY", "g_*", "STORE", d), ("LRANGE", d, "0", "-1"),
    ])


def test_store_by_and_get_elsewhere(differ, KD):
    k, d = KD
    differ.check([
        ("RPUSH", k, *[str(i) for i in range(1, 21)]),
        weights({i: (i * 7) % 11 for i in range(1, 21)}),
        ("SORT", k, "BY", "w_*", "GET", "#", "GET", "w_*", "STORE", d),
        ("LRANGE", d, "0", "-1"),
        ("SORT", k, "BY", "w_*", "DESC", "LIMIT", "3", "5", "GET", "w_*", "STORE", d),
        ("LRANGE", d, "0", "-1"),
        ("SORT", k, "BY", "w_*", "GET", "nope_*", "STORE", d), ("LRANGE", d, "0", "3"),
        ("LLEN", d),
    ])


def test_sets(differ, KD):
    k, d = KD
    differ.check([
        ("SADD", k, "5", "3", "-1", "100", "42"),  # an intset
        ("SORT", k), ("SORT", k, "DESC", "LIMIT", "1", "2"), ("SORT", k, "ALPHA"),
        Loose("SORT", k, "BY", "nosort", check=unordered),
        # unsorted into a STORE: sorted ALPHA, so the stored list does not depend on order
        ("SORT", k, "BY", "nosort", "STORE", d), ("LRANGE", d, "0", "-1"),
        ("SORT", k, "BY", "nosort", "DESC", "STORE", d), ("LRANGE", d, "0", "-1"),
        ("SORT", k, "BY", "nosort", "GET", "#", "LIMIT", "1", "2", "STORE", d),
        ("LRANGE", d, "0", "-1"),
        weights({5: 1, 3: 2, -1: 3, 100: 4, 42: 5}), ("SORT", k, "BY", "w_*", "GET", "w_*"),
        ("SADD", k, "abc"), ("SORT", k), ("SORT", k, "ALPHA", "DESC"),
        ("SORT", k, "BY", "w_*", "ALPHA", "LIMIT", "1", "10"),
        ("SORT_RO", k, "ALPHA", "GET", "#", "GET", "w_*"),
    ])


def test_big_set_and_list(differ, KD):
    k, d = KD
    members = [str((i * 7919) % 1000) for i in range(300)]
    differ.check([
        ("SADD", k, *members), ("SORT", k, "LIMIT", "10", "20"), ("SORT", k, "ALPHA", "DESC",
                                                                  "LIMIT", "0", "15"),
        ("SORT", k, "BY", "nosort", "STORE", d), ("LRANGE", d, "100", "110"),
        ("DEL", k), ("RPUSH", k, *members, *["m" + m for m in members[:50]]),
        ("SORT", k, "ALPHA", "LIMIT", "280", "30"),
        ("SORT", k, "BY", "nosort", "DESC", "LIMIT", "5", "5"),
        ("SORT", k, "ALPHA", "STORE", d), ("LLEN", d), ("LRANGE", d, "-5", "-1"),
    ])


def test_sorted_sets(differ, KD):
    k, d = KD
    differ.check([
        ("ZADD", k, "3", "a", "1", "c", "2", "b", "2", "bb", "-5", "10"),
        ("SORT", k, "ALPHA"), ("SORT", k, "ALPHA", "DESC"),
        ("SORT", k, "BY", "nosort"), ("SORT", k, "BY", "nosort", "DESC"),
        ("SORT", k, "BY", "nosort", "LIMIT", "1", "2"),
        ("SORT", k, "BY", "nosort", "DESC", "LIMIT", "1", "2"),
        ("SORT", k, "BY", "nosort", "LIMIT", "4", "10"),
        ("SORT", k, "BY", "nosort", "LIMIT", "5", "1"),
        ("SORT", k, "BY", "nosort", "STORE", d), ("LRANGE", d, "0", "-1"),
        ("SORT", k, "BY", "nosort", "GET", "#", "GET", "g_*", "DESC"),
        ("SORT", k), ("MSET", "w_a", "3", "w_b", "1", "w_c", "2", "w_bb", "0", "w_10", "9"),
        ("SORT", k, "BY", "w_*"), ("SORT", k, "BY", "w_*", "GET", "w_*", "STORE", d),
        ("LRANGE", d, "0", "-1"), ("SORT_RO", k, "BY", "nosort", "DESC"),
    ])


def test_errors(differ, KD):
    k, d = KD
    differ.check([
        ("SORT",), ("SORT_RO",), ("RPUSH", k, "1"),
        ("SORT", k, "FOO"), ("SORT", k, "LIMIT"), ("SORT", k, "LIMIT", "1"),
        ("SORT", k, "LIMIT", "a", "1"), ("SORT", k, "LIMIT", "1", "b"),
        ("SORT", k, "LIMIT", "1", "1.5"), ("SORT", k, "LIMIT", "99999999999999999999", "1"),
        ("SORT", k, "BY"), ("SORT", k, "GET"), ("SORT", k, "STORE"),
        ("SORT_RO", k, "STORE", d), ("SORT_RO", k, "FOO"),
        ("SORT", k, "ALPHA", "BOGUS", "LIMIT", "x", "y"), ("SORT", k, "LIMIT", "x", "y", "BOGUS"),
        ("SET", "str", "v"), ("SORT", "str"), ("SORT_RO", "str"), ("SORT", "str", "STORE", d),
        ("HSET", "hash", "f", "v"), ("SORT", "hash"),
        ("SORT", "str", "FOO"), ("SORT", "str", "LIMIT", "a", "b"),
        ("SORT", "str", "BY", "w_*", "GET", "#"),
    ])


def test_one_shard_hash_tags(differ):
    # Everything on the {t} shard: the whole command runs there as one part.
    k, d = "{t}list", "{t}dst"
    differ.check([
        ("RPUSH", k, "1", "2", "3", "4"),
        ("MSET", "{t}w_1", "4", "{t}w_2", "3", "{t}w_3", "2", "{t}w_4", "1"),
        ("HSET", "{t}h_2", "f", "two"),
        ("SORT", k, "BY", "{t}w_*"), ("SORT", k, "BY", "{t}w_*", "GET", "{t}h_*->f", "GET", "#"),
        ("SORT", k, "BY", "{t}w_*", "GET", "{t}w_*", "STORE", d), ("LRANGE", d, "0", "-1"),
        ("SORT", k, "BY", "{t}w_*", "DESC", "GET", "{t}h_*->f", "STORE", d),
        ("LRANGE", d, "0", "-1"),
        ("SORT", k, "BY", "w_{t}*"), ("SORT", k, "BY", "{}w_*"),
        ("SORT_RO", k, "BY", "{t}w_*", "LIMIT", "1", "2"),
    ])


def test_in_multi(differ, KD):
    k, d = KD
    differ.check([
        ("RPUSH", k, "2", "1", "3"), ("MSET", "w_1", "3", "w_2", "2", "w_3", "1"),
        ("MULTI",), ("SORT", k, "BY", "w_*", "STORE", d), ("LRANGE", d, "0", "-1"),
        ("SORT", k, "GET", "w_*"), ("SORT_RO", k, "DESC"), ("SORT", k, "FOO"), ("EXEC",),
    ])


def test_cross_shard_store_value(r, nshards):
    # A result stored on another shard is a real list there (pushes and pops work).
    k, d = two_keys_on_different_shards(nshards, "cs")
    r.rpush(k, *range(50, 0, -1))
    for i in range(1, 51):
        r.set(f"cw_{i}", 100 - i)
    assert r.sort(k, by="cw_*", get="cw_*", store=d) == 50
    assert r.lrange(d, 0, 2) == [b"50", b"51", b"52"]
    assert r.rpush(d, "x") == 51
    assert r.rpop(d) == b"x"
    assert r.sort(k, by="cw_*", start=60, num=5, store=d) == 0
    assert r.exists(d) == 0


def test_isolated_from_cross_shard_writes(server, nshards):
    # A writer sets every w_i to the same generation number with one cross-shard MSET;
    # a SORT ... GET w_* running meanwhile must see one generation, never a mix.
    import threading
    k = "iso-list"
    n = 40
    r = server.client()
    r.rpush(k, *range(n))
    r.mset({f"w_{i}": 0 for i in range(n)})
    stop = threading.Event()

    def writer():
        w = server.client()
        g = 1
        while not stop.is_set():
            w.mset({f"w_{i}": g for i in range(n)})
            g += 1
        w.close()

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(200):
            got = r.sort(k, by="nosort", get="w_*")
            assert len(set(got)) == 1, got
            got = r.sort(k, by="w_*", get="w_*", store="iso-dst")
            vals = r.lrange("iso-dst", 0, -1)
            assert got == n and len(set(vals)) == 1, vals
    finally:
        stop.set()
        t.join()
        r.close()
