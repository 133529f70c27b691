"""Key commands: DEL UNLINK EXISTS TOUCH TYPE EXPIRE PEXPIRE EXPIREAT PEXPIREAT (NX XX GT LT)
TTL PTTL EXPIRETIME PEXPIRETIME PERSIST KEYS SCAN RANDOMKEY RENAME RENAMENX COPY OBJECT."""
import threading
import time

import pytest

from helpers import Loose, decode, keys_per_shard, shard_of, spread_keys, wait_for


def near(tol):
    def check(a, b):
        return a[:1] == b[:1] == b":" and abs(decode(a) - decode(b)) <= tol
    return check


def same_set(a, b):
    """Loose check for array replies whose order is unspecified (KEYS)."""
    da, db = decode(a), decode(b)
    return isinstance(da, list) and isinstance(db, list) and sorted(da) == sorted(db)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def differ(differ, request, server):
    """Every differential script of this module runs in RESP2 and in RESP3. (`server` is
    named so that pytest sees the shard-count parametrization through the override.)"""
    differ.proto = request.param
    return differ


@pytest.fixture
def K(nshards):
    return spread_keys(nshards, "key", max(1, 8 // nshards))


@pytest.fixture
def T():
    return int(time.time()) + 100000


# ---------------------------------------------------------------------------- DEL EXISTS ...

@pytest.mark.differential
def test_del_unlink_exists_touch_type_differential(differ, nshards):
    ks = spread_keys(nshards, "d", max(2, 16 // nshards))
    pairs = [x for k in ks for x in (k, "v" + k)]
    differ.check([
        ("MSET", *pairs), ("EXISTS", *ks), ("EXISTS", *ks, *ks, "nokey"), ("EXISTS", "nokey"),
        ("TOUCH", *ks, "nokey"), ("TOUCH", "nokey"), ("TYPE", ks[0]), ("TYPE", "nokey"),
        ("DEL", ks[0], ks[0], ks[1], "nokey"), ("EXISTS", ks[0], ks[1]), ("DEL", ks[0]),
        ("UNLINK", ks[2], ks[3], ks[2], "nokey"), ("EXISTS", *ks), ("DEL", *ks), ("DBSIZE",),
        ("DEL", *ks), ("UNLINK", "nokey"), ("DEL",), ("UNLINK",), ("EXISTS",), ("TOUCH",),
        ("TYPE",), ("TYPE", "a", "b"), ("SET", ks[0], "1"), ("TYPE", ks[0]), ("del", ks[0]),
    ])


def test_del_exists_across_shards(r, nshards):
    per = keys_per_shard(nshards, "x", 5)
    allk = [k for ks in per for k in ks]
    r.mset({k: "1" for k in allk})
    assert r.exists(*allk) == len(allk)
    assert r.touch(*allk) == len(allk)
    # delete every other key, with duplicates and missing keys thrown in
    victims = allk[::2]
    assert r.delete(*victims, *victims, "missing") == len(victims)
    assert r.exists(*allk) == len(allk) - len(victims)
    for k in allk:
        assert r.exists(k) == (0 if k in victims else 1)
    assert r.unlink(*allk) == len(allk) - len(victims)
    assert r.dbsize() == 0


# ---------------------------------------------------------------------------- EXPIRE family

@pytest.mark.differential
def test_expire_options_differential(differ, K, T):
    k, k2, nk = K[0], K[1], "missing-" + K[2]
    differ.check([
        ("SET", k, "v"), ("TTL", k), ("PTTL", k), ("EXPIRETIME", k), ("PEXPIRETIME", k),
        ("TTL", nk), ("PTTL", nk), ("EXPIRETIME", nk), ("PEXPIRETIME", nk),
        ("EXPIRE", k, "100"), ("TTL", k), ("EXPIRE", k, "200", "NX"), ("TTL", k),
        ("EXPIRE", k, "200", "XX"), ("TTL", k), ("EXPIRE", k, "100", "GT"), ("TTL", k),
        ("EXPIRE", k, "300", "GT"), ("TTL", k), ("EXPIRE", k, "400", "LT"),
        ("EXPIRE", k, "50", "LT"), ("TTL", k), ("EXPIRE", k, "50", "lt"),
        ("PERSIST", k), ("PERSIST", k), ("TTL", k), ("PERSIST", nk),
        ("EXPIRE", k, "100", "XX"), ("EXPIRE", k, "100", "GT"), ("TTL", k),
        ("EXPIRE", k, "100", "LT"), ("TTL", k), ("PERSIST", k), ("EXPIRE", k, "100", "NX"),
        ("EXPIRE", k, "50", "XX", "GT"), ("EXPIRE", k, "1000", "XX", "GT"), ("TTL", k),
        ("EXPIRE", k, "10", "NX", "XX"), ("EXPIRE", k, "10", "GT", "LT"),
        ("EXPIRE", k, "10", "NX", "GT"), ("EXPIRE", k, "10", "NX", "LT"),
        ("EXPIRE", k, "10", "FOO"), ("EXPIRE", k, "abc"), ("EXPIRE", k, "1.5"), ("EXPIRE", k),
        ("EXPIRE", nk, "10"), ("EXPIRE", nk, "10", "NX"), ("EXISTS", nk), ("TTL", k),
        ("EXPIRE", k, "9223372036854775807"), ("EXPIRE", k, "-9223372036854775808"),
        ("PEXPIRE", k, "9223372036854775807"), ("EXPIREAT", k, "9223372036854775807"),
        ("EXPIRE", k, "9223372036854775"), ("TTL", k),
        ("PEXPIRE", k, "100000"), Loose("PTTL", k, check=near(100)), ("TTL", k),
        ("PEXPIRE", k, "200000", "GT"), ("TTL", k), ("PEXPIRE", k, "1000", "NX"),
        ("EXPIREAT", k, T), ("EXPIRETIME", k), ("PEXPIRETIME", k), ("TTL", k),
        ("EXPIREAT", k, T - 10, "GT"), ("EXPIRETIME", k), ("EXPIREAT", k, T - 10, "LT"),
        ("EXPIRETIME", k), ("EXPIREAT", k, T - 10, "GT"), ("EXPIREAT", k, T - 10, "LT"),
        ("EXPIREAT", k, T - 10, "XX"), ("EXPIRETIME", k), ("PEXPIREAT", k, T * 1000 + 5), ("PEXPIRETIME", k),
        ("EXPIRETIME", k), ("PEXPIREAT", k, T * 1000 + 999), ("EXPIRETIME", k),
        ("PEXPIREAT", k, T * 1000, "XX"), ("PEXPIREAT", k, T * 1000, "NX"),
        ("EXPIREAT", k, "abc"), ("PEXPIREAT", k), ("EXPIREAT", nk, T),
        # non-positive relative times and past absolute times delete the key
        ("EXPIRE", k, "-1", "GT"), ("EXISTS", k), ("EXPIRE", k, "0"), ("EXISTS", k),
        ("SET", k, "v"), ("EXPIRE", k, "-5"), ("GET", k), ("SET", k, "v"),
        ("PEXPIRE", k, "0"), ("EXISTS", k), ("SET", k, "v"), ("EXPIREAT", k, "1"),
        ("EXISTS", k), ("SET", k, "v"), ("PEXPIREAT", k, "1"), ("EXISTS", k),
        ("SET", k, "v", "EX", "100"), ("EXPIRE", k, "-1", "LT"), ("EXISTS", k),
        ("SET", k, "v"), ("EXPIRE", k, "0", "XX"), ("EXISTS", k), ("EXPIRE", k, "0", "NX"),
        ("EXISTS", k),
        ("SET", k2, "v", "EX", "100"), ("PERSIST", k2), ("TTL", k2), ("PERSIST", k2, "x"),
        ("TTL",), ("PTTL", k, k2), ("EXPIRETIME",), ("PEXPIRETIME", k, k2),
    ])


def test_ttl_countdown(r):
    r.set("t", "v", px=10000)
    p1 = r.pttl("t")
    assert 9000 < p1 <= 10000
    wait_for(lambda: r.pttl("t") < p1, 2, what="PTTL to decrease")
    assert r.ttl("t") in (9, 10)
    et = r.execute_command("PEXPIRETIME", "t")
    assert abs(et - (time.time() * 1000 + r.pttl("t"))) < 1000


# ---------------------------------------------------------------------------- KEYS

@pytest.mark.differential
def test_keys_patterns_differential(differ, nshards):
    ks = spread_keys(nshards, "kp", 6) + ["a*b", "a?b", "a[b", "a\\b", "{tag}1", "{tag}2",
                                          "hello", "hallo", "hxllo", "hllo", "heeeello", ""]
    script = [("MSET", *[x for k in ks for x in (k, "v")])]
    for pat in ("*", "kp*", "kp?", "kp1?", "kp[0-3]*", "kp[^1]*", "kp[!1]*", "h?llo", "h*llo",
                "h[ae]llo", "h[^e]llo", "h[a-b]llo", "a\\*b", "a\\?b", "a\\[b", "a\\\\b", "*{tag}*",
                "{tag}?", "nomatch", "", "[", "\\", "*[", "**", "???", "k*p*", "*1", "[a-"):
        script.append(Loose("KEYS", pat, check=same_set))
    script += [("KEYS",), ("KEYS", "a", "b")]
    differ.check(script)


def test_keys_all_shards(r, nshards):
    per = keys_per_shard(nshards, "ka", 7)
    allk = sorted(k for ks in per for k in ks)
    r.mset({k: "v" for k in allk})
    r.set("other", "v")
    assert sorted(x.decode() for x in r.keys("ka*")) == allk
    assert len(r.keys("*")) == len(allk) + 1


# ---------------------------------------------------------------------------- SCAN

def _full_scan(c, *opts, limit=100000):
    """Iterate SCAN to cursor 0; returns (list of keys in order returned, number of calls)."""
    cursor = b"0"
    out = []
    calls = 0
    while True:
        cur, keys = c.call("SCAN", cursor, *opts)
        calls += 1
        assert isinstance(cur, bytes) and cur.isdigit(), cur
        out += keys
        cursor = cur
        if cursor == b"0":
            return out, calls
        assert calls < limit, "SCAN does not terminate"


@pytest.mark.parametrize("count", [None, 1, 10, 1000])
def test_scan_full_iteration(server, r, nshards, count):
    per = keys_per_shard(nshards, "sc", 40)
    allk = {k.encode() for ks in per for k in ks}
    r.mset({k: "v" for k in allk})
    opts = () if count is None else ("COUNT", count)
    with server.raw() as c:
        got, calls = _full_scan(c, *opts, limit=len(allk) * 3 + 100)
    assert set(got) == allk, f"missing {sorted(allk - set(got))[:10]}"
    # Redis may return a key twice, but an unchanged keyspace is walked once in practice; a
    # bound catches cursors that restart a shard.
    assert len(got) <= 2 * len(allk)
    if count == 1000:
        assert calls <= 2 * nshards + 2


def test_scan_match_type(server, r, nshards):
    per = keys_per_shard(nshards, "sm", 20)
    allk = [k for ks in per for k in ks]
    r.mset({k: "v" for k in allk})
    r.mset({f"other{i}": "v" for i in range(50)})
    with server.raw() as c:
        got, _ = _full_scan(c, "MATCH", "sm*", "COUNT", "7")
        assert set(got) == {k.encode() for k in allk}
        got, _ = _full_scan(c, "MATCH", "sm1*")
        assert set(got) == {k.encode() for k in allk if k.startswith("sm1")}
        got, _ = _full_scan(c, "TYPE", "string", "COUNT", "20")
        assert set(got) == {k.encode() for k in allk} | {f"other{i}".encode() for i in range(50)}
        for t in ("list", "hash", "set", "zset", "stream", "nosuchtype"):
            got, _ = _full_scan(c, "TYPE", t, "COUNT", "100")
            assert got == [], t
        got, _ = _full_scan(c, "MATCH", "nomatch*", "TYPE", "string")
        assert got == []
        got, _ = _full_scan(c, "match", "other4?", "type", "STRING", "count", "3")
        assert set(got) == {f"other4{i}".encode() for i in range(10)}


def test_scan_with_concurrent_changes(server, r, nshards):
    """Keys present for the whole iteration are returned at least once, while other keys are
    added and deleted on every shard."""
    stable = {f"st{i}".encode() for i in range(600)}
    r.mset({k: "v" for k in stable})
    r.mset({f"vol{i}": "v" for i in range(300)})
    stop = threading.Event()
    errors = []

    def churn():
        try:
            with server.client() as c:
                i = 300
                while not stop.is_set():
                    p = c.pipeline(transaction=False)
                    for j in range(20):
                        p.set(f"vol{i + j}", "v")
                        p.delete(f"vol{i + j - 250}")
                    p.execute()
                    i += 20
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=churn)
    t.start()
    try:
        with server.raw() as c:
            got, _ = _full_scan(c, "COUNT", "5", limit=20000)
    finally:
        stop.set()
        t.join(30)
    assert not errors, errors
    missing = stable - set(got)
    assert not missing, f"{len(missing)} stable keys never returned, e.g. {sorted(missing)[:5]}"


@pytest.mark.differential
def test_scan_errors_differential(differ):
    differ.check([
        ("SCAN", "0"), ("SCAN", "0", "COUNT", "10"), ("SCAN", "0", "MATCH", "*"),
        ("SCAN", "0", "TYPE", "string"), ("SCAN", "0", "TYPE", "foo"),
        ("SCAN", "abc"), ("SCAN", "1.5"), ("SCAN", "18446744073709551616"), ("SCAN", ""),
        ("SCAN", "0", "COUNT", "0"), ("SCAN", "0", "COUNT", "-1"), ("SCAN", "0", "COUNT", "abc"),
        ("SCAN", "0", "COUNT"), ("SCAN", "0", "MATCH"), ("SCAN", "0", "TYPE"),
        ("SCAN", "0", "FOO", "x"), ("SCAN",), ("SCAN", "0", "MATCH", "a", "COUNT", "0"),
    ])


# ---------------------------------------------------------------------------- RANDOMKEY

def test_randomkey(r, nshards):
    assert r.randomkey() is None
    # A single key, on each shard in turn, is always found (empty shards must not answer nil).
    for ks in keys_per_shard(nshards, "rk"):
        r.set(ks[0], "v")
        for _ in range(10):
            assert r.randomkey() == ks[0].encode()
        r.delete(ks[0])
    per = keys_per_shard(nshards, "rk", 10)
    allk = {k.encode() for ks in per for k in ks}
    r.mset({k: "v" for k in allk})
    p = r.pipeline(transaction=False)
    for _ in range(60 * nshards):
        p.randomkey()
    seen = p.execute()
    assert set(seen) <= allk
    shards_seen = {shard_of(k, nshards) for k in seen}
    assert shards_seen == set(range(nshards)), f"RANDOMKEY only returned keys of {shards_seen}"
    with pytest.raises(Exception, match="wrong number of arguments"):
        r.execute_command("RANDOMKEY", "x")


def test_randomkey_ignores_expired(r, nshards):
    keys = spread_keys(nshards, "rx", 5)
    for k in keys:
        r.set(k, "v", px=1)
    # wait for the millisecond TTLs to pass (wall time is the condition here)
    deadline = time.monotonic() + 0.02
    while time.monotonic() < deadline:
        pass
    assert r.randomkey() is None
    r.set("alive", "v")
    assert r.randomkey() == b"alive"


# ---------------------------------------------------------------------------- RENAME / COPY

@pytest.mark.differential
def test_rename_renamenx_differential(differ, K):
    a, b, c, nk = K[0], K[1], K[2], "missing-" + K[3]
    differ.check([
        ("RENAME", nk, a), ("RENAME", nk, nk), ("RENAMENX", nk, a), ("SET", a, "1"),
        ("RENAME", a, a), ("GET", a), ("RENAMENX", a, a), ("GET", a),
        ("SET", a, "v", "EX", "100"), ("RENAME", a, b), ("EXISTS", a), ("GET", b), ("TTL", b),
        ("SET", c, "other"), ("RENAME", b, c), ("GET", c), ("TTL", c), ("EXISTS", b),
        ("SET", a, "A"), ("SET", b, "B"), ("RENAMENX", a, b), ("GET", a), ("GET", b),
        ("RENAMENX", a, nk), ("GET", nk), ("EXISTS", a), ("RENAMENX", nk, a), ("TTL", a),
        ("SET", a, "123"), ("RENAME", a, b), ("INCR", b), ("OBJECT", "ENCODING", b),
        ("RENAME", a), ("RENAME", a, b, c), ("RENAMENX", a), ("DBSIZE",),
    ])


@pytest.mark.differential
def test_copy_differential(differ, K):
    a, b, c, nk = K[0], K[1], K[2], "missing-" + K[3]
    differ.check([
        ("SET", a, "val", "EX", "100"), ("COPY", a, b), ("GET", b), ("TTL", b), ("GET", a),
        ("COPY", a, b), ("SET", a, "val2"), ("COPY", a, b, "REPLACE"), ("GET", b), ("TTL", b),
        ("COPY", nk, c), ("EXISTS", c), ("COPY", nk, b, "REPLACE"), ("GET", b),
        ("COPY", a, a), ("COPY", a, a, "REPLACE"), ("COPY", a, c, "DB", "0"), ("GET", c),
        ("COPY", a, c, "DB", "1"), ("COPY", a, c, "DB", "abc"), ("COPY", a, c, "FOO"),
        ("COPY", a, c, "REPLACE", "DB"), ("COPY", a), ("COPY", a, c, "db", "0", "replace"),
        ("SET", a, "42"), ("COPY", a, c, "REPLACE"), ("OBJECT", "ENCODING", c), ("INCR", c),
        ("GET", a), ("APPEND", a, "x"), ("GET", c), ("DBSIZE",),
    ])


def test_rename_copy_across_every_shard_pair(r, nshards):
    """Value and TTL survive RENAME/COPY between every pair of shards."""
    keys = [ks[0] for ks in keys_per_shard(nshards, "rc")]
    dst = [ks[0] for ks in keys_per_shard(nshards, "rd")]
    for i, src in enumerate(keys):
        for j, d in enumerate(dst):
            val = f"value-{i}-{j}" * 10
            r.set(src, val, ex=5000)
            assert r.copy(src, d, replace=True) is True
            assert r.get(d) == val.encode() and 4990 <= r.ttl(d) <= 5000
            assert r.get(src) == val.encode()
            r.delete(d)
            assert r.rename(src, d) is True
            assert r.exists(src) == 0
            assert r.get(d) == val.encode() and 4990 <= r.ttl(d) <= 5000
            r.set(src, "other")
            assert r.renamenx(src, d) is False
            assert r.get(src) == b"other" and r.get(d) == val.encode()
            r.delete(d)
            assert r.renamenx(src, d) is True
            assert r.get(d) == b"other" and r.ttl(d) == -1 and r.exists(src) == 0
            r.delete(d)
    assert r.dbsize() == 0


# ---------------------------------------------------------------------------- OBJECT

@pytest.mark.differential
def test_object_differential(differ, K):
    k, nk = K[0], "missing-" + K[1]
    script = []
    for v in ("123", "-1", "0", "9223372036854775807", "-9223372036854775808",
              "9223372036854775808", "abc", "", "x" * 44, "x" * 45, "007", "1.5", " 1",
              "12345678901234567890", "10000", "9999"):
        script += [("SET", k, v), ("OBJECT", "ENCODING", k), ("GET", k)]
    script += [
        ("SET", k, "abc"), ("APPEND", k, "d"), ("OBJECT", "ENCODING", k),
        ("SET", k, "5"), ("APPEND", k, "5"), ("OBJECT", "ENCODING", k),
        ("SET", k, "5"), ("INCR", k), ("OBJECT", "ENCODING", k), ("INCRBYFLOAT", k, "1.5"),
        ("OBJECT", "ENCODING", k), ("SET", k, "abc"), ("SETRANGE", k, "0", "x"),
        ("OBJECT", "ENCODING", k), ("SET", k, "abc"), ("OBJECT", "REFCOUNT", k),
        Loose("OBJECT", "IDLETIME", k, check=near(2)), ("OBJECT", "FREQ", k),
        ("OBJECT", "ENCODING", nk), ("OBJECT", "REFCOUNT", nk), ("OBJECT", "IDLETIME", nk),
        ("OBJECT", "FREQ", nk), ("OBJECT", "HELP"), ("object", "help"), ("OBJECT", "HELP", "x"),
        ("OBJECT", "FOO"), ("OBJECT", "FOO", k), ("OBJECT",), ("OBJECT", "ENCODING"),
        ("OBJECT", "ENCODING", k, "x"), ("OBJECT", "encoding", k),
        ("SET", k, "1"), Loose("OBJECT", "REFCOUNT", k),
    ]
    differ.check(script)


def test_object_idletime(r):
    r.set("idle", "v")
    assert r.object("idletime", "idle") in (0, 1)
    assert r.object("encoding", "idle") == b"embstr"


# ---------------------------------------------------------------------------- odd key names

ODD_KEYS = [b"", b"\x00", b"a\r\nb", b"{", b"}", b"}{", b"{}", b"{}x", b"{a", b"a}", b"{{a}}",
            b"x{a}y{b}", b"{a}{b}", b" ", b"*", b"?", b"[", b"\xff\xfe", b"k" * 5000,
            b"\r\n", b"$3", b"*1", b"-ERR", b"+OK"]


@pytest.mark.differential
def test_odd_key_names_differential(differ):
    script = []
    for i, k in enumerate(ODD_KEYS):
        script += [("SET", k, b"v%d" % i), ("GET", k), ("EXISTS", k), ("TYPE", k),
                   ("EXPIRE", k, "100"), ("TTL", k), ("STRLEN", k)]
    script += [("MGET", *ODD_KEYS), ("EXISTS", *ODD_KEYS), ("DBSIZE",),
               Loose("KEYS", "*", check=same_set), Loose("KEYS", "\\**", check=same_set),
               Loose("KEYS", "{*", check=same_set)]
    for i in range(len(ODD_KEYS) - 1):
        script += [("RENAME", ODD_KEYS[i], b"renamed-%d" % i), ("GET", b"renamed-%d" % i),
                   ("COPY", b"renamed-%d" % i, ODD_KEYS[i + 1], "REPLACE"),
                   ("GET", ODD_KEYS[i + 1])]
    script += [("DEL", *ODD_KEYS), ("DBSIZE",)]
    differ.check(script)


def test_odd_keys_scan(server, r):
    for k in ODD_KEYS:
        r.set(k, "v")
    with server.raw() as c:
        got, _ = _full_scan(c, "COUNT", "3")
    assert set(got) == set(ODD_KEYS)


def test_scan_arbitrary_cursor_terminates(server, r, nshards):
    """Cursors are opaque: a cursor corekv never handed out may be refused ("invalid
    cursor": Redis documents such calls as undefined, never a crash), otherwise the reply is
    well-formed and the iteration ends."""
    r.mset({f"ac{i}": "v" for i in range(200)})
    with server.raw() as c:
        for cur in ("1", "7", "12345", "4294967296", "9223372036854775807",
                    "18446744073709551615", str((nshards + 3) << 56), str(1 << 63)):
            reply = c.call("SCAN", cur, "COUNT", "50")
            if reply == "ERR invalid cursor":
                continue
            assert isinstance(reply, list) and len(reply) == 2, (cur, reply)
            nxt = reply[0]
            calls = 0
            while nxt != b"0":
                nxt = c.call("SCAN", nxt, "COUNT", "50")[0]
                calls += 1
                assert calls < 1000, f"SCAN from cursor {cur} does not end"
