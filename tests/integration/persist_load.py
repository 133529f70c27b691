"""The load of the persistence tests: writer threads that remember every acknowledged write
(Writer, run_writers, check_writers) and a data set of every type, encoding and TTL
(fill_all_types)."""
import hashlib
import threading
import time
import warnings

from helpers import shard_of, wait_for
from persist_helpers import NET_ERRORS, keyspace, log_tail


# --------------------------------------------------------------------------------------------
# Writers that remember what was acknowledged
# --------------------------------------------------------------------------------------------

def keys_on_two_shards(prefix, nshards):
    """Two keys named prefix... on different shards (when nshards > 1)."""
    a = prefix + "a"
    i = 0
    while True:
        b = f"{prefix}b{i}"
        if nshards == 1 or shard_of(b, nshards) != shard_of(a, nshards):
            return a, b
        i += 1


class Writer:
    """One client's own sequence of writes, each sent after the previous reply:
    SET k:C:n, INCR cnt:C, RPUSH l:C, HSET h:C, ZADD z:C, MSET of two keys on different shards.
    The model holds what was acknowledged; `inflight` the one command sent whose reply never
    came (it may or may not have taken effect). n continues over rounds."""

    OPS = ("set", "incr", "rpush", "hset", "zadd", "mset")

    def __init__(self, cid, nshards):
        self.cid = cid
        self.n = 0
        self.strings = set()      # n of every acknowledged SET k:C:n v<n>
        self.counter = 0
        self.list = []
        self.hash = {}
        self.zset = {}
        self.mset = (None, None)  # acknowledged values of the MSET's two keys
        self.ma, self.mb = keys_on_two_shards(f"m:{cid}:", nshards)
        self.inflight = None
        self.acks = 0
        self.error = None

    def run(self, srv, stop):
        """Writes until stop is set or the connection breaks."""
        c = srv.client(socket_timeout=30)
        try:
            while not stop.is_set():
                n = self.n
                self.n += 1
                for op in self.OPS:
                    self.inflight = (op, n)
                    self._apply(op, n, self._send(c, op, n))
                    self.inflight = None
                    self.acks += 1
        except NET_ERRORS:
            pass  # the server went away: inflight stays set
        except Exception as e:  # noqa: BLE001 - an error reply or a wrong reply
            self.error = f"writer {self.cid}: {self.inflight}: {e!r}"
        finally:
            c.close()

    def _send(self, c, op, n):
        C = self.cid
        if op == "set":
            return c.set(f"k:{C}:{n}", f"v{n}")
        if op == "incr":
            return c.incr(f"cnt:{C}")
        if op == "rpush":
            return c.rpush(f"l:{C}", f"e{n}")
        if op == "hset":
            return c.hset(f"h:{C}", f"f{n}", str(n))
        if op == "zadd":
            return c.zadd(f"z:{C}", {f"m{n}": n})
        return c.mset({self.ma: str(n), self.mb: str(n)})

    def _expected(self, op):
        return {"set": True, "incr": self.counter + 1, "rpush": len(self.list) + 1,
                "hset": 1, "zadd": 1, "mset": True}[op]

    def _apply(self, op, n, reply):
        expect = self._expected(op)
        if reply != expect:
            raise AssertionError(f"{op} replied {reply!r}, expected {expect!r}")
        if op == "set":
            self.strings.add(n)
        elif op == "incr":
            self.counter += 1
        elif op == "rpush":
            self.list.append(f"e{n}".encode())
        elif op == "hset":
            self.hash[f"f{n}".encode()] = str(n).encode()
        elif op == "zadd":
            self.zset[f"m{n}".encode()] = float(n)
        else:
            self.mset = (n, n)

    def check(self, ks):
        """Problems of the keyspace ks (keyspace()) against the model; then takes the in-flight
        write into the model if it took effect, so the next round continues from the server's
        state. Returns (problems, notes)."""
        C = self.cid
        probs, notes = [], []
        op, n = self.inflight or (None, None)
        applied = False  # the in-flight write took effect

        def val(key, typ):
            e = ks.get(key.encode())
            if e is None:
                return None
            if e[0] != typ:
                probs.append(f"{key}: type {e[0]}, expected {typ}")
                return None
            return e[1]

        pre = f"k:{C}:".encode()
        have = {int(k[len(pre):]): e for k, e in ks.items() if k.startswith(pre)}
        lost = sorted(self.strings - set(have))
        if lost:
            probs.append(f"writer {C}: {len(lost)} acknowledged SETs lost, e.g. k:{C}:{lost[:5]}")
        for m, e in have.items():
            if e[:2] != ("string", f"v{m}".encode()):
                probs.append(f"k:{C}:{m} = {e!r}")
            elif m not in self.strings and (op, n) != ("set", m):
                probs.append(f"k:{C}:{m} present but never written")
        applied |= op == "set" and n in have

        cnt = val(f"cnt:{C}", "string")
        cnt = int(cnt) if cnt is not None else 0
        if op == "incr" and cnt == self.counter + 1:
            applied = True
        elif cnt != self.counter:
            probs.append(f"cnt:{C} = {cnt}, acknowledged {self.counter} (in flight {op})")

        lst = list(val(f"l:{C}", "list") or ())
        if op == "rpush" and lst == self.list + [f"e{n}".encode()]:
            applied = True
        elif lst != self.list:
            probs.append(f"l:{C}: len {len(lst)}, acknowledged {len(self.list)}; "
                         f"tail {lst[-3:]} vs {self.list[-3:]} (in flight {op} {n})")

        h = dict(val(f"h:{C}", "hash") or ())
        if op == "hset" and h == {**self.hash, f"f{n}".encode(): str(n).encode()}:
            applied = True
        elif h != self.hash:
            probs.append(f"h:{C}: {len(h)} fields, acknowledged {len(self.hash)}; missing "
                         f"{sorted(set(self.hash) - set(h))[:5]} extra "
                         f"{sorted(set(h) - set(self.hash))[:5]}")

        z = dict(val(f"z:{C}", "zset") or ())
        if op == "zadd" and z == {**self.zset, f"m{n}".encode(): float(n)}:
            applied = True
        elif z != self.zset:
            probs.append(f"z:{C}: {len(z)} members, acknowledged {len(self.zset)}")

        got = []
        for key, acked in ((self.ma, self.mset[0]), (self.mb, self.mset[1])):
            v = val(key, "string")
            v = None if v is None else int(v)
            if v != acked and not (op == "mset" and v == n):
                probs.append(f"{key} = {v!r}, acknowledged {acked} (in flight {op} {n})")
            got.append(v)
        if op == "mset" and got[0] != got[1] and n in got:
            notes.append(f"writer {C}: the unacknowledged MSET {self.ma} {self.mb} {n} is half "
                         f"applied after the restart: {got[0]!r} vs {got[1]!r}")

        if not probs:
            if op == "mset":
                self.mset = tuple(got)  # what the server holds, key by key
            elif applied:
                self._apply(op, n, self._expected(op))
        self.inflight = None
        return probs, notes


def run_writers(srv, writers, act, join_timeout=60.0):
    """Runs every writer in a thread of its own, calls act(stop) (which must end the writes:
    kill the server, shut it down, or set the stop event), then joins them."""
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(srv, stop), daemon=True) for w in writers]
    for t in threads:
        t.start()
    try:
        act(stop)
    finally:
        stop.set()
        for t in threads:
            t.join(join_timeout)
    stuck = [w.cid for w, t in zip(writers, threads) if t.is_alive()]
    assert not stuck, f"writers {stuck} still running {join_timeout}s after the end"
    errors = [w.error for w in writers if w.error]
    assert not errors, "writers saw wrong replies:\n" + "\n".join(errors[:10])


def check_writers(srv, writers, context, atomic=False):
    """Compares the server's keyspace with every writer's acknowledged writes. A cross-shard
    MSET found half applied is a problem when `atomic` (after a clean stop the server had
    every chance to finish it or not start it), else a warning (after SIGKILL the shards'
    logs may hold different prefixes: the contract promises nothing there)."""
    ks = keyspace(srv)
    probs, notes = [], []
    for w in writers:
        p, n = w.check(ks)
        probs += p
        notes += n
    if atomic:
        probs += notes
    for n in notes:
        warnings.warn(f"{context}: {n}")
    assert not probs, (f"{context}: {len(probs)} problems after the restart:\n"
                       + "\n".join(probs[:25]) + "\n" + log_tail(srv))
    return ks


def wait_acks(writers, n, timeout=30.0):
    """Until every writer has n acknowledged writes (or one stopped with an error)."""
    wait_for(lambda: all(w.acks >= n or w.error for w in writers), timeout,
             what=f"{n} acknowledged writes per writer")


# --------------------------------------------------------------------------------------------
# A data set of every type, encoding and TTL (Redis 7.0's encodings named per key)
# --------------------------------------------------------------------------------------------

def _noise(seed, n):
    """n bytes of hex that LZF cannot compress."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%s:%d" % (seed.encode(), i)).hexdigest().encode()
        i += 1
    return out[:n]


def fill_all_types(c, prefix="", ttl_base_ms=None):
    """Writes keys of every type in every Redis 7.0 encoding (strings int, embstr, raw,
    compressible; lists of one node and many; hashes listpack and hashtable; sets intset and
    hashtable of ints and strings; zsets listpack and skiplist) and sets absolute TTLs (hours
    ahead, millisecond precision) on some. Returns {key: Redis 7.0 OBJECT ENCODING}."""
    P = prefix
    now = ttl_base_ms or int(time.time() * 1000)
    enc = {}
    p = c.pipeline(transaction=False)

    def s(key, val, e):
        p.set(P + key, val)
        enc[P + key] = e
    s("str:int", "12345", "int")
    s("str:neg", "-42", "int")
    s("str:max", "9223372036854775807", "int")
    s("str:min", "-9223372036854775808", "int")
    s("str:zero-led", "007", "embstr")
    s("str:bigint", "123456789012345678901234567890", "embstr")
    s("str:float", "3.14", "embstr")
    s("str:empty", "", "embstr")
    s("str:embstr", "hello world", "embstr")
    s("str:raw", _noise("raw", 60), "raw")
    s("str:noise4k", _noise("n4k", 4000), "raw")
    s("str:compressible", b"abcd" * 2500, "raw")
    s("str:binary", bytes(range(256)) * 3, "raw")
    s("str:crlf", b"a\r\nb\x00c", "embstr")
    p.rpush(P + "list:small", "a", "b", "1", "2", "-3", "")
    enc[P + "list:small"] = "quicklist"
    p.rpush(P + "list:large", *[b"el%d:" % i + b"y" * (i % 120) for i in range(3000)])
    enc[P + "list:large"] = "quicklist"
    p.rpush(P + "list:bigel", "head", _noise("bigel", 20000), "tail")
    enc[P + "list:bigel"] = "quicklist"
    p.rpush(P + "list:ints", *range(-50, 50))
    enc[P + "list:ints"] = "quicklist"
    p.hset(P + "hash:small", mapping={"a": "1", "b": "two", "c": "", "n": "-7"})
    enc[P + "hash:small"] = "listpack"
    p.hset(P + "hash:large", mapping={f"field:{i}": f"value:{i}" for i in range(1000)})
    enc[P + "hash:large"] = "hashtable"
    p.hset(P + "hash:bigval", mapping={"x": "1", "y": _noise("hv", 100)})
    enc[P + "hash:bigval"] = "hashtable"
    p.sadd(P + "set:int", *range(1, 11))
    enc[P + "set:int"] = "intset"
    p.sadd(P + "set:int64", -(2 ** 63), 2 ** 63 - 1, 0, 70000, -70000, 2 ** 40)
    enc[P + "set:int64"] = "intset"
    p.sadd(P + "set:intlarge", *range(0, 2000, 2))
    enc[P + "set:intlarge"] = "hashtable"
    p.sadd(P + "set:small", "a", "b", "c")
    enc[P + "set:small"] = "hashtable"
    p.sadd(P + "set:large", *[f"member:{i}" for i in range(1000)])
    enc[P + "set:large"] = "hashtable"
    p.zadd(P + "zset:small", {"a": 1.5, "b": -2.25, "c": 0, "d": 1e20, "e": 3})
    enc[P + "zset:small"] = "listpack"
    p.zadd(P + "zset:inf", {"lo": float("-inf"), "hi": float("inf"), "mid": 0.1})
    enc[P + "zset:inf"] = "listpack"
    p.zadd(P + "zset:large", {f"m:{i}": i / 7 for i in range(1000)})
    enc[P + "zset:large"] = "skiplist"
    p.zadd(P + "zset:longmember", {"short": 1, _noise("zm", 100).decode(): 2})
    enc[P + "zset:longmember"] = "skiplist"
    ttl = {"str:int": 3_600_123, "str:raw": 7_200_456, "str:compressible": 86_400_789,
           "list:small": 3_600_001, "list:large": 5_000_002, "hash:small": 3_600_003,
           "hash:large": 3_600_004, "set:int": 3_600_005, "set:large": 3_600_006,
           "zset:small": 3_600_007, "zset:large": 864_000_008}
    for k, ms in ttl.items():
        p.pexpireat(P + k, now + ms)
    for r in p.execute():
        assert r not in (False, None), f"fill_all_types: a write failed: {r!r}"
    return enc
