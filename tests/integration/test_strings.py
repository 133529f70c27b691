"""String commands: GET SET (EX PX EXAT PXAT NX XX KEEPTTL GET) SETNX SETEX PSETEX GETSET
GETDEL GETEX APPEND STRLEN INCR DECR INCRBY DECRBY INCRBYFLOAT GETRANGE SETRANGE MGET MSET
MSETNX. Mostly differential: the same script runs on corekv and on redis-server and every
reply must be byte-identical."""
import time

import pytest

from helpers import Loose, decode, spread_keys

pytestmark = pytest.mark.differential


def near(tol):
    """Loose check: both integer replies, within tol of each other."""
    def check(a, b):
        return a[:1] == b[:1] == b":" and abs(decode(a) - decode(b)) <= tol
    return check


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def differ(differ, request, server):
    """Every differential script of this module runs in RESP2 and in RESP3. (`server` is
    named so that pytest sees the shard-count parametrization through the override.)"""
    differ.proto = request.param
    return differ


@pytest.fixture
def K(nshards):
    # Eight keys spread over every shard (the same names on both servers).
    return spread_keys(nshards, "s", max(1, 8 // nshards))


@pytest.fixture
def T():
    """A fixed absolute time far in the future, the same for both servers."""
    return int(time.time()) + 100000


def test_get_set_basic(differ, K):
    k, k2, nk = K[0], K[1], "missing-" + K[2]
    differ.check([
        ("GET", nk), ("SET", k, "v"), ("GET", k), ("SET", k, ""), ("GET", k), ("STRLEN", k),
        ("SET", k2, b"bin\x00ary\r\n\xff"), ("GET", k2), ("set", k, "lower"), ("GeT", k),
        ("SET", k, "x" * 100), ("GET", k), ("SET", k, "y" * 70000), ("GET", k),
        # integer-looking values must come back exactly as stored
        ("SET", k, "007"), ("GET", k), ("SET", k, "-0"), ("GET", k), ("SET", k, "+5"),
        ("GET", k), ("SET", k, " 12"), ("GET", k), ("SET", k, "9223372036854775808"),
        ("GET", k), ("SET", k, "-9223372036854775808"), ("GET", k), ("SET", k, "1.50"),
        ("GET", k), ("SET", k, "12345678901234567890123"), ("GET", k), ("SET", k, "0"),
        ("GET", k), ("SET", k, "-1"), ("GET", k),
    ])


def test_set_options(differ, K, T):
    k, nk = K[0], "missing-" + K[1]
    differ.check([
        ("SET", k, "v"), ("SET", k, "v2", "XX"), ("GET", k), ("SET", k, "v3", "NX"), ("GET", k),
        ("SET", nk, "v", "XX"), ("GET", nk), ("SET", k, "new", "GET"), ("SET", nk, "x", "GET"),
        ("GET", nk), ("DEL", nk), ("SET", k, "v", "NX", "GET"), ("SET", k, "v4", "XX", "GET"),
        ("SET", nk, "v", "XX", "GET"), ("EXISTS", nk), ("SET", nk, "v", "NX", "GET"),
        ("GET", nk), ("DEL", nk),
        ("SET", k, "v", "NX", "XX"), ("SET", k, "v", "EX", "10", "PX", "100"),
        ("SET", k, "v", "EX", "10", "EXAT", T), ("SET", k, "v", "PXAT", T, "EX", "10"),
        ("SET", k, "v", "EX", "0"), ("SET", k, "v", "EX", "-1"), ("SET", k, "v", "EX", "abc"),
        ("SET", k, "v", "PX", "0"), ("SET", k, "v", "PX", "-5"), ("SET", k, "v", "EX"),
        ("SET", k, "v", "EX", "1.5"), ("SET", k, "v", "EXAT", "0"), ("SET", k, "v", "PXAT", "0"),
        ("SET", k, "v", "KEEPTTL", "EX", "10"), ("SET", k, "v", "EX", "10", "KEEPTTL"),
        ("SET", k, "v", "FOO"), ("SET", k, "v", "NX", "NX"), ("SET", k, "v", "GET", "GET"),
        ("SET", k, "v", "EX", "9223372036854775807"),
        ("SET", k, "v", "PX", "9223372036854775807"),
        ("SET", k, "v", "EX", "9223372036854775"), ("SET", k, "v", "EXAT", "9223372036854775"),
        ("GET", k),
        ("SET", k, "v", "EX", "100"), ("TTL", k), ("SET", k, "v2", "KEEPTTL"), ("TTL", k),
        ("SET", k, "v3", "keepttl", "get"), ("TTL", k), ("SET", k, "v4"), ("TTL", k),
        ("SET", k, "v", "ex", "1000", "get"), ("TTL", k), ("SET", k, "v", "XX", "EX", "50"),
        ("TTL", k), ("SET", k, "v", "PX", "100000"), Loose("PTTL", k, check=near(100)),
        ("TTL", k), ("SET", k, "v", "EXAT", T), ("EXPIRETIME", k), ("TTL", k),
        ("SET", k, "v", "PXAT", T * 1000 + 123), ("PEXPIRETIME", k), ("EXPIRETIME", k),
        # an absolute time in the past: OK, and the key is gone
        ("SET", k, "v", "EXAT", "1"), ("GET", k), ("EXISTS", k),
        ("SET", k, "v", "PXAT", "1000"), ("GET", k),
        ("SET", nk, "v", "NX", "EX", "100"), ("TTL", nk), ("SET", nk, "v", "NX", "EX", "200"),
        ("TTL", nk),
    ])


def test_setnx_setex_psetex(differ, K):
    k, k2 = K[0], K[1]
    differ.check([
        ("SETNX", k, "a"), ("SETNX", k, "b"), ("GET", k), ("SETNX", k), ("SETNX", k, "a", "b"),
        ("SETEX", k, "100", "v"), ("GET", k), ("TTL", k), ("SETEX", k, "0", "v"),
        ("SETEX", k, "-5", "v"), ("SETEX", k, "abc", "v"), ("SETEX", k, "100"),
        ("SETEX", k, "9223372036854775807", "v"), ("GET", k), ("TTL", k),
        ("PSETEX", k2, "100000", "pv"), ("GET", k2), Loose("PTTL", k2, check=near(100)),
        ("TTL", k2), ("PSETEX", k2, "0", "v"), ("PSETEX", k2, "-1", "v"),
        ("PSETEX", k2, "x", "v"), ("SETNX", k2, "no"), ("GET", k2),
    ])


def test_getset_getdel(differ, K):
    k, k2, nk = K[0], K[1], "missing-" + K[2]
    differ.check([
        ("GETSET", nk, "g"), ("GET", nk), ("GETSET", nk, "h"), ("GET", nk),
        ("SET", k, "v", "EX", "100"), ("GETSET", k, "w"), ("TTL", k), ("GET", k),
        ("GETSET", k), ("GETSET", k, "a", "b"),
        ("SET", k2, "12"), ("GETDEL", k2), ("GETDEL", k2), ("EXISTS", k2), ("GETDEL", nk),
        ("EXISTS", nk), ("GETDEL",), ("GETDEL", k, k2),
    ])


def test_getex(differ, K, T):
    k, nk = K[0], "missing-" + K[1]
    differ.check([
        ("SET", k, "v"), ("GETEX", k), ("TTL", k), ("GETEX", k, "EX", "100"), ("TTL", k),
        ("GETEX", k, "PERSIST"), ("TTL", k), ("GETEX", k, "PX", "100000"),
        Loose("PTTL", k, check=near(100)), ("GETEX", k, "EXAT", T), ("EXPIRETIME", k),
        ("GETEX", k, "PXAT", T * 1000 + 7), ("PEXPIRETIME", k), ("GETEX", k, "persist"),
        ("TTL", k),
        ("GETEX", k, "EX", "0"), ("GETEX", k, "EX", "-1"), ("GETEX", k, "PX", "0"),
        ("GETEX", k, "EX", "abc"), ("GETEX", k, "EX", "10", "PX", "10"),
        ("GETEX", k, "PERSIST", "EX", "10"), ("GETEX", k, "EX", "10", "PERSIST"),
        ("GETEX", k, "FOO"), ("GETEX", k, "EX"), ("GETEX", k, "EX", "9223372036854775807"),
        ("GETEX", k, "EXAT", "0"), ("GETEX", nk, "EX", "10"), ("EXISTS", nk),
        ("GETEX", nk), ("GETEX",), ("TTL", k),
        # an absolute time in the past: the value is returned and the key deleted
        ("GETEX", k, "EXAT", "1"), ("EXISTS", k), ("GET", k),
        ("SET", k, "v"), ("GETEX", k, "PXAT", "1"), ("EXISTS", k),
    ])


def test_append_strlen(differ, K):
    k, k2, nk = K[0], K[1], "missing-" + K[2]
    differ.check([
        ("APPEND", k, "hello"), ("APPEND", k, " world"), ("GET", k), ("STRLEN", k),
        ("STRLEN", nk), ("APPEND", k, ""), ("STRLEN", k), ("APPEND", nk, ""), ("EXISTS", nk),
        ("GET", nk), ("SET", k2, "123"), ("APPEND", k2, "4"), ("GET", k2), ("INCR", k2),
        ("STRLEN", k2), ("SET", k2, "-77"), ("STRLEN", k2), ("APPEND", k2, "x" * 5000),
        ("STRLEN", k2), ("GETRANGE", k2, "0", "5"), ("APPEND", k2), ("STRLEN",),
        ("STRLEN", k, k2), ("SET", k, "v", "EX", "100"), ("APPEND", k, "w"), ("TTL", k),
    ])


def test_incr_decr(differ, K):
    k, nk = K[0], "missing-" + K[1]
    script = [
        ("SET", k, "10"), ("INCR", k), ("DECR", k), ("INCRBY", k, "5"), ("DECRBY", k, "3"),
        ("INCRBY", k, "-20"), ("DECRBY", k, "-2"), ("GET", k), ("INCR", nk), ("DECR", nk),
        ("DECRBY", nk, "10"), ("GET", nk), ("INCRBY", k, "0"),
        ("SET", k, "9223372036854775806"), ("INCR", k), ("INCR", k), ("GET", k),
        ("INCRBY", k, "-1"), ("SET", k, "-9223372036854775807"), ("DECR", k), ("DECR", k),
        ("GET", k), ("INCRBY", k, "-1"), ("SET", k, "-5"), ("DECRBY", k, "-9223372036854775808"),
        ("INCRBY", k, "-9223372036854775808"), ("GET", k), ("SET", k, "0"),
        ("DECRBY", k, "-9223372036854775808"), ("DECRBY", k, "9223372036854775807"),
        ("INCRBY", k, "abc"), ("INCRBY", k, "1.5"), ("INCRBY", k, ""), ("INCRBY", k, " 1"),
        ("INCRBY", k, "9223372036854775808"), ("DECRBY", k, "x"), ("INCRBY", k),
        ("INCR", k, "1"), ("GET", k), ("SET", k, "v", "EX", "100"), ("SET", k, "5", "KEEPTTL"),
        ("INCR", k), ("TTL", k),
    ]
    # values that are not canonical integers
    for bad in ("abc", "", " 1", "1 ", "01", "-0", "+1", "1e3", "1.0", "0x10",
                "9223372036854775808", "-9223372036854775809", "12345678901234567890123"):
        script += [("SET", k, bad), ("INCR", k), ("DECRBY", k, "1"), ("GET", k)]
    differ.check(script)


def test_incrbyfloat(differ, K):
    k, nk = K[0], "missing-" + K[1]
    script = [
        ("SET", k, "10.50"), ("INCRBYFLOAT", k, "0.1"), ("INCRBYFLOAT", k, "-5"),
        ("INCRBYFLOAT", k, "5.0e3"), ("GET", k), ("INCRBYFLOAT", nk, "3"), ("GET", nk),
        ("SET", k, "0"), ("INCRBYFLOAT", k, "0.1"), ("INCRBYFLOAT", k, "0.2"),
        ("INCRBYFLOAT", k, "-0.3"), ("SET", k, "3.0"), ("INCRBYFLOAT", k, "0"),
        ("SET", k, "1"), ("INCRBYFLOAT", k, "1e-5"), ("INCRBYFLOAT", k, "1.1e300"),
        ("INCRBYFLOAT", k, "-1.1e300"), ("SET", k, "5"), ("INCRBYFLOAT", k, "1E2"),
        ("INCRBYFLOAT", k, "-105"), ("INCRBYFLOAT", k, "-0.0"), ("INCRBYFLOAT", k, "3.14159265358979"),
        ("INCRBYFLOAT", k, "abc"), ("INCRBYFLOAT", k, ""), ("INCRBYFLOAT", k, "inf"),
        ("INCRBYFLOAT", k, "-inf"), ("INCRBYFLOAT", k, "nan"), ("INCRBYFLOAT", k, "1e400"),
        ("INCRBYFLOAT", k, " 1"), ("INCRBYFLOAT", k, "1 "), ("INCRBYFLOAT", k, "0x10"),
        ("INCRBYFLOAT", k), ("GET", k), ("SET", k, "abc"), ("INCRBYFLOAT", k, "1"),
        ("SET", k, "1e400"), ("INCRBYFLOAT", k, "1"), ("SET", k, " 2"), ("INCRBYFLOAT", k, "1"),
        ("SET", k, "7", "EX", "100"), ("INCRBYFLOAT", k, "0.5"), ("TTL", k),
        ("SET", k, "1.7976931348623157e308"), ("INCRBYFLOAT", k, "1.7976931348623157e308"),
        ("SET", k, "10"), ("INCRBYFLOAT", k, "2.5"), ("INCR", k), ("INCRBYFLOAT", k, "0.5"),
        ("INCR", k), ("GET", k),
    ]
    differ.check(script)


def test_getrange_setrange(differ, K):
    k, k2, nk = K[0], K[1], "missing-" + K[2]
    script = [("SET", k, "This is a string")]
    for a, b in ((0, 3), (-3, -1), (0, -1), (10, 100), (5, 2), (-100, 100), (-1, -100),
                 (100, 200), (-100, -50), (0, 0), (-1, -1), (15, 15), (16, 16),
                 (0, 9223372036854775807), (-9223372036854775808, 3)):
        script.append(("GETRANGE", k, a, b))
    script += [
        ("GETRANGE", k, "a", "b"), ("GETRANGE", k, "0"), ("GETRANGE", nk, "0", "-1"),
        ("SET", k2, "12345"), ("GETRANGE", k2, "1", "3"), ("GETRANGE", k2, "-2", "-1"),
        ("SET", k2, ""), ("GETRANGE", k2, "0", "-1"), ("GETRANGE", k, "0", "3"),
        ("SET", k, "Hello World"), ("SETRANGE", k, "6", "Redis"), ("GET", k),
        ("SETRANGE", k, "20", "!"), ("GET", k), ("STRLEN", k), ("SETRANGE", nk, "5", "x"),
        ("GET", nk), ("DEL", nk), ("SETRANGE", k, "-1", "x"), ("SETRANGE", k, "0", ""),
        ("SETRANGE", nk, "10", ""), ("EXISTS", nk), ("SETRANGE", nk, "0", ""),
        ("SETRANGE", k, "abc", "x"), ("SETRANGE", k, "536870912", "x"),
        ("SETRANGE", k, "536870911", "xy"), ("SETRANGE", nk, "536870912", ""),
        ("SETRANGE", k, "1"), ("SET", k2, "12345"), ("SETRANGE", k2, "1", "0"), ("GET", k2),
        ("INCR", k2), ("SETRANGE", k2, "0", "9"), ("GET", k2), ("SET", k, "v", "EX", "100"),
        ("SETRANGE", k, "1", "abc"), ("TTL", k), ("GET", k),
    ]
    differ.check(script)


def test_mget_mset_msetnx(differ, nshards):
    ks = spread_keys(nshards, "m", max(2, 16 // nshards))
    a = ks
    pairs = [x for i, k in enumerate(a) for x in (k, f"val{i}")]
    differ.check([
        ("MSET", *pairs), ("MGET", *a), ("MGET", *a, "nokey", a[0]), ("MGET", "nokey"),
        ("MSET", a[0]), ("MSET", a[0], "1", a[1]), ("MSET",), ("MGET",),
        ("MSET", a[0], "x", a[0], "y"), ("GET", a[0]),
        ("MSETNX", "n1" + a[0], "1", "n2" + a[1], "2"), ("MGET", "n1" + a[0], "n2" + a[1]),
        ("MSETNX", "n3" + a[2], "3", a[1], "clobber"), ("GET", "n3" + a[2]), ("GET", a[1]),
        ("MSETNX", "n4", "1", "n4", "2"), ("GET", "n4"), ("MSETNX", "n5"),
        ("MSETNX", "n5", "1", "n6"), ("EXISTS", "n5"), ("DBSIZE",),
        ("SET", a[3], "v", "EX", "100"), ("MSET", a[3], "w"), ("TTL", a[3]),
        ("MSET", "{t}1", "a", "{t}2", "b"), ("MGET", "{t}1", "{t}2", "{t}3"),
    ])


def test_string_properties(r, nshards):
    """Checks that need no reference server."""
    keys = spread_keys(nshards, "p", 4)
    for i, k in enumerate(keys):
        assert r.set(k, f"v{i}") is True
    assert r.mget(keys) == [f"v{i}".encode() for i in range(len(keys))]
    assert r.set(keys[0], "x", nx=True) is None
    assert r.set("absent", "x", xx=True) is None
    assert r.get("absent") is None
    assert r.set(keys[0], "new", get=True) == b"v0"
    assert r.incr("cnt") == 1 and r.incrby("cnt", 41) == 42 and r.decr("cnt") == 41
    assert r.incrbyfloat("f", 1.5) == 1.5
    assert r.append(keys[1], "!") == 3 and r.get(keys[1]) == b"v1!"
    assert r.getrange(keys[1], 1, -1) == b"1!"
    assert r.setrange(keys[1], 5, "z") == 6 and r.get(keys[1]) == b"v1!\x00\x00z"
    assert r.getdel(keys[2]) == b"v2" and r.exists(keys[2]) == 0
    assert r.msetnx({keys[2]: "a", keys[3]: "b"}) is False
    assert r.exists(keys[2]) == 0
    with pytest.raises(Exception, match="not an integer"):
        r.incr(keys[0])


def test_big_values_on_every_shard(r, nshards):
    # Values above any inline/zero-copy threshold, fetched from every shard.
    keys = spread_keys(nshards, "big", 1)
    vals = {}
    for i, k in enumerate(keys):
        v = bytes((j * 7 + i) & 0xFF for j in range(1 << 16)) * 16  # 1 MiB
        vals[k] = v
        assert r.set(k, v) is True
    for k in keys:
        assert r.get(k) == vals[k]
        assert r.strlen(k) == len(vals[k])
    got = r.mget(keys)
    assert got == [vals[k] for k in keys]
    assert r.getrange(keys[-1], (1 << 20) - 3, -1) == vals[keys[-1]][-3:]
