"""Multi-shard behaviour: multi-key commands split over shards, all-or-nothing MSETNX/MSET/
RENAME/COPY, a 10,000-command pipeline with read-your-writes, many concurrent clients,
fragmented input, big replies in order, clients that vanish with forwards in flight."""
import random
import socket
import threading

import pytest

from helpers import (RawConn, decode, encode, keys_per_shard, shard_of, spread_keys,
                     two_keys_on_different_shards, wait_for)


def _send_in_thread(conn, data, chunks=None):
    """Send data from a thread (so a server that pushes back cannot deadlock us against our
    own unread replies). Returns the thread and a list that receives any exception."""
    errs = []

    def run():
        try:
            if chunks is None:
                conn.sock.sendall(data)
            else:
                pos = 0
                for n in chunks:
                    conn.sock.sendall(data[pos:pos + n])
                    pos += n
                conn.sock.sendall(data[pos:])
        except OSError as e:
            errs.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, errs


# ---------------------------------------------------------------------------- all or nothing

def test_msetnx_all_or_nothing_across_shards(r, nshards):
    per = keys_per_shard(nshards, "nx", 2)
    keys = [k for ks in per for k in ks]
    for existing in keys:
        r.flushall()
        r.set(existing, "old")
        assert r.msetnx({k: "new" for k in keys}) is False
        vals = r.mget(keys)
        assert vals == [b"old" if k == existing else None for k in keys], \
            f"MSETNX set keys although {existing} (shard {shard_of(existing, nshards)}) existed"
        assert r.dbsize() == 1
    r.flushall()
    assert r.msetnx({k: f"v{k}" for k in keys}) is True
    assert r.mget(keys) == [f"v{k}".encode() for k in keys]


def test_msetnx_with_expired_key_counts_as_absent(r, nshards):
    a, b = two_keys_on_different_shards(nshards, "nxe")
    r.set(b, "old", px=1)
    wait_for(lambda: r.pttl(b) == -2, 2, what="key to expire")
    assert r.msetnx({a: "1", b: "2"}) is True
    assert r.mget(a, b) == [b"1", b"2"]


def test_mset_mget_every_shard(r, nshards):
    keys = spread_keys(nshards, "ms", 30)
    mapping = {k: f"value-of-{k}" for k in keys}
    assert r.mset(mapping) is True
    order = keys[:]
    random.Random(7).shuffle(order)
    order += ["absent1"] + order[:5]
    got = r.mget(order)
    assert got == [mapping[k].encode() if k in mapping else None for k in order]
    # MSET overwrites TTLs on every shard
    for k in keys[:nshards]:
        r.expire(k, 1000)
    r.mset({k: "x" for k in keys[:nshards]})
    assert [r.ttl(k) for k in keys[:nshards]] == [-1] * nshards


def test_cross_shard_rename_keeps_value_ttl_and_encoding(r, nshards):
    src, dst = two_keys_on_different_shards(nshards, "rn")
    big = bytes(range(256)) * 4096  # 1 MiB
    for val in (b"12345", b"short", big):
        r.set(src, val, px=500000)
        assert r.rename(src, dst) is True
        assert r.get(dst) == val
        assert 490000 <= r.pttl(dst) <= 500000
        assert r.exists(src) == 0
        assert r.copy(dst, src) is True
        assert r.get(src) == val and 490000 <= r.pttl(src) <= 500000
        assert r.object("encoding", src) == r.object("encoding", dst)
        r.delete(src, dst)


# ---------------------------------------------------------------------------- pipelines

def _parse_all(conn, n):
    return [conn.read_reply() for _ in range(n)]


def test_pipeline_10000_mixed_commands(server, nshards):
    rnd = random.Random(20240601 + nshards)
    skeys = spread_keys(nshards, "pl", 8)          # string keys on every shard
    ckeys = spread_keys(nshards, "plc", 2)         # counters on every shard
    model = {}
    cmds, expect = [], []

    def bulk(v):
        return b"$-1\r\n" if v is None else b"$%d\r\n%s\r\n" % (len(v), v)

    for i in range(10000):
        op = rnd.random()
        if op < 0.30:
            k = rnd.choice(skeys)
            v = b"v%d-%s" % (i, k.encode())
            cmds.append(encode("SET", k, v))
            expect.append(b"+OK\r\n")
            model[k] = v
        elif op < 0.55:
            k = rnd.choice(skeys)
            cmds.append(encode("GET", k))
            expect.append(bulk(model.get(k)))
        elif op < 0.75:
            k = rnd.choice(ckeys)
            model[k] = model.get(k, 0) + 1
            cmds.append(encode("INCR", k))
            expect.append(b":%d\r\n" % model[k])
        elif op < 0.90:
            ks = rnd.sample(skeys, rnd.randint(1, min(6, len(skeys))))
            cmds.append(encode("MGET", *ks))
            expect.append(b"*%d\r\n" % len(ks) + b"".join(bulk(model.get(k)) for k in ks))
        else:
            ks = rnd.sample(skeys, rnd.randint(1, 3))
            n = sum(1 for k in ks if k in model)
            for k in ks:
                model.pop(k, None)
            cmds.append(encode("DEL", *ks))
            expect.append(b":%d\r\n" % n)
    data = b"".join(cmds)
    with server.raw(timeout=30) as c:
        t, errs = _send_in_thread(c, data)
        got = _parse_all(c, len(cmds))
        t.join(30)
        assert not errs, errs
        bad = [(i, expect[i], got[i]) for i in range(len(cmds)) if got[i] != expect[i]]
        assert not bad, (f"{len(bad)} of {len(cmds)} replies wrong; first: command #{bad[0][0]} "
                         f"{cmds[bad[0][0]][:80]!r}\n expected {bad[0][1][:200]!r}\n"
                         f" got      {bad[0][2][:200]!r}")
        assert c.cmd("PING") == b"+PONG\r\n"
    with server.client() as r:
        for k in skeys + ckeys:
            v = model.get(k)
            assert r.get(k) == (None if v is None else (v if isinstance(v, bytes)
                                                        else str(v).encode()))


def test_pipeline_fragmented_input(server, nshards):
    """Every command split at random points (including 1-byte writes) still parses."""
    rnd = random.Random(99)
    keys = spread_keys(nshards, "fr", 4)
    cmds, expect = [], []
    for i in range(600):
        k = keys[i % len(keys)]
        if i % 3 == 0:
            v = b"x" * rnd.randint(0, 300)
            cmds.append(encode("SET", k, v))
            expect.append(b"+OK\r\n")
            last = v
            cmds.append(encode("GET", k))
            expect.append(b"$%d\r\n%s\r\n" % (len(last), last))
        elif i % 3 == 1:
            cmds.append(b"PING\r\n")  # inline
            expect.append(b"+PONG\r\n")
        else:
            cmds.append(encode("ECHO", b"e\r\n%d" % i))
            expect.append(b"$%d\r\ne\r\n%d\r\n" % (len(b"e\r\n%d" % i), i))
    data = b"".join(cmds)
    chunks = []
    total = 0
    while total < len(data):
        n = rnd.choice((1, 1, 2, 3, 5, 7, 13, 64, 500))
        chunks.append(n)
        total += n
    with server.raw(timeout=30) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t, errs = _send_in_thread(c, data, chunks)
        got = _parse_all(c, len(expect))
        t.join(30)
        assert not errs
        for i, (g, e) in enumerate(zip(got, expect)):
            assert g == e, f"reply #{i}: expected {e[:100]!r} got {g[:100]!r}"


def test_big_replies_stay_in_order(server, nshards):
    """Large values from every shard, pipelined with small local replies, come back whole and
    in order; the client first lets replies pile up in the server, then reads."""
    keys = spread_keys(nshards, "bg", 2)
    vals = {k: (k.encode() * 50000)[:200000 + i] for i, k in enumerate(keys)}
    with server.client() as r:
        r.mset(vals)
    rnd = random.Random(5)
    cmds, expect = [], []
    for i in range(120):
        k = rnd.choice(keys)
        cmds.append(encode("GET", k))
        expect.append(b"$%d\r\n%s\r\n" % (len(vals[k]), vals[k]))
        cmds.append(encode("ECHO", str(i)))
        expect.append(b"$%d\r\n%d\r\n" % (len(str(i)), i))
    with server.raw(timeout=60) as c:
        t, errs = _send_in_thread(c, b"".join(cmds))
        t.join(5)  # the server may stop reading while its output is unread: that is fine
        for i, e in enumerate(expect):
            g = c.read_reply()
            assert g == e, f"reply #{i} wrong ({len(g)} bytes, expected {len(e)})"
        t.join(30)
        assert not errs


# ---------------------------------------------------------------------------- concurrency

@pytest.mark.slow
def test_many_clients_incr_exact(server, nshards):
    nthreads, rounds, batch = 50, 20, 10
    counters = spread_keys(nshards, "cnt", max(2, 16 // nshards))
    errors = []
    barrier = threading.Barrier(nthreads)

    def worker(tid):
        try:
            with server.client() as c:
                barrier.wait(30)
                for rd in range(rounds):
                    p = c.pipeline(transaction=False)
                    for j in range(batch):
                        p.incr(counters[(tid + rd * batch + j) % len(counters)])
                        p.incrby("total", 2)
                    res = p.execute()
                    assert all(isinstance(x, int) and x > 0 for x in res), res
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    expected = {k: 0 for k in counters}
    for tid in range(nthreads):
        for rd in range(rounds):
            for j in range(batch):
                expected[counters[(tid + rd * batch + j) % len(counters)]] += 1
    with server.client() as r:
        got = dict(zip(counters, (int(x) for x in r.mget(counters))))
        assert got == expected
        assert int(r.get("total")) == 2 * nthreads * rounds * batch


def test_clients_vanishing_with_forwards_in_flight(server, nshards):
    """Clients that send cross-shard work and close at once: late replies are dropped, the
    server and other clients carry on."""
    keys = spread_keys(nshards, "vn", 8)
    with server.client() as r:
        r.mset({k: "v" * 100 for k in keys})
    payload = b"".join(encode("GET", k) + encode("MGET", *keys) + encode("INCR", "vn-c")
                       for k in keys) * 10
    with server.raw() as watcher:
        for _ in range(30):
            c = RawConn(server.host, server.port)
            c.send(payload)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()  # RST with replies pending
            assert watcher.cmd("PING") == b"+PONG\r\n"
        # the INCRs that were executed are consistent; the keys are untouched
        assert decode(watcher.cmd("MGET", *keys)) == [b"v" * 100] * len(keys)
        n = decode(watcher.cmd("GET", "vn-c"))
        assert n is None or int(n) <= 30 * 10 * len(keys)


def test_concurrent_clients_on_every_shard_see_each_others_writes(server, nshards):
    conns = [server.raw() for _ in range(3 * nshards)]
    keys = spread_keys(nshards, "vis", 3)
    try:
        for i, k in enumerate(keys):
            w = conns[i % len(conns)]
            assert w.cmd("SET", k, f"w{i}") == b"+OK\r\n"
            for c in conns:
                assert c.cmd("GET", k) == b"$%d\r\nw%d\r\n" % (len(f"w{i}"), i)
    finally:
        for c in conns:
            c.close()


# ---------------------------------------------------------------------------- volume

def test_huge_multikey_commands(server, nshards):
    """One MSET/MGET/EXISTS/DEL with tens of thousands of keys split over every shard."""
    n = 20000
    keys = [f"hk{i}" for i in range(n)]
    with server.raw(timeout=60) as c:
        args = ["MSET"]
        for i, k in enumerate(keys):
            args += [k, str(i)]
        assert c.cmd(*args) == b"+OK\r\n"
        assert c.call("DBSIZE") == n
        got = c.call("MGET", *keys, "absent")
        assert got[:-1] == [str(i).encode() for i in range(n)] and got[-1] is None
        assert c.call("EXISTS", *keys) == n
        assert len(c.call("KEYS", "hk*")) == n
        assert c.call("DEL", *keys[::2]) == n // 2
        assert c.call("UNLINK", *keys) == n - n // 2
        assert c.call("DBSIZE") == 0


@pytest.mark.slow
def test_table_growth_and_shrink(server, nshards):
    """200k keys over the shards (tables grow while written), checked, half deleted while
    more are added, checked again."""
    n = 200000
    with server.raw(timeout=120) as c:
        def pipeline(cmds):
            t, errs = _send_in_thread(c, b"".join(cmds))
            out = [c.read_reply() for _ in cmds]
            t.join(60)
            assert not errs
            return out

        out = pipeline([encode("SET", f"g{i}", i) for i in range(n)])
        assert out == [b"+OK\r\n"] * n
        assert c.call("DBSIZE") == n
        # delete even keys while adding new ones (deletion during growth)
        cmds = []
        for i in range(0, n, 2):
            cmds.append(encode("DEL", f"g{i}"))
            cmds.append(encode("SET", f"n{i}", i))
        out = pipeline(cmds)
        assert out == [b":1\r\n", b"+OK\r\n"] * (n // 2)
        assert c.call("DBSIZE") == n
        step = 997
        probe = [f"g{i}" for i in range(0, n, step)] + [f"n{i}" for i in range(0, n, 2 * step)]
        got = c.call("MGET", *probe)
        exp = [None if i % 2 == 0 else str(i).encode() for i in range(0, n, step)] + \
              [str(i).encode() for i in range(0, n, 2 * step)]
        assert got == exp
        cursor, seen = b"0", set()
        while True:
            cursor, ks = c.call("SCAN", cursor, "COUNT", "5000")
            seen.update(ks)
            if cursor == b"0":
                break
        assert len(seen) == n


@pytest.mark.slow
def test_parallel_cross_shard_pipelines(server, nshards):
    """Many connections pipelining multi-shard MSET/MGET at once (rings fill up, backlogs
    spill): every connection reads its own writes, in order."""
    nconn, per = 16, 1500
    errors = []

    def worker(w):
        try:
            keys = spread_keys(nshards, f"w{w}-", 2)
            cmds, expect, model = [], [], {}
            rnd = random.Random(w)
            for i in range(per):
                ks = rnd.sample(keys, min(len(keys), rnd.randint(2, 6)))
                if rnd.random() < 0.5:
                    args = []
                    for k in ks:
                        model[k] = b"%d:%d" % (w, i)
                        args += [k, model[k]]
                    cmds.append(encode("MSET", *args))
                    expect.append(b"+OK\r\n")
                else:
                    cmds.append(encode("MGET", *ks))
                    expect.append(b"*%d\r\n" % len(ks) + b"".join(
                        b"$-1\r\n" if k not in model else
                        b"$%d\r\n%s\r\n" % (len(model[k]), model[k]) for k in ks))
            with RawConn(server.host, server.port, timeout=60) as c:
                t, errs = _send_in_thread(c, b"".join(cmds))
                for i, e in enumerate(expect):
                    g = c.read_reply()
                    if g != e:
                        errors.append(f"conn {w} reply #{i}: expected {e[:80]!r} got {g[:80]!r}")
                        return
                t.join(60)
                if errs:
                    errors.append(repr(errs))
        except Exception as e:
            errors.append(f"conn {w}: {e!r}")

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(nconn)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]


def test_big_value_replies_not_changed_by_later_writes(server, nshards):
    """A GET reply of a big value (possibly sent zero-copy from a shared block) carries the
    value as it was when the GET ran, whatever later pipelined writes do to the key."""
    keys = spread_keys(nshards, "zc", 1)
    rnd = random.Random(3)
    cmds, expect = [], []
    model = {}

    def bulk(v):
        return b"$-1\r\n" if v is None else b"$%d\r\n%s\r\n" % (len(v), v)

    for i in range(400):
        k = rnd.choice(keys)
        op = rnd.randrange(6)
        if op == 0:
            v = bytes([65 + i % 26]) * rnd.choice((100, 5000, 70000, 300000))
            cmds.append(encode("SET", k, v))
            expect.append(b"+OK\r\n")
            model[k] = v
        elif op == 1 and k in model:
            cmds.append(encode("APPEND", k, b"+%d" % i))
            model[k] += b"+%d" % i
            expect.append(b":%d\r\n" % len(model[k]))
        elif op == 2 and k in model:
            off = rnd.randrange(len(model[k]))
            cmds.append(encode("SETRANGE", k, off, b"#%d#" % i))
            v = bytearray(model[k])
            patch = b"#%d#" % i
            if off + len(patch) > len(v):
                v.extend(b"\x00" * (off + len(patch) - len(v)))
            v[off:off + len(patch)] = patch
            model[k] = bytes(v)
            expect.append(b":%d\r\n" % len(model[k]))
        elif op == 3:
            cmds.append(encode("DEL", k))
            expect.append(b":%d\r\n" % (1 if k in model else 0))
            model.pop(k, None)
        else:
            cmds.append(encode("GET", k))
            expect.append(bulk(model.get(k)))
    with server.raw(timeout=60) as c:
        t, errs = _send_in_thread(c, b"".join(cmds))
        t.join(5)  # let replies pile up unread in the server (bounded)
        for i, e in enumerate(expect):
            g = c.read_reply()
            assert g == e, (f"reply #{i} to {cmds[i][:40]!r}: expected {len(e)} bytes "
                            f"{e[:60]!r}..., got {len(g)} bytes {g[:60]!r}...")
        t.join(30)
        assert not errs


def test_client_closing_during_big_reply(server, nshards):
    keys = spread_keys(nshards, "cb", 1)
    with server.client() as r:
        r.mset({k: b"z" * (1 << 20) for k in keys})
    for _ in range(3):
        c = RawConn(server.host, server.port)
        c.send(b"".join(encode("GET", k) for k in keys) * 3)
        c.read_exact_bytes(1000)  # the reply has started
        c.close()
    with server.client() as r:
        assert r.ping() is True
        assert r.strlen(keys[-1]) == 1 << 20


# ---------------------------------------------------------------------------- races

def _race(server, cmd_a, cmd_b, trials, setup, check):
    """Send cmd_a and cmd_b from two connections at (nearly) the same moment, `trials`
    times; check(reply_a, reply_b) after each trial returns an error text or None."""
    ca, cb = server.raw(), server.raw()
    ctl = server.raw()
    problems = []
    try:
        for t in range(trials):
            setup(ctl)
            barrier = threading.Barrier(2)
            out = {}

            def run(name, conn, cmd):
                barrier.wait(10)
                out[name] = conn.cmd(*cmd)

            ta = threading.Thread(target=run, args=("a", ca, cmd_a))
            tb = threading.Thread(target=run, args=("b", cb, cmd_b))
            ta.start()
            tb.start()
            ta.join(30)
            tb.join(30)
            err = check(ctl, out.get("a"), out.get("b"))
            if err:
                problems.append(f"trial {t}: {err}")
                if len(problems) >= 3:
                    break
    finally:
        for c in (ca, cb, ctl):
            c.close()
    return problems


def test_race_msetnx_against_setnx(server, nshards):
    """Whatever the interleaving, MSETNX sets all of its keys or none of them."""
    keys = [ks[0] for ks in keys_per_shard(nshards, "rm")]
    victim = keys[len(keys) // 2]
    args = ["MSETNX"] + [x for k in keys for x in (k, "A")]

    def setup(ctl):
        assert ctl.cmd("DEL", *keys)[:1] == b":"

    def check(ctl, ra, rb):
        vals = decode(ctl.cmd("MGET", *keys))
        others = [v for k, v in zip(keys, vals) if k != victim]
        if ra == b":1\r\n":
            if any(v != b"A" for v in others):
                return f"MSETNX returned 1 but keys hold {vals}"
        elif ra == b":0\r\n":
            if any(v is not None for v in others):
                return f"MSETNX returned 0 but set some keys: {vals}"
        else:
            return f"MSETNX replied {ra!r}"
        if rb not in (b":0\r\n", b":1\r\n"):
            return f"SETNX replied {rb!r}"
        return None

    problems = _race(server, args, ("SETNX", victim, "B"), 150, setup, check)
    assert not problems, "\n".join(problems)


def test_race_rename_against_del(server, nshards):
    """A cross-shard RENAME racing a DEL of its source never loses or duplicates the value."""
    src, dst = two_keys_on_different_shards(nshards, "rr")

    def setup(ctl):
        ctl.cmd("DEL", dst)
        assert ctl.cmd("SET", src, "payload") == b"+OK\r\n"

    def check(ctl, ra, rb):
        s_exists = decode(ctl.cmd("EXISTS", src))
        d_val = decode(ctl.cmd("GET", dst))
        if s_exists:
            return f"source survived both RENAME ({ra!r}) and DEL ({rb!r})"
        if ra == b"+OK\r\n" and d_val != b"payload":
            return f"RENAME said OK but destination holds {d_val!r} (DEL said {rb!r})"
        if ra == b"-ERR no such key\r\n" and (d_val is not None or rb != b":1\r\n"):
            return f"RENAME failed but destination={d_val!r}, DEL={rb!r}"
        if ra not in (b"+OK\r\n", b"-ERR no such key\r\n"):
            return f"RENAME replied {ra!r}"
        return None

    problems = _race(server, ("RENAME", src, dst), ("DEL", src), 150, setup, check)
    assert not problems, "\n".join(problems)


def test_race_copy_against_set(server, nshards):
    """COPY racing a SET of its source copies one whole value, the old or the new."""
    src, dst = two_keys_on_different_shards(nshards, "rc")
    old, new = b"o" * 3000, b"n" * 5000

    def setup(ctl):
        ctl.cmd("DEL", dst)
        assert ctl.cmd("SET", src, old) == b"+OK\r\n"

    def check(ctl, ra, rb):
        if ra != b":1\r\n" or rb != b"+OK\r\n":
            return f"COPY {ra!r} SET {rb!r}"
        d = decode(ctl.cmd("GET", dst))
        if d not in (old, new):
            return f"destination holds a torn value of {len(d or b'')} bytes"
        return None

    problems = _race(server, ("COPY", src, dst), ("SET", src, new), 100, setup, check)
    assert not problems, "\n".join(problems)
