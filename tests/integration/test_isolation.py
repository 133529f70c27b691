"""Isolation across shards under concurrency (issue 3): transfers between counters on different
shards against readers that must always see the same total; groups written together against
readers that must see one value across the group; MSETNX as a lock; the WATCH check-and-set
loop; random transactions over every shard that must all finish; read-your-writes of pipelined
commands while other clients hold locks on the same keys.

Every client is a thread with its own connection and a socket timeout, so a hang fails the
test instead of hanging the run. Each test stops after a bounded time (a few seconds) or when
it has done enough work, whichever comes first, and then checks that it did enough."""
import random
import socket
import threading
import time
import traceback

import pytest
import redis

from helpers import (RawConn, decode, encode, keys_per_shard, spread_keys,
                     two_keys_on_different_shards)

# A worker that does not answer within this many seconds is reported as hung.
JOIN_TIMEOUT = 20.0


class Workers:
    """Threads, each with its own redis-py client, run until stop is set. The first error
    stops everyone."""

    def __init__(self, server, socket_timeout=10.0):
        self.server = server
        self.socket_timeout = socket_timeout
        self.stop = threading.Event()
        self.errors = []
        self.threads = []
        self.lock = threading.Lock()

    def fail(self, msg):
        with self.lock:
            self.errors.append(msg)
        self.stop.set()

    def spawn(self, fn, *args, name=None):
        def run():
            try:
                with self.server.client(socket_timeout=self.socket_timeout,
                                        socket_connect_timeout=self.socket_timeout) as c:
                    fn(c, *args)
            except Exception:
                self.fail(f"{name or fn.__name__}{args}: {traceback.format_exc(limit=4)}")

        t = threading.Thread(target=run, name=name or fn.__name__, daemon=True)
        self.threads.append(t)
        t.start()
        return t

    def run(self, enough, limit):
        """Wait until enough() holds, an error happens, or `limit` seconds pass; then stop
        the workers and wait for them. Returns the elapsed time."""
        t0 = time.monotonic()
        while not self.stop.is_set() and time.monotonic() - t0 < limit and not enough():
            self.stop.wait(0.02)
        self.stop.set()
        self.join()
        return time.monotonic() - t0

    def join(self):
        deadline = time.monotonic() + JOIN_TIMEOUT
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        hung = [t.name for t in self.threads if t.is_alive()]
        assert not hung, f"workers still running {JOIN_TIMEOUT}s after stop: {hung}"
        assert not self.errors, f"{len(self.errors)} worker errors; first:\n{self.errors[0]}"


class Counter:
    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def add(self, k=1):
        with self.lock:
            self.n += k


def _other_shard_key(rnd, keys, a, nshards, shard):
    """A key of `keys` other than a, on another shard than a when there is more than one."""
    while True:
        b = rnd.choice(keys)
        if b != a and (nshards == 1 or shard[b] != shard[a]):
            return b


# ============================================================================ transfers

@pytest.mark.slow
def test_transfers_keep_the_total(server, nshards):
    counters = spread_keys(nshards, "acct", max(1, 8 // nshards))
    shard = {k: i % nshards for i, k in enumerate(counters)}
    initial = 1000
    total = initial * len(counters)
    with server.client() as r:
        r.mset({k: initial for k in counters})
    w = Workers(server)
    reads, transfers = Counter(), Counter()
    deltas = []  # per writer: {key: net change}

    def writer(c, seed):
        rnd = random.Random(seed)
        mine = {k: 0 for k in counters}
        deltas.append(mine)
        while not w.stop.is_set():
            a = rnd.choice(counters)
            b = _other_shard_key(rnd, counters, a, nshards, shard)
            n = rnd.randint(1, 50)
            p = c.pipeline(transaction=True)
            if seed % 2 == 0:  # two legs
                p.decrby(a, n)
                p.incrby(b, n)
                res = p.execute()
                assert len(res) == 2 and all(isinstance(x, int) for x in res), res
                mine[a] -= n
                mine[b] += n
            else:  # three legs over (up to) three shards
                cc = _other_shard_key(rnd, counters, b, nshards, shard)
                p.decrby(a, 2 * n)
                p.incrby(b, n)
                p.incrby(cc, n)
                res = p.execute()
                assert len(res) == 3 and all(isinstance(x, int) for x in res), res
                mine[a] -= 2 * n
                mine[b] += n
                mine[cc] += n
            transfers.add()

    def mget_reader(c):
        while not w.stop.is_set():
            vals = c.mget(counters)
            s = sum(int(v) for v in vals)
            if s != total:
                w.fail(f"MGET saw a total of {s}, not {total}: {dict(zip(counters, vals))}")
                return
            reads.add()

    def multi_reader(c):
        while not w.stop.is_set():
            p = c.pipeline(transaction=True)
            for k in counters:
                p.get(k)
            vals = p.execute()
            s = sum(int(v) for v in vals)
            if s != total:
                w.fail(f"MULTI/GET.../EXEC saw a total of {s}, not {total}")
                return
            reads.add()

    for i in range(4):
        w.spawn(writer, i)
    for _ in range(2):
        w.spawn(mget_reader)
    w.spawn(multi_reader)
    w.run(lambda: reads.n >= 4000 and transfers.n >= 1500, limit=6.0)
    assert reads.n >= 1500 and transfers.n >= 500, \
        f"too little done in the time: {reads.n} reads, {transfers.n} transfers"
    with server.client() as r:
        got = dict(zip(counters, (int(v) for v in r.mget(counters))))
    want = {k: initial + sum(d[k] for d in deltas) for k in counters}
    assert got == want, "final counters differ from the committed transfers"
    assert sum(got.values()) == total


# ============================================================================ groups

@pytest.mark.slow
def test_group_writes_seen_whole(server, nshards):
    group = spread_keys(nshards, "grp", max(1, 8 // nshards))
    w = Workers(server)
    reads, writes = Counter(), Counter()

    def writer(c, wid):
        i = 0
        while not w.stop.is_set():
            i += 1
            v = f"w{wid}:{i}"
            if wid == 0:
                assert c.mset({k: v for k in group}) is True
            elif wid == 1:
                p = c.pipeline(transaction=True)
                for k in group:
                    p.set(k, v)
                assert p.execute() == [True] * len(group)
            else:  # whole group written, then deleted by one cross-shard DEL
                assert c.mset({k: v for k in group}) is True
                if i % 2 == 0:
                    assert c.delete(*group) in range(0, len(group) + 1)
            writes.add()

    def check(vals, last):
        if len(set(vals)) != 1:
            return f"a read saw a mix of values over the group: {dict(zip(group, vals))}"
        v = vals[0]
        if v is None:
            return None
        wid, i = v.decode().split(":")
        if int(i) < last.get(wid, 0):
            return f"a read saw writer {wid}'s write {i} after its write {last[wid]}"
        last[wid] = int(i)
        return None

    def reader(c, mode):
        last = {}
        while not w.stop.is_set():
            if mode == "mget":
                vals = c.mget(group)
            else:
                p = c.pipeline(transaction=True)
                for k in group:
                    p.get(k)
                vals = p.execute()
            err = check(vals, last)
            if err:
                w.fail(err)
                return
            reads.add()

    for wid in range(3):
        w.spawn(writer, wid)
    w.spawn(reader, "mget")
    w.spawn(reader, "mget")
    w.spawn(reader, "multi")
    w.run(lambda: reads.n >= 4000 and writes.n >= 1500, limit=6.0)
    assert reads.n >= 1500 and writes.n >= 500, f"{reads.n} reads, {writes.n} writes"
    with server.client() as r:
        assert len(set(r.mget(group))) == 1


@pytest.mark.slow
def test_rename_moves_one_token_between_shards(server, nshards):
    """A single value moved around by cross-shard RENAME and by MULTI COPY+DEL: every read
    finds it in exactly one place."""
    keys = spread_keys(nshards, "tok", max(2, 8 // nshards))
    with server.client() as r:
        r.set(keys[0], "token")
    w = Workers(server)
    reads, moves = Counter(), Counter()

    def mover(c, seed):
        rnd = random.Random(seed)
        while not w.stop.is_set():
            src, dst = rnd.sample(keys, 2)
            if seed % 2 == 0:
                try:
                    assert c.rename(src, dst) is True
                    moves.add()
                except redis.ResponseError as e:
                    assert str(e) == "no such key", e
            else:
                p = c.pipeline(transaction=True)
                p.copy(src, dst)
                p.delete(src)
                res = p.execute()
                assert res in ([True, 1], [False, 0]), res
                if res[0]:
                    moves.add()

    def reader(c):
        while not w.stop.is_set():
            vals = c.mget(keys)
            held = [k for k, v in zip(keys, vals) if v is not None]
            if len(held) != 1 or vals[keys.index(held[0])] != b"token":
                w.fail(f"the token is in {len(held)} places: {dict(zip(keys, vals))}")
                return
            n = c.exists(*keys)
            if n != 1:
                w.fail(f"EXISTS over the keys counted {n}")
                return
            reads.add()

    for i in range(4):
        w.spawn(mover, i)
    for _ in range(2):
        w.spawn(reader)
    w.run(lambda: reads.n >= 1500 and moves.n >= 800, limit=6.0)
    assert reads.n >= 800 and moves.n >= 300, f"{reads.n} reads, {moves.n} moves"
    with server.client() as r:
        assert r.exists(*keys) == 1


# ============================================================================ MSETNX lock

def test_msetnx_as_a_lock(server, nshards):
    keys = spread_keys(nshards, "lk", max(1, 4 // nshards))
    nclients, rounds = 10, 100
    start = threading.Barrier(nclients + 1, timeout=15)
    done = threading.Barrier(nclients + 1, timeout=15)
    results = [[None] * nclients for _ in range(rounds)]
    intruder = [None] * rounds
    w = Workers(server)

    def contender(c, cid):
        for rd in range(rounds):
            start.wait()
            if cid == 0 and rd % 2 == 1:
                # a plain SETNX of one of the keys races the MSETNXs
                intruder[rd] = c.setnx(keys[rd % len(keys)], "intruder")
            else:
                results[rd][cid] = c.msetnx({k: f"c{cid}" for k in keys})
            done.wait()

    for cid in range(nclients):
        w.spawn(contender, cid)
    problems = []
    with server.client() as r:
        try:
            for rd in range(rounds):
                start.wait()
                done.wait()
                vals = r.mget(keys)
                winners = [cid for cid, ok in enumerate(results[rd]) if ok]
                if intruder[rd]:
                    want = [b"intruder" if k == keys[rd % len(keys)] else None for k in keys]
                    if winners or vals != want:
                        problems.append(f"round {rd}: SETNX won, MSETNX winners {winners}, "
                                        f"keys {vals}")
                elif len(winners) != 1:
                    problems.append(f"round {rd}: {len(winners)} MSETNX winners; keys {vals}")
                elif vals != [f"c{winners[0]}".encode()] * len(keys):
                    problems.append(f"round {rd}: winner c{winners[0]} but keys hold {vals}")
                r.delete(*keys)
        except threading.BrokenBarrierError:
            problems.append("a contender did not reach the barrier (error or hang)")
    w.stop.set()
    w.join()
    assert not problems, "\n".join(problems[:5])


# ============================================================================ WATCH CAS

def test_watch_check_and_set_loop_exact(server, nshards):
    """The retry loop of the Redis documentation: WATCH k; v = GET k; MULTI; SET k v+1;
    EXEC; start again if EXEC returned null."""
    key = keys_per_shard(nshards, "cas")[nshards - 1][0]
    nthreads, per = 8, 40
    w = Workers(server)
    aborts = Counter()

    def incrementer(c):
        with c.pipeline() as p:
            for _ in range(per):
                while True:
                    try:
                        p.watch(key)
                        v = int(p.get(key) or 0)
                        p.multi()
                        p.set(key, v + 1)
                        assert p.execute() == [True]
                        break
                    except redis.WatchError:
                        aborts.add()

    for _ in range(nthreads):
        w.spawn(incrementer)
    w.join()
    with server.client() as r:
        assert int(r.get(key)) == nthreads * per, f"{aborts.n} aborts"


@pytest.mark.slow
def test_watch_check_and_set_two_keys_on_different_shards(server, nshards):
    """WATCH a counter and a second key on another shard, write both. A disturber changes the
    second key with plain INCRs: a transaction that read it before such a change must abort,
    or the disturber's increment would be lost."""
    k, j = two_keys_on_different_shards(nshards, "cas2")
    nthreads, per = 6, 30
    w = Workers(server)
    disturb = Counter()
    finished = Counter()

    def incrementer(c):
        with c.pipeline() as p:
            for _ in range(per):
                while True:
                    try:
                        p.watch(k, j)
                        a, b = p.mget(k, j)
                        p.multi()
                        p.set(k, int(a or 0) + 1)
                        p.set(j, int(b or 0) + 1)
                        assert p.execute() == [True, True]
                        break
                    except redis.WatchError:
                        pass
        finished.add()

    def disturber(c):
        # rate-limited and bounded, so that the incrementers cannot be starved
        while finished.n < nthreads and disturb.n < 400 and not w.stop.is_set():
            c.incr(j)
            disturb.add()
            w.stop.wait(0.002)

    for _ in range(nthreads):
        w.spawn(incrementer)
    w.spawn(disturber)
    w.run(lambda: finished.n == nthreads, limit=20)
    assert finished.n == nthreads
    with server.client() as r:
        a, b = r.mget(k, j)
    assert int(a) == nthreads * per
    assert int(b) == nthreads * per + disturb.n, \
        f"{j} lost {nthreads * per + disturb.n - int(b)} increments"


# ============================================================================ no deadlock

@pytest.mark.slow
def test_random_transactions_all_finish(server, nshards):
    data = spread_keys(nshards, "d", max(2, 12 // nshards))
    counters = spread_keys(nshards, "c", max(1, 8 // nshards))
    w = Workers(server, socket_timeout=8.0)
    committed_incrs, txns, aborted = Counter(), Counter(), Counter()

    def random_ops(rnd, p):
        """Queue 1..8 random commands on p; returns how many INCRs of counters."""
        incrs = 0
        for _ in range(rnd.randint(1, 8)):
            op = rnd.randrange(12)
            if op <= 2:
                p.incr(rnd.choice(counters))
                incrs += 1
            elif op == 3:
                p.set(rnd.choice(data), rnd.randrange(1000))
            elif op == 4:
                p.get(rnd.choice(data))
            elif op == 5:
                p.delete(*rnd.sample(data, rnd.randint(1, 3)))
            elif op == 6:
                p.mset({k: rnd.randrange(1000) for k in rnd.sample(data, rnd.randint(2, 4))})
            elif op == 7:
                p.mget(rnd.sample(data + counters, rnd.randint(2, 6)))
            elif op == 8:
                p.rename(*rnd.sample(data, 2))
            elif op == 9:
                p.copy(*rnd.sample(data, 2), replace=rnd.random() < 0.5)
            elif op == 10:
                p.msetnx({k: "nx" for k in rnd.sample(data, rnd.randint(2, 3))})
            else:
                p.exists(*rnd.sample(data + counters, rnd.randint(1, 5)))
        return incrs

    def check_results(res):
        for x in res:
            if isinstance(x, Exception) and str(x) != "no such key":
                raise AssertionError(f"unexpected error in a transaction: {x!r}")

    def worker(c, seed):
        rnd = random.Random(seed)
        while not w.stop.is_set():
            kind = rnd.random()
            if kind < 0.55:  # a transaction, sometimes with WATCH
                with c.pipeline(transaction=True) as p:
                    if rnd.random() < 0.3:
                        p.watch(*rnd.sample(data + counters, rnd.randint(1, 3)))
                        p.multi()
                    incrs = random_ops(rnd, p)
                    try:
                        res = p.execute(raise_on_error=False)
                    except redis.WatchError:
                        aborted.add()
                        continue
                    check_results(res)
                    committed_incrs.add(incrs)
                    txns.add()
            elif kind < 0.85:  # the same commands, pipelined without a transaction
                p = c.pipeline(transaction=False)
                incrs = random_ops(rnd, p)
                check_results(p.execute(raise_on_error=False))
                committed_incrs.add(incrs)
            else:  # single commands
                op = rnd.randrange(4)
                if op == 0:
                    c.incr(rnd.choice(counters))
                    committed_incrs.add()
                elif op == 1:
                    c.mget(data)
                elif op == 2:
                    c.mset({k: "m" for k in rnd.sample(data, 3)})
                else:
                    c.delete(*rnd.sample(data, 2))

    for i in range(10):
        w.spawn(worker, i)
    w.run(lambda: txns.n >= 3000, limit=5.0)
    assert txns.n >= 300, f"only {txns.n} transactions committed"
    with server.client() as r:
        total = sum(int(v or 0) for v in r.mget(counters))
        assert total == committed_incrs.n, \
            f"counters sum to {total}, {committed_incrs.n} increments were acknowledged"
        assert r.ping() is True


@pytest.mark.slow
def test_keyspace_wide_commands_in_transactions_finish(server, nshards):
    """FLUSHALL, DBSIZE, KEYS and SCAN (which touch every shard) inside transactions and
    outside, against cross-shard transactions writing pairs of keys: nothing hangs, and a
    pair written together is seen whole (both or neither) by a cross-shard MGET."""
    pairs = [two_keys_on_different_shards(nshards, f"p{i}-") for i in range(4)]
    w = Workers(server, socket_timeout=8.0)
    ops, reads = Counter(), Counter()

    def pair_writer(c, seed):
        rnd = random.Random(seed)
        i = 0
        while not w.stop.is_set():
            i += 1
            a, b = rnd.choice(pairs)
            p = c.pipeline(transaction=True)
            p.set(a, f"{seed}:{i}")
            p.set(b, f"{seed}:{i}")
            if rnd.random() < 0.3:
                p.dbsize()
            assert p.execute()[:2] == [True, True]
            ops.add()

    def flusher(c, seed):
        rnd = random.Random(seed)
        while not w.stop.is_set():
            op = rnd.randrange(6)
            if op == 0:
                assert c.flushall() is True
            elif op == 1:
                p = c.pipeline(transaction=True)
                p.dbsize()
                p.flushall()
                p.dbsize()
                res = p.execute()
                assert res[1] is True and res[2] == 0, res
            elif op == 2:
                p = c.pipeline(transaction=True)
                p.keys("*")
                p.dbsize()
                keys, n = p.execute()
                assert len(keys) == n, (keys, n)
            elif op == 3:
                c.scan(0, count=100)
            else:
                assert isinstance(c.dbsize(), int)
            ops.add()

    def reader(c):
        while not w.stop.is_set():
            for a, b in pairs:
                va, vb = c.mget(a, b)
                if va != vb:
                    w.fail(f"a pair was seen half written or half flushed: {a}={va} {b}={vb}")
                    return
            reads.add()

    for i in range(3):
        w.spawn(pair_writer, i)
    for i in range(2):
        w.spawn(flusher, 100 + i)
    w.spawn(reader)
    w.run(lambda: ops.n >= 3000 and reads.n >= 500, limit=4.0)
    assert ops.n >= 300 and reads.n >= 50, f"{ops.n} operations, {reads.n} reads"


# ============================================================================ pipelines

def test_pipelined_read_your_writes_across_shards(server, nshards):
    """A connection pipelines SET k / GET k (and MSET / MGET) over keys on every shard while
    other clients hold shared and exclusive locks on the same keys through transactions and
    cross-shard reads: every GET returns what the same connection wrote just before."""
    keys = spread_keys(nshards, "ryw", max(2, 8 // nshards))
    others = spread_keys(nshards, "ryo", 1)
    w = Workers(server)
    rounds = Counter()

    def locker(c, seed):
        rnd = random.Random(seed)
        while not w.stop.is_set():
            p = c.pipeline(transaction=True)
            for k in rnd.sample(keys, min(len(keys), 3)):
                p.get(k)
            p.incr(rnd.choice(others))
            p.execute()

    def mget_reader(c):
        while not w.stop.is_set():
            c.mget(keys)

    for i in range(3):
        w.spawn(locker, i)
    w.spawn(mget_reader)
    problems = []
    t0 = time.monotonic()
    try:
        with RawConn(server.host, server.port, timeout=10) as conn:
            rnd = random.Random(1)
            for rd in range(300):
                cmds, expect = [], []
                for i, k in enumerate(keys):
                    v = b"r%d-%d" % (rd, i)
                    cmds += [encode("SET", k, v), encode("GET", k)]
                    expect += [b"+OK\r\n", b"$%d\r\n%s\r\n" % (len(v), v)]
                sub = rnd.sample(keys, min(len(keys), 4))
                vals = [b"m%d-%s" % (rd, k.encode()) for k in sub]
                cmds.append(encode("MSET", *[x for kv in zip(sub, vals) for x in kv]))
                expect.append(b"+OK\r\n")
                for k, v in zip(sub, vals):
                    cmds.append(encode("GET", k))
                    expect.append(b"$%d\r\n%s\r\n" % (len(v), v))
                cmds.append(encode("MULTI"))
                cmds.append(encode("SET", sub[0], b"t%d" % rd))
                cmds.append(encode("EXEC"))
                cmds.append(encode("GET", sub[0]))
                cmds.append(encode("DEL", sub[-1]))
                cmds.append(encode("EXISTS", sub[-1]))
                expect += [b"+OK\r\n", b"+QUEUED\r\n", b"*1\r\n+OK\r\n",
                           b"$%d\r\nt%d\r\n" % (len(b"t%d" % rd), rd), b":1\r\n", b":0\r\n"]
                conn.send(b"".join(cmds))
                got = [conn.read_reply() for _ in expect]
                bad = [(i, e, g) for i, (e, g) in enumerate(zip(expect, got)) if e != g]
                if bad:
                    i, e, g = bad[0]
                    problems.append(f"round {rd}: reply #{i} to {cmds[i][:60]!r}: "
                                    f"expected {e!r}, got {g!r}")
                    break
                rounds.add()
                if time.monotonic() - t0 > 6:
                    break
    finally:
        w.stop.set()
        w.join()
    assert not problems, problems[0]
    assert rounds.n >= 10, f"only {rounds.n} rounds in the time"


# ============================================================================ vanishing

def test_clients_vanishing_around_transactions(server, nshards):
    """Clients that send a cross-shard transaction (whole, or without its EXEC, or after a
    WATCH) and reset the connection at once: a group written by the transaction stays
    whole, and nothing stays locked (other clients' commands on the same keys answer)."""
    group = spread_keys(nshards, "van", max(1, 8 // nshards))
    counters = spread_keys(nshards, "vc", 1)
    with server.client() as r:
        r.mset({k: "init" for k in group})
    linger = b"\x01\x00\x00\x00\x00\x00\x00\x00"
    with server.raw(timeout=10) as watcher:
        for i in range(60):
            v = b"t%d" % i
            body = [encode("MULTI"), encode("MSET", *[x for k in group for x in (k, v)])]
            body += [encode("INCR", k) for k in counters]
            body.append(encode("MGET", *group))
            kind = i % 3
            if kind == 0:
                data = b"".join(body) + encode("EXEC")
            elif kind == 1:
                data = b"".join(body)  # no EXEC: nothing may run
            else:
                data = encode("WATCH", *group) + b"".join(body) + encode("EXEC")
            c = RawConn(server.host, server.port)
            c.send(data)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            c.close()
            vals = decode(watcher.cmd("MGET", *group))
            assert len(set(vals)) == 1, f"iteration {i}: a group half written: {vals}"
            assert watcher.cmd("SET", group[i % len(group)] + ":probe", "p") == b"+OK\r\n"
            assert watcher.cmd("MSET", *[x for k in group for x in (k, vals[0])]) == b"+OK\r\n"
        vals = decode(watcher.cmd("MGET", *counters))
        n = [int(x or 0) for x in vals]
        assert len(set(n)) == 1 and n[0] <= 40, f"counters {n}: transactions ran in part"
