"""Expiry: lazy on access (millisecond precision) and active on the timer tick."""
import time

import pytest

from helpers import keys_per_shard, spread_keys, wait_for


def _busy_wait_until(t):
    # waits for wall-clock time itself (the condition), not for another actor
    while time.monotonic() < t:
        time.sleep(0.001)


def test_lazy_expiry_on_every_shard(r, nshards):
    keys = [ks[0] for ks in keys_per_shard(nshards, "lz")]
    t0 = time.monotonic()
    for k in keys:
        assert r.set(k, "v", px=200) is True
    vals = r.mget(keys)
    if time.monotonic() - t0 < 0.2:  # unless the machine stalled for the whole TTL
        assert vals == [b"v"] * len(keys)
    for k in keys:
        wait_for(lambda: r.get(k) is None, 3, what=f"{k} to expire")
    elapsed = time.monotonic() - t0
    assert elapsed >= 0.199, f"expired after {elapsed * 1000:.0f} ms, TTL was 200 ms"
    for k in keys:
        assert r.ttl(k) == -2 and r.pttl(k) == -2 and r.exists(k) == 0
        assert r.execute_command("EXPIRETIME", k) == -2


def test_expiry_ms_precision(r):
    t0 = time.monotonic()
    r.set("prec", "v", px=120)
    wait_for(lambda: r.pttl("prec") == -2, 3, interval=0.001, what="prec to expire")
    elapsed = time.monotonic() - t0
    assert 0.119 <= elapsed < 2.0


def test_expired_keys_invisible_everywhere(r, nshards):
    keys = spread_keys(nshards, "inv", 10)
    live = spread_keys(nshards, "live", 1)
    for k in keys:
        r.set(k, "v", px=20)
    r.mset({k: "v" for k in live})
    _busy_wait_until(time.monotonic() + 0.05)
    assert sorted(r.keys("inv*")) == []
    assert r.exists(*keys) == 0
    assert r.mget(keys) == [None] * len(keys)
    cursor, seen = 0, []
    while True:
        cursor, got = r.scan(cursor, match="inv*", count=100)
        seen += got
        if cursor == 0:
            break
    assert seen == []
    assert r.randomkey() in [k.encode() for k in live]
    for k in keys[:nshards]:
        assert r.get(k) is None
        assert r.ttl(k) == -2
        assert r.append(k, "x") == 1  # a fresh key, not the old value
        assert r.ttl(k) == -1
    # eventually (lazy + active) DBSIZE counts only the live keys
    wait_for(lambda: r.dbsize() == len(live) + nshards, 10, what="expired keys to be removed")


@pytest.mark.slow
def test_active_expiry_without_access(r, nshards):
    """Keys with short TTLs disappear from DBSIZE without being touched."""
    n = 3000
    keys = spread_keys(nshards, "ax", n // nshards)
    p = r.pipeline(transaction=False)
    for i, k in enumerate(keys):
        p.set(k, "v", px=100 + (i % 200))
    p.execute()
    persistent = spread_keys(nshards, "px", 5)
    r.mset({k: "v" for k in persistent})
    expired_before = r.info("stats").get("expired_keys", 0)
    assert r.dbsize() <= len(keys) + len(persistent)
    # only DBSIZE (which touches no key) until the expired keys are gone
    wait_for(lambda: r.dbsize() == len(persistent), 15, interval=0.05,
             what="active expiry to delete every expired key")
    assert r.info("keyspace")["db0"]["expires"] == 0
    assert r.info("stats")["expired_keys"] - expired_before >= len(keys) - 50
    assert sorted(r.keys("*")) == sorted(k.encode() for k in persistent)


def test_active_expiry_keeps_future_keys(r, nshards):
    short = spread_keys(nshards, "sh", 20)
    long_ = spread_keys(nshards, "lg", 20)
    p = r.pipeline(transaction=False)
    for k in short:
        p.set(k, "v", px=50)
    for k in long_:
        p.set(k, "v", ex=1000)
    p.execute()
    wait_for(lambda: r.dbsize() == len(long_), 10, interval=0.02,
             what="short keys to be actively expired")
    assert r.exists(*long_) == len(long_)
    ks = r.info("keyspace")["db0"]
    assert ks["keys"] == len(long_) and ks["expires"] == len(long_)


def test_persist_and_overwrite_cancel_expiry(r, nshards):
    a, b, c = spread_keys(nshards, "pc", 3)[:3]
    r.set(a, "v", px=150)
    r.set(b, "v", px=150)
    r.set(c, "v", px=150)
    assert r.persist(a) is True
    r.set(b, "w")  # SET without KEEPTTL clears the TTL
    r.set(c, "w", keepttl=True)
    wait_for(lambda: r.exists(c) == 0, 3, what="KEEPTTL key to expire")
    assert r.get(a) == b"v" and r.ttl(a) == -1
    assert r.get(b) == b"w" and r.ttl(b) == -1


def test_stale_ttl_does_not_delete_recreated_keys(r, nshards):
    """A key that had a TTL and was deleted, flushed, renamed away or overwritten must not be
    removed later by the old deadline (the TTL index must forget it)."""
    keys = spread_keys(nshards, "st", 20)
    p = r.pipeline(transaction=False)
    for k in keys:
        p.set(k, "old", px=150)
    p.execute()
    deadline = time.monotonic() + 0.15
    r.flushall()
    renamed = []
    for i, k in enumerate(keys):
        if i % 4 == 0:
            r.set(k, "new")                      # re-created after FLUSHALL
        elif i % 4 == 1:
            r.set(k, "tmp", px=100000)
            r.persist(k)                        # TTL removed
        elif i % 4 == 2:
            r.set(k, "x", px=100000)
            r.rename(k, k + "-moved")           # moved away, then re-created
            r.set(k, "new")
            renamed.append(k + "-moved")
        else:
            r.set(k, "y", px=100000)
            r.delete(k)
            r.set(k, "new")
    _busy_wait_until(deadline + 0.35)  # well past the old deadlines and a few timer ticks
    missing = [k for k in keys if r.exists(k) == 0]
    assert not missing, f"keys removed by a stale deadline: {missing[:5]}"
    assert all(r.ttl(k) == -1 for k in keys)
    assert all(99 <= r.ttl(k) <= 100 for k in renamed)


def test_rename_moves_deadline(r, nshards):
    a, b = spread_keys(nshards, "mv", 1)[0], spread_keys(nshards, "mv", 1)[-1]
    if a == b:
        b = a + "b"
    r.set(a, "v", px=150)
    r.rename(a, b)
    r.set(a, "fresh")  # same name as the old source, no TTL
    wait_for(lambda: r.exists(b) == 0, 3, what="renamed key to expire")
    assert r.get(a) == b"fresh"
