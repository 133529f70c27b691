"""MULTI / EXEC / DISCARD / WATCH / UNWATCH / RESET, and the multi-key writes that must be
all-or-nothing across shards (MSETNX RENAME RENAMENX COPY), byte for byte against redis-server.

Most tests run a script in lockstep on corekv and on redis-server, over one or more connection
pairs (a pair: one connection to each server; step i of the script goes to the same connection
of each pair, in the same order on both servers). Every reply must be byte-identical; the steps
that carry the point of a test also name the reply they expect, which redis-server itself must
give (so a run of the suite against redis-server checks the test). Every test runs in RESP2 and
in RESP3 (HELLO 3), with keys placed on every shard."""
import pytest

from helpers import (ConnClosed, Err, decode, encode, fmt_pair, keys_per_shard, spread_keys,
                     two_keys_on_different_shards, wait_for)

pytestmark = pytest.mark.differential

EXECABORT = b"-EXECABORT Transaction discarded because of previous errors.\r\n"
NO_MULTI_EXEC = b"-ERR EXEC without MULTI\r\n"
NO_MULTI_DISCARD = b"-ERR DISCARD without MULTI\r\n"
NESTED = b"-ERR MULTI calls can not be nested\r\n"
WATCH_IN_MULTI = b"-ERR WATCH inside MULTI is not allowed\r\n"
OK = b"+OK\r\n"
QUEUED = b"+QUEUED\r\n"


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def differ(differ, request, server):
    """Every script of this module runs in RESP2 and in RESP3. (`server` is named so that
    pytest sees the shard-count parametrization through the override.)"""
    differ.proto = request.param
    return differ


def _show(args):
    out = []
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(repr(b[:40])[2:-1] + ("..." if len(b) > 40 else ""))
    return " ".join(out)


class Lockstep:
    """A script over `nconns` connection pairs, run step by step on both servers."""

    def __init__(self, differ, nconns=1):
        self.proto = differ.proto
        self.shards = differ.core.shards
        self.pairs = [differ.conns_pair() for _ in range(nconns)]
        self.log = []

    @property
    def null_array(self):
        """What EXEC answers when a watched key changed."""
        return b"*-1\r\n" if self.proto == 2 else b"_\r\n"

    @property
    def null(self):
        """A missing value (GET of an absent key)."""
        return b"$-1\r\n" if self.proto == 2 else b"_\r\n"

    def _history(self):
        return "\n".join(self.log[-12:])

    def __call__(self, i, *args, expect=None):
        """Run args on connection i of both servers; returns redis-server's reply."""
        core, ref = self.pairs[i]
        try:
            got = core.cmd(*args)
        except (ConnClosed, OSError) as e:  # a hang (socket timeout) or a closed connection
            got = f"<{e!r}>".encode()
        want = ref.cmd(*args)
        self.log.append(f"    c{i}: {_show(args)}  ->  {want[:100]!r}")
        if expect is not None and want != expect:
            pytest.fail(f"test bug: redis-server answered {want!r}, the test expects "
                        f"{expect!r}; steps so far:\n{self._history()}", pytrace=False)
        if got != want:
            pytest.fail(f"shards={self.shards} RESP{self.proto}: reply differs from "
                        f"redis-server at the last step of:\n{self._history()}\n"
                        + fmt_pair(want, got), pytrace=False)
        return want

    def each(self, i, fn):
        """fn(conn) on connection i of corekv, then of redis-server (waits, setup that
        depends on timing; replies are not compared)."""
        core, ref = self.pairs[i]
        return fn(core), fn(ref)

    def close_state(self, i):
        """('closed' or 'open') for connection i on each server, after a command that may
        close it."""
        out = []
        for c in self.pairs[i]:
            out.append("closed" if c.is_closed(timeout=2.0) else "open")
        return tuple(out)


def _now_ms(conn):
    sec, usec = decode(conn.cmd("TIME"))
    return int(sec) * 1000 + int(usec) // 1000


def _wait_past(conn, deadline_ms):
    """Wait until the server's clock is past deadline_ms, without touching any key."""
    wait_for(lambda: _now_ms(conn) > deadline_ms + 2, 5, what="server clock to pass deadline")


@pytest.fixture
def K(nshards):
    """Eight keys over every shard (the same names on both servers)."""
    return spread_keys(nshards, "m", max(1, 8 // nshards))


# ============================================================================ basics

def test_multi_exec_queues_and_answers_in_order(differ, K):
    s = Lockstep(differ, 2)
    a, b, c = K[0], K[1], K[2]
    s(0, "SET", c, "10")
    s(0, "MULTI", expect=OK)
    s(0, "SET", a, "va", expect=QUEUED)
    s(0, "GET", a, expect=QUEUED)
    s(0, "INCR", c, expect=QUEUED)
    s(0, "INCRBY", c, "5", expect=QUEUED)
    s(0, "GET", "absent", expect=QUEUED)
    s(0, "APPEND", b, "xy", expect=QUEUED)
    s(0, "PING", expect=QUEUED)
    s(0, "ECHO", "hi", expect=QUEUED)
    s(0, "EXISTS", a, b, c, "absent", expect=QUEUED)
    # nothing has run yet: another client sees the old state
    s(1, "MGET", a, b, c)
    s(0, "EXEC", expect=b"*9\r\n+OK\r\n$2\r\nva\r\n:11\r\n:16\r\n" + s.null +
      b":2\r\n+PONG\r\n$2\r\nhi\r\n:3\r\n")
    s(1, "MGET", a, b, c, expect=b"*3\r\n$2\r\nva\r\n$2\r\nxy\r\n$2\r\n16\r\n")
    # the connection is out of MULTI again
    s(0, "GET", a, expect=b"$2\r\nva\r\n")
    s(0, "EXEC", expect=NO_MULTI_EXEC)


def test_empty_transaction(differ):
    s = Lockstep(differ)
    s(0, "MULTI", expect=OK)
    s(0, "EXEC", expect=b"*0\r\n")
    s(0, "MULTI", expect=OK)
    s(0, "EXEC", expect=b"*0\r\n")
    s(0, "PING", expect=b"+PONG\r\n")


def test_read_your_writes_inside_multi_on_every_shard(differ, K):
    s = Lockstep(differ)
    s(0, "MULTI")
    for i, k in enumerate(K):
        s(0, "SET", k, f"v{i}", expect=QUEUED)
        s(0, "GET", k)
        s(0, "APPEND", k, "+")
        s(0, "GET", k)
        s(0, "INCR", f"{k}:n")
        s(0, "INCR", f"{k}:n")
        s(0, "GET", f"{k}:n")
    for k in K[::2]:
        s(0, "DEL", k)
        s(0, "GET", k)
        s(0, "EXISTS", k)
    s(0, "MGET", *K)
    rep = s(0, "EXEC")
    vals = decode(rep)
    assert len(vals) == 7 * len(K) + 3 * len(K[::2]) + 1
    assert vals[1] == b"v0" and vals[3] == b"v0+" and vals[6] == b"2"
    assert vals[-1] == [None if i % 2 == 0 else f"v{i}+".encode() for i in range(len(K))]


def test_cross_shard_multikey_commands_inside_multi(differ, nshards):
    keys = spread_keys(nshards, "x", 3)
    s = Lockstep(differ, 2)
    s(0, "MULTI")
    s(0, "MSET", *[w for i, k in enumerate(keys) for w in (k, f"v{i}")])
    s(0, "MGET", *keys, "absent")
    s(0, "DEL", *keys[::3], "absent")
    s(0, "MGET", *keys)
    s(0, "EXISTS", *keys)
    s(0, "MSETNX", keys[0], "n0", keys[-1], "n1")  # keys[-1] exists: nothing set
    s(0, "MSETNX", keys[0], "n0", keys[3 % len(keys)], "n1")
    s(0, "MGET", *keys)
    s(0, "RENAME", keys[1], keys[2])
    s(0, "COPY", keys[2], keys[1])
    s(0, "RENAMENX", keys[1], keys[2])
    s(0, "MGET", *keys)
    s(0, "DBSIZE")
    rep = s(0, "EXEC")
    assert rep.startswith(b"*13\r\n")
    s(1, "MGET", *keys)
    s(1, "DBSIZE")


def test_keyspace_commands_inside_multi_in_order(differ, K):
    s = Lockstep(differ, 2)
    s(0, "SET", "pre", "x")
    s(0, "MULTI")
    s(0, "SET", K[0], "a")
    s(0, "FLUSHALL")
    s(0, "SET", K[1], "b")
    s(0, "DBSIZE")
    s(0, "MSET", *[w for k in K for w in (k, "v")])
    s(0, "DBSIZE")
    s(0, "FLUSHDB")
    s(0, "DBSIZE")
    s(0, "SET", K[-1], "last")
    s(0, "EXISTS", *K, "pre")
    s(0, "DBSIZE")
    s(0, "EXEC", expect=b"*11\r\n+OK\r\n+OK\r\n+OK\r\n:1\r\n+OK\r\n:%d\r\n+OK\r\n:0\r\n+OK\r\n"
      b":1\r\n:1\r\n" % len(K))
    s(1, "DBSIZE", expect=b":1\r\n")
    s(1, "GET", K[-1], expect=b"$4\r\nlast\r\n")


def test_queued_commands_invisible_until_exec(differ, K):
    s = Lockstep(differ, 2)
    s(0, "MSET", *[w for k in K for w in (k, "old")])
    s(0, "MULTI")
    for k in K:
        s(0, "SET", k, "new")
    s(0, "DEL", K[0])
    s(1, "MGET", *K)
    s(1, "DBSIZE", expect=b":%d\r\n" % len(K))
    s(0, "EXEC")
    s(1, "MGET", *K)
    s(1, "DBSIZE", expect=b":%d\r\n" % (len(K) - 1))


# ============================================================================ errors

def test_queue_time_errors_abort_the_transaction(differ, K):
    s = Lockstep(differ, 2)
    for bad in (("NOSUCHCMD",), ("nosuchcmd", K[0], "arg2", "x" * 200), ("GET",),
                ("SET", K[0]), ("MGET",), ("MSET", K[0]), ("INCR", K[0], "x"),
                ("OBJECT", "NOSUCH", K[0]), ("CONFIG", "NOSUCH")):
        for where in ("first", "middle", "last"):
            s(0, "MULTI", expect=OK)
            if where != "first":
                s(0, "SET", K[1], "queued", expect=QUEUED)
            s(0, *bad)
            if where != "last":
                s(0, "INCR", K[2], expect=QUEUED)
            s(0, "EXEC", expect=EXECABORT)
            s(1, "MGET", K[0], K[1], K[2], expect=b"*3\r\n" + s.null * 3)
            s(0, "EXEC", expect=NO_MULTI_EXEC)  # the transaction is gone
    # several errors, then DISCARD: the error state goes with the transaction
    s(0, "MULTI")
    s(0, "NOSUCHCMD")
    s(0, "GET")
    s(0, "DISCARD", expect=OK)
    s(0, "MULTI")
    s(0, "SET", K[1], "ok", expect=QUEUED)
    s(0, "EXEC", expect=b"*1\r\n+OK\r\n")


def test_execabort_wins_over_changed_watched_key(differ, K):
    s = Lockstep(differ, 2)
    s(0, "WATCH", K[0], expect=OK)
    s(1, "SET", K[0], "changed")
    s(0, "MULTI")
    s(0, "SET", K[1], "v")
    s(0, "GET")
    s(0, "EXEC", expect=EXECABORT)
    s(0, "MULTI")  # the watch went with the aborted transaction
    s(0, "SET", K[1], "v")
    s(0, "EXEC", expect=b"*1\r\n+OK\r\n")


def test_run_time_errors_are_elements_of_exec(differ, K):
    s = Lockstep(differ, 2)
    a, b, c, d = K[0], K[1], K[2], K[3]
    s(0, "SET", a, "notanumber")
    s(0, "SET", c, "9223372036854775807")
    s(0, "MULTI")
    s(0, "SET", b, "1", expect=QUEUED)
    s(0, "INCR", a, expect=QUEUED)                 # not an integer
    s(0, "INCR", b, expect=QUEUED)
    s(0, "INCR", c, expect=QUEUED)                 # overflow
    s(0, "INCRBYFLOAT", a, "1", expect=QUEUED)     # not a float
    s(0, "SET", d, "v", "EX", "abc", expect=QUEUED)  # bad option value: checked at run time
    s(0, "SET", d, "v", "BADOPT", expect=QUEUED)   # syntax error
    s(0, "RENAME", "absent", d, expect=QUEUED)     # no such key
    s(0, "COPY", a, a, expect=QUEUED)              # same object
    s(0, "GETRANGE", a, "x", "1", expect=QUEUED)
    s(0, "SET", d, "after-errors", expect=QUEUED)
    s(0, "EXPIRE", b, "abc", expect=QUEUED)
    s(0, "MSET", a, "x", b)                       # odd argument count: checked at run time
    s(0, "MGET", a, b, c, d, expect=QUEUED)
    rep = s(0, "EXEC")
    vals = decode(rep)
    assert len(vals) == 14
    assert vals[0] == b"OK" and vals[2] == 2 and vals[10] == b"OK"
    assert vals[13] == [b"notanumber", b"2", b"9223372036854775807", b"after-errors"]
    assert b"-ERR value is not an integer or out of range\r\n" in rep
    assert b"-ERR no such key\r\n" in rep
    s(1, "MGET", a, b, c, d, expect=b"*4\r\n$10\r\nnotanumber\r\n$1\r\n2\r\n"
      b"$19\r\n9223372036854775807\r\n$12\r\nafter-errors\r\n")


def test_nested_multi_and_watch_inside_multi_keep_the_transaction(differ, K):
    s = Lockstep(differ, 2)
    s(0, "MULTI", expect=OK)
    s(0, "SET", K[0], "1", expect=QUEUED)
    s(0, "MULTI", expect=NESTED)
    s(0, "WATCH", K[1], expect=WATCH_IN_MULTI)
    s(0, "INCR", K[0], expect=QUEUED)
    s(1, "SET", K[1], "changed")  # not watched: the WATCH above was refused
    s(0, "EXEC", expect=b"*2\r\n+OK\r\n:2\r\n")
    s(1, "GET", K[0], expect=b"$1\r\n2\r\n")


def test_transaction_commands_outside_and_with_bad_arity(differ, K):
    s = Lockstep(differ)
    s(0, "EXEC", expect=NO_MULTI_EXEC)
    s(0, "DISCARD", expect=NO_MULTI_DISCARD)
    s(0, "UNWATCH", expect=OK)
    s(0, "WATCH")
    s(0, "MULTI", "x")
    s(0, "EXEC", "x")  # Redis answers with an EXECABORT naming the arity error
    s(0, "DISCARD", "x")
    s(0, "UNWATCH", "x")
    s(0, "PING", expect=b"+PONG\r\n")
    # inside MULTI: an arity error of a transaction command flags the transaction
    for bad in (("MULTI", "x"), ("WATCH",), ("DISCARD", "x"), ("RESET", "x")):
        s(0, "MULTI", expect=OK)
        s(0, "SET", K[0], "v", expect=QUEUED)
        s(0, *bad)
        s(0, "EXEC", expect=EXECABORT)
        s(0, "EXISTS", K[0], expect=b":0\r\n")
    # EXEC with arguments inside MULTI discards the transaction at once (as Redis)
    s(0, "MULTI", expect=OK)
    s(0, "SET", K[0], "v", expect=QUEUED)
    s(0, "EXEC", "x")
    s(0, "EXISTS", K[0], expect=b":0\r\n")
    s(0, "EXEC", expect=NO_MULTI_EXEC)
    # UNWATCH inside MULTI is queued
    s(0, "MULTI")
    s(0, "UNWATCH", expect=QUEUED)
    s(0, "EXEC", expect=b"*1\r\n+OK\r\n")


def test_discard_drops_the_queue_and_the_watches(differ, K):
    s = Lockstep(differ, 2)
    s(0, "SET", K[0], "orig")
    s(0, "WATCH", K[0], K[1])
    s(0, "MULTI")
    s(0, "SET", K[0], "queued")
    s(0, "DEL", K[1])
    s(0, "DISCARD", expect=OK)
    s(0, "GET", K[0], expect=b"$4\r\norig\r\n")
    s(0, "DISCARD", expect=NO_MULTI_DISCARD)
    s(0, "EXEC", expect=NO_MULTI_EXEC)
    s(1, "SET", K[0], "changed")   # no longer watched
    s(1, "SET", K[1], "changed")
    s(0, "MULTI")
    s(0, "GET", K[0])
    s(0, "EXEC", expect=b"*1\r\n$7\r\nchanged\r\n")


def test_reset_inside_multi(differ, K):
    s = Lockstep(differ, 2)
    s(0, "WATCH", K[0])
    s(0, "MULTI")
    s(0, "SET", K[1], "queued", expect=QUEUED)
    s(0, "RESET", expect=b"+RESET\r\n")
    # after RESET the connection speaks RESP2 whatever it spoke before
    s(0, "EXEC", expect=NO_MULTI_EXEC)
    s(0, "GET", K[1], expect=b"$-1\r\n")
    s(1, "SET", K[0], "changed")  # the watch went with RESET
    s(0, "MULTI")
    s(0, "GET", K[0])
    s(0, "EXEC", expect=b"*1\r\n$7\r\nchanged\r\n")
    s(0, "MULTI")
    s(0, "NOSUCHCMD")
    s(0, "RESET", expect=b"+RESET\r\n")  # also clears the error state
    s(0, "MULTI")
    s(0, "SET", K[1], "v")
    s(0, "EXEC", expect=b"*1\r\n+OK\r\n")


def test_quit_inside_multi_closes_without_running_the_queue(differ, K):
    s = Lockstep(differ, 2)
    s(0, "MULTI")
    s(0, "SET", K[0], "queued", expect=QUEUED)
    s(0, "INCR", K[1], expect=QUEUED)
    s(0, "QUIT", expect=OK)
    states = s.close_state(0)
    assert states == ("closed", "closed"), f"after QUIT (corekv, redis-server): {states}"
    s(1, "MGET", K[0], K[1], expect=b"*2\r\n" + s.null * 2)


def test_transaction_pipelined_in_one_write(differ, K):
    a, b, c = K[0], K[1], K[2]
    data = b"".join([
        encode("SET", c, "5"),
        encode("MULTI"), encode("SET", a, "1"), encode("GET", a), encode("INCR", c),
        encode("MGET", a, b, c), encode("DEL", a, b), encode("EXEC"),
        encode("GET", c),
        encode("MULTI"), encode("NOSUCH"), encode("SET", b, "x"), encode("EXEC"),
        encode("EXISTS", b),
        encode("MULTI"), encode("EXEC"),
        encode("MULTI"), encode("SET", b, "y"), encode("DISCARD"), encode("GET", b),
    ])
    replies, state = differ.check_raw(data, 20)
    assert state == "open"
    assert replies[:8] == [OK, OK, QUEUED, QUEUED, QUEUED, QUEUED, QUEUED,
                           b"*5\r\n+OK\r\n$1\r\n1\r\n:6\r\n*3\r\n$1\r\n1\r\n" +
                           (b"$-1\r\n" if differ.proto == 2 else b"_\r\n") +
                           b"$1\r\n6\r\n:1\r\n"]
    assert replies[12] == EXECABORT


def test_many_transactions_pipelined_back_to_back(differ, nshards):
    keys = spread_keys(nshards, "bb", max(1, 16 // nshards))
    cmds, n = [], 0
    for t in range(300):
        ks = [keys[(t * 7 + j * 3) % len(keys)] for j in range(3)]
        cmds.append(encode("MULTI"))
        cmds.append(encode("INCR", ks[0]))
        cmds.append(encode("APPEND", ks[1] + ":s", f"{t},"))
        cmds.append(encode("MGET", *ks))
        if t % 5 == 0:
            cmds.append(encode("MSET", ks[2], t, ks[0], t))
            n += 1
        if t % 11 == 0:
            cmds.append(encode("NOSUCH", t))  # this one aborts
            n += 1
        cmds.append(encode("EXEC"))
        n += 5
        if t % 7 == 0:
            cmds.append(encode("GET", ks[0]))
            n += 1
    replies, state = differ.check_raw(b"".join(cmds), n)
    assert state == "open" and len(replies) == n
    assert replies.count(EXECABORT) == len(range(0, 300, 11))


# ============================================================================ WATCH

# (name, setup on another client, change by another client after WATCH k)
# k is the watched key; x lives on another shard than k (when there is more than one).
ABORTS = [
    ("set", [("SET", "k", "v")], [("SET", "k", "w")]),
    ("set-same-value", [("SET", "k", "v")], [("SET", "k", "v")]),
    ("set-xx", [("SET", "k", "v")], [("SET", "k", "w", "XX")]),
    ("set-keepttl", [("SET", "k", "v", "EX", "100")], [("SET", "k", "v", "KEEPTTL")]),
    ("create", [], [("SET", "k", "v")]),
    ("create-setnx", [], [("SETNX", "k", "v")]),
    ("create-incr", [], [("INCR", "k")]),
    ("create-append", [], [("APPEND", "k", "v")]),
    ("create-setex", [], [("SETEX", "k", "100", "v")]),
    ("create-psetex", [], [("PSETEX", "k", "100000", "v")]),
    ("create-mset", [], [("MSET", "x", "1", "k", "2")]),
    ("create-msetnx", [], [("MSETNX", "x", "1", "k", "2")]),
    ("del", [("SET", "k", "v")], [("DEL", "k")]),
    ("del-cross-shard", [("SET", "k", "v"), ("SET", "x", "v")], [("DEL", "x", "k")]),
    ("unlink", [("SET", "k", "v")], [("UNLINK", "k")]),
    ("getdel", [("SET", "k", "v")], [("GETDEL", "k")]),
    ("incr", [("SET", "k", "1")], [("INCR", "k")]),
    ("incrby-0", [("SET", "k", "1")], [("INCRBY", "k", "0")]),
    ("decrby", [("SET", "k", "1")], [("DECRBY", "k", "5")]),
    ("incrbyfloat", [("SET", "k", "1")], [("INCRBYFLOAT", "k", "0.5")]),
    ("append", [("SET", "k", "v")], [("APPEND", "k", "w")]),
    ("setrange", [("SET", "k", "v")], [("SETRANGE", "k", "0", "w")]),
    ("getset", [("SET", "k", "v")], [("GETSET", "k", "w")]),
    ("mset", [("SET", "k", "v")], [("MSET", "x", "1", "k", "2")]),
    ("expire", [("SET", "k", "v")], [("EXPIRE", "k", "100")]),
    ("pexpire", [("SET", "k", "v")], [("PEXPIRE", "k", "100000")]),
    ("expireat-past", [("SET", "k", "v")], [("EXPIREAT", "k", "1")]),
    ("expire-0", [("SET", "k", "v")], [("EXPIRE", "k", "0")]),
    ("persist", [("SET", "k", "v", "EX", "100")], [("PERSIST", "k")]),
    ("getex-ex", [("SET", "k", "v")], [("GETEX", "k", "EX", "100")]),
    ("getex-persist", [("SET", "k", "v", "EX", "100")], [("GETEX", "k", "PERSIST")]),
    ("rename-source", [("SET", "k", "v")], [("RENAME", "k", "x")]),
    ("rename-destination-new", [("SET", "x", "v")], [("RENAME", "x", "k")]),
    ("rename-destination-existing", [("SET", "k", "v"), ("SET", "x", "w")],
     [("RENAME", "x", "k")]),
    ("renamenx-source", [("SET", "k", "v")], [("RENAMENX", "k", "x")]),
    ("renamenx-destination", [("SET", "x", "v")], [("RENAMENX", "x", "k")]),
    ("copy-destination-new", [("SET", "x", "v")], [("COPY", "x", "k")]),
    ("copy-destination-replace", [("SET", "k", "v"), ("SET", "x", "w")],
     [("COPY", "x", "k", "REPLACE")]),
    ("flushall", [("SET", "k", "v")], [("FLUSHALL",)]),
    ("flushdb", [("SET", "k", "v")], [("FLUSHDB",)]),
    ("flushall-other-keys-too", [("SET", "k", "v"), ("SET", "x", "v")], [("FLUSHALL",)]),
    ("other-transaction", [("SET", "k", "v")],
     [("MULTI",), ("SET", "x", "1"), ("SET", "k", "2"), ("EXEC",)]),
    ("other-transaction-renames-into-k", [("SET", "x", "v")],
     [("MULTI",), ("GET", "k"), ("RENAME", "x", "k"), ("EXEC",)]),
]

# Commands that do not change k: EXEC must run.
NO_ABORTS = [
    ("nothing", [("SET", "k", "v")], []),
    ("reads", [("SET", "k", "v", "EX", "100")],
     [("GET", "k"), ("EXISTS", "k"), ("TTL", "k"), ("STRLEN", "k"),
      ("MGET", "x", "k"), ("GETRANGE", "k", "0", "-1"), ("TYPE", "k"), ("TOUCH", "k"),
      ("GETEX", "k"), ("OBJECT", "ENCODING", "k"), ("DBSIZE",),
      ("KEYS", "*"), ("SCAN", "0")]),
    ("copy-from-k", [("SET", "k", "v")], [("COPY", "k", "x")]),
    ("other-key-other-shard", [("SET", "k", "v")], [("SET", "x", "1"), ("DEL", "x")]),
    ("other-key-same-shard", [("SET", "k", "v")], [("SET", "k2", "1"), ("INCR", "k2"),
                                                   ("DEL", "k2")]),
    ("other-keys-renamed", [("SET", "x", "v")], [("RENAME", "x", "k2"), ("COPY", "k2", "x")]),
    ("failed-conditional-writes", [("SET", "k", "v"), ("SET", "x", "w")],
     [("SET", "k", "w", "NX"), ("SETNX", "k", "w"), ("MSETNX", "x", "1", "k", "2"),
      ("RENAMENX", "x", "k"), ("COPY", "x", "k")]),
    ("failed-writes-on-missing-key", [],
     [("SET", "k", "v", "XX"), ("DEL", "k"), ("UNLINK", "k"), ("GETDEL", "k"),
      ("EXPIRE", "k", "10"), ("PERSIST", "k"), ("RENAME", "nosuch", "k"), ("COPY", "nosuch", "k")]),
    ("failed-writes-on-existing-key", [("SET", "k", "v")],
     [("INCR", "k"), ("INCRBYFLOAT", "k", "x"), ("PERSIST", "k"), ("COPY", "k", "k"),
      ("RENAME", "k", "k")]),
    ("flushall-while-k-absent", [("SET", "x", "v")], [("FLUSHALL",)]),
    ("other-transaction-reads-k", [("SET", "k", "v")],
     [("MULTI",), ("SET", "x", "1"), ("GET", "k"), ("MGET", "k", "x"), ("EXEC",)]),
    ("other-transaction-discarded", [("SET", "k", "v")],
     [("MULTI",), ("SET", "k", "2"), ("DEL", "k"), ("DISCARD",)]),
    ("other-transaction-aborted", [("SET", "k", "v")],
     [("MULTI",), ("SET", "k", "2"), ("NOSUCHCMD",), ("EXEC",)]),
]


def _keymap(nshards):
    k, x = two_keys_on_different_shards(nshards, "w")
    same = keys_per_shard(nshards, "w", 2)[0]
    k = same[0]
    return {"k": k, "x": x if x != k else k + "x", "k2": same[1]}


def _sub(cmd, km):
    return tuple(km.get(a, a) for a in cmd)


def _watch_case(differ, nshards, setup, change, aborted, when):
    km = _keymap(nshards)
    k = km["k"]
    s = Lockstep(differ, 2)
    for c in setup:
        s(1, *_sub(c, km))
    s(0, "WATCH", k, expect=OK)
    if when == "before-multi":
        for c in change:
            s(1, *_sub(c, km))
    s(0, "MULTI", expect=OK)
    s(0, "SET", "marker", "ran", expect=QUEUED)
    s(0, "GET", k, expect=QUEUED)
    if when == "while-queued":
        for c in change:
            s(1, *_sub(c, km))
    rep = s(0, "EXEC")
    if aborted:
        assert rep == s.null_array, f"redis-server ran the transaction: {rep!r}"
        s(1, "EXISTS", "marker", expect=b":0\r\n")
    else:
        assert rep.startswith(b"*2\r\n+OK\r\n"), f"redis-server answered {rep!r}"
        s(1, "GET", "marker", expect=b"$3\r\nran\r\n")
    # EXEC cleared the watch either way
    s(1, "SET", k, "again")
    s(0, "MULTI")
    s(0, "GET", k)
    s(0, "EXEC", expect=b"*1\r\n$5\r\nagain\r\n")


@pytest.mark.parametrize("name,setup,change", ABORTS, ids=[c[0] for c in ABORTS])
def test_watch_aborts_when_another_client_changes_the_key(differ, nshards, name, setup, change):
    _watch_case(differ, nshards, setup, change, True, "before-multi")


WHILE_QUEUED = [c for c in ABORTS if c[0] in (
    "set", "create", "del-cross-shard", "rename-source", "rename-destination-new",
    "copy-destination-new", "flushall", "expire", "create-msetnx")]


@pytest.mark.parametrize("name,setup,change", WHILE_QUEUED, ids=[c[0] for c in WHILE_QUEUED])
def test_watch_aborts_on_change_while_queueing(differ, nshards, name, setup, change):
    _watch_case(differ, nshards, setup, change, True, "while-queued")


@pytest.mark.parametrize("name,setup,change", NO_ABORTS, ids=[c[0] for c in NO_ABORTS])
def test_watch_not_aborted_without_a_change(differ, nshards, name, setup, change):
    _watch_case(differ, nshards, setup, change, False, "before-multi")


def test_watch_own_changes(differ, K):
    s = Lockstep(differ, 2)
    k = K[0]
    # a change by the same client before WATCH does not count
    s(0, "SET", k, "mine")
    s(0, "WATCH", k)
    s(0, "MULTI")
    s(0, "GET", k)
    s(0, "EXEC", expect=b"*1\r\n$4\r\nmine\r\n")
    # ... but a change after WATCH does, even by the watching client itself
    s(0, "WATCH", k)
    s(0, "SET", k, "mine2")
    s(0, "MULTI")
    s(0, "GET", k)
    s(0, "EXEC", expect=s.null_array)
    # reading its own watched key changes nothing
    s(0, "WATCH", k)
    s(0, "GET", k)
    s(0, "MGET", *K)
    s(0, "MULTI")
    s(0, "INCR", k + ":n")
    s(0, "EXEC", expect=b"*1\r\n:1\r\n")


def test_unwatch(differ, K):
    s = Lockstep(differ, 2)
    s(0, "WATCH", *K, expect=OK)
    s(0, "UNWATCH", expect=OK)
    for k in K:
        s(1, "SET", k, "changed")
    s(0, "MULTI")
    s(0, "MGET", *K)
    s(0, "EXEC")
    s(0, "UNWATCH", expect=OK)  # nothing watched: still OK


def test_exec_clears_the_watch(differ, K):
    s = Lockstep(differ, 2)
    k = K[0]
    s(0, "WATCH", k)
    s(0, "MULTI")
    s(0, "EXEC", expect=b"*0\r\n")
    s(1, "SET", k, "changed")
    s(0, "MULTI")
    s(0, "GET", k)
    s(0, "EXEC", expect=b"*1\r\n$7\r\nchanged\r\n")
    # after an aborted EXEC too
    s(0, "WATCH", k)
    s(1, "SET", k, "changed2")
    s(0, "MULTI")
    s(0, "EXEC", expect=s.null_array)
    s(1, "SET", k, "changed3")
    s(0, "MULTI")
    s(0, "GET", k)
    s(0, "EXEC", expect=b"*1\r\n$8\r\nchanged3\r\n")


def test_watch_keys_on_several_shards(differ, nshards):
    watched = spread_keys(nshards, "ws", 2)
    others = spread_keys(nshards, "wo", 1)
    s = Lockstep(differ, 2)
    s(1, "MSET", *[w for k in watched for w in (k, "0")])
    # changes to unwatched keys on every shard do not abort
    s(0, "WATCH", *watched)
    for o in others:
        s(1, "SET", o, "x")
    s(0, "MULTI")
    s(0, "MGET", *watched)
    s(0, "EXEC", expect=b"*1\r\n*%d\r\n" % len(watched) + b"$1\r\n0\r\n" * len(watched))
    # a change of any one watched key, whichever its shard, aborts
    for i, k in enumerate(watched):
        s(0, "WATCH", *watched[i:], *watched[:i])
        s(1, "INCR", k)
        s(0, "MULTI")
        s(0, "SET", "marker", i)
        s(0, "EXEC", expect=s.null_array)
    s(1, "EXISTS", "marker", expect=b":0\r\n")
    # WATCH called several times accumulates
    for i, k in enumerate(watched):
        for w in watched:
            s(0, "WATCH", w)
        s(1, "DEL", k)
        s(0, "MULTI")
        s(0, "SET", "marker", i)
        s(0, "EXEC", expect=s.null_array)
    s(1, "EXISTS", "marker", expect=b":0\r\n")


def test_watch_same_key_twice(differ, K):
    s = Lockstep(differ, 2)
    k = K[0]
    s(0, "WATCH", k, k, expect=OK)
    s(0, "WATCH", k, expect=OK)
    s(1, "SET", k, "v")
    s(0, "MULTI")
    s(0, "GET", k)
    s(0, "EXEC", expect=s.null_array)
    # one UNWATCH drops every occurrence
    s(0, "WATCH", k, k)
    s(0, "WATCH", k)
    s(0, "UNWATCH")
    s(1, "SET", k, "w")
    s(0, "MULTI")
    s(0, "GET", k)
    s(0, "EXEC", expect=b"*1\r\n$1\r\nw\r\n")


def test_watch_expiry_between_watch_and_exec_without_any_access(differ, K):
    """The key expires after WATCH and nothing reads it: EXEC still aborts."""
    s = Lockstep(differ, 2)
    k = K[0]
    s(1, "SET", k, "v", "PX", "80")
    dl = s.each(1, lambda c: decode(c.cmd("PEXPIRETIME", k)))
    s(0, "WATCH", k)
    core, ref = s.pairs[1]
    _wait_past(core, dl[0])
    _wait_past(ref, dl[1])
    s(0, "MULTI")
    s(0, "SET", "marker", "ran")
    s(0, "EXEC", expect=s.null_array)
    s(1, "EXISTS", "marker", k, expect=b":0\r\n")


def test_watch_expiry_seen_by_another_client(differ, K):
    """The key expires after WATCH; another client sees it gone (which deletes it)."""
    s = Lockstep(differ, 2)
    k = K[0]
    s(1, "SET", k, "v", "PX", "60")
    s(0, "WATCH", k)
    s.each(1, lambda c: wait_for(lambda: c.cmd("EXISTS", k) == b":0\r\n", 5,
                                 what="key to expire"))
    s(0, "MULTI")
    s(0, "SET", "marker", "ran")
    s(0, "EXEC", expect=s.null_array)
    s(1, "EXISTS", "marker", expect=b":0\r\n")


def test_watch_of_an_already_expired_key(differ, K):
    """A key already expired when WATCHed: its removal is no change (it was logically
    absent), but its re-creation is."""
    s = Lockstep(differ, 2)
    k = K[0]
    for recreate in (False, True):
        s(1, "SET", k, "v", "PX", "30")
        dl = s.each(1, lambda c: decode(c.cmd("PEXPIRETIME", k)))
        core, ref = s.pairs[1]
        _wait_past(core, dl[0])
        _wait_past(ref, dl[1])
        s(0, "WATCH", k)
        s(1, "EXISTS", k, expect=b":0\r\n")  # removes it if nothing else has
        if recreate:
            s(1, "SET", k, "new")
        s(0, "MULTI")
        s(0, "GET", k)
        s(0, "EXEC", expect=s.null_array if recreate else b"*1\r\n" + s.null)
        s(1, "DEL", k)


def test_watch_key_with_future_ttl_not_aborted(differ, K):
    s = Lockstep(differ, 2)
    k = K[0]
    s(1, "SET", k, "v", "PX", "100000")
    s(0, "WATCH", k)
    s(1, "TTL", k)
    s(0, "MULTI")
    s(0, "GET", k)
    s(0, "EXEC", expect=b"*1\r\n$1\r\nv\r\n")


def test_watch_then_the_transaction_writes_the_watched_keys(differ, nshards):
    """The optimistic-lock shape: WATCH, read, MULTI, write the watched keys, EXEC."""
    a, b = two_keys_on_different_shards(nshards, "cas")
    s = Lockstep(differ, 2)
    s(1, "MSET", a, "10", b, "20")
    s(0, "WATCH", a, b)
    s(0, "MGET", a, b)
    s(0, "MULTI")
    s(0, "SET", a, "11")
    s(0, "SET", b, "21")
    s(0, "EXEC", expect=b"*2\r\n+OK\r\n+OK\r\n")
    s(0, "WATCH", a, b)
    s(0, "MGET", a, b)
    s(1, "INCR", b)
    s(0, "MULTI")
    s(0, "SET", a, "12")
    s(0, "SET", b, "22")
    s(0, "EXEC", expect=s.null_array)
    s(1, "MGET", a, b, expect=b"*2\r\n$2\r\n11\r\n$2\r\n22\r\n")


def test_watch_is_per_connection(differ, K):
    """Another client's WATCH of the same key is unaffected by this one's EXEC, and a
    connection that closes with watches leaves no trace."""
    s = Lockstep(differ, 3)
    k = K[0]
    s(0, "WATCH", k)
    s(1, "WATCH", k)
    s(0, "MULTI")
    s(0, "SET", k, "by0")
    s(0, "EXEC", expect=b"*1\r\n+OK\r\n")
    s(1, "MULTI")
    s(1, "SET", k, "by1")
    s(1, "EXEC", expect=s.null_array)  # 0's transaction changed k
    s(2, "GET", k, expect=b"$3\r\nby0\r\n")
    for c in s.pairs[0]:
        c.close()
    s(2, "SET", k, "after-close")
    s(1, "WATCH", k)
    s(1, "MULTI")
    s(1, "GET", k)
    s(1, "EXEC", expect=b"*1\r\n$11\r\nafter-close\r\n")


# ============================================================================ all or nothing

def test_cross_shard_conditional_writes_all_or_nothing(differ, nshards):
    per = keys_per_shard(nshards, "an", 2)
    keys = [k for ks in per for k in ks]
    a, b = two_keys_on_different_shards(nshards, "an2")
    s = Lockstep(differ)
    # MSETNX: one existing key anywhere prevents every write
    for existing in keys:
        s(0, "SET", existing, "old")
        s(0, "MSETNX", *[w for k in keys for w in (k, "new")], expect=b":0\r\n")
        s(0, "MGET", *keys)
        s(0, "DBSIZE", expect=b":1\r\n")
        s(0, "DEL", existing)
    s(0, "MSETNX", *[w for k in keys for w in (k, "new")], expect=b":1\r\n")
    s(0, "MGET", *keys)
    s(0, "FLUSHALL")
    # RENAME / RENAMENX / COPY between shards
    s(0, "RENAME", a, b, expect=b"-ERR no such key\r\n")
    s(0, "SET", a, "va", "EX", "1000")
    s(0, "SET", b, "vb")
    s(0, "RENAMENX", a, b, expect=b":0\r\n")
    s(0, "MGET", a, b, expect=b"*2\r\n$2\r\nva\r\n$2\r\nvb\r\n")
    s(0, "COPY", a, b, expect=b":0\r\n")
    s(0, "MGET", a, b)
    s(0, "COPY", a, b, "REPLACE", expect=b":1\r\n")
    s(0, "MGET", a, b, expect=b"*2\r\n$2\r\nva\r\n$2\r\nva\r\n")
    s(0, "TTL", b, expect=b":1000\r\n")
    s(0, "SET", b, "vb")
    s(0, "RENAME", a, b, expect=OK)
    s(0, "MGET", a, b, expect=b"*2\r\n" + s.null + b"$2\r\nva\r\n")
    s(0, "TTL", b, expect=b":1000\r\n")
    s(0, "RENAMENX", b, a, expect=b":1\r\n")
    s(0, "MGET", a, b)
    s(0, "EXISTS", a, b, expect=b":1\r\n")
    s(0, "COPY", a, b, expect=b":1\r\n")
    s(0, "MGET", a, b)
    s(0, "DBSIZE", expect=b":2\r\n")


def test_cross_shard_conditional_writes_inside_multi(differ, nshards):
    per = keys_per_shard(nshards, "an", 2)
    keys = [k for ks in per for k in ks]
    a, b = two_keys_on_different_shards(nshards, "an2")
    s = Lockstep(differ, 2)
    s(0, "MULTI")
    s(0, "SET", keys[-1], "old")
    s(0, "MSETNX", *[w for k in keys for w in (k, "new")])
    s(0, "MGET", *keys)
    s(0, "DEL", keys[-1])
    s(0, "MSETNX", *[w for k in keys for w in (k, "new")])
    s(0, "RENAME", keys[0], a)
    s(0, "RENAMENX", keys[1], a)
    s(0, "COPY", a, b)
    s(0, "COPY", keys[1], b)
    s(0, "COPY", keys[1], b, "REPLACE")
    s(0, "RENAME", "absent", a)
    s(0, "MGET", a, b, *keys)
    rep = decode(s(0, "EXEC"))
    assert rep[1] == 0 and rep[4] == 1 and rep[10] == Err("ERR no such key"), rep
    s(1, "MGET", a, b, *keys)
    s(1, "DBSIZE")



# ============================================================================ size

def test_large_transaction(differ, nshards):
    """Thousands of queued commands over every shard, sent in one write, answered in one
    EXEC reply."""
    keys = spread_keys(nshards, "lt", max(1, 64 // nshards))
    cmds = [encode("MULTI")]
    for i in range(3000):
        k = keys[i % len(keys)]
        op = i % 4
        if op == 0:
            cmds.append(encode("INCR", k))
        elif op == 1:
            cmds.append(encode("APPEND", k + ":s", b"x%d" % i))
        elif op == 2:
            cmds.append(encode("MGET", k, k + ":s", keys[(i * 7) % len(keys)]))
        else:
            cmds.append(encode("GETRANGE", k + ":s", -5, -1))
    cmds.append(encode("EXEC"))
    cmds.append(encode("DBSIZE"))
    replies, state = differ.check_raw(b"".join(cmds), len(cmds))
    assert state == "open" and replies[-2].startswith(b"*3000\r\n")


def test_watch_many_keys(differ, nshards):
    keys = spread_keys(nshards, "wm", max(1, 1000 // nshards))
    s = Lockstep(differ, 2)
    s(0, "WATCH", *keys, expect=OK)
    s(1, "SET", keys[len(keys) // 3], "x")
    s(0, "MULTI")
    s(0, "SET", "marker", "1")
    s(0, "EXEC", expect=s.null_array)
    s(0, "WATCH", *keys)
    s(1, "SET", "unwatched", "x")
    s(0, "MULTI")
    s(0, "DBSIZE")
    s(0, "EXEC", expect=b"*1\r\n:2\r\n")


def _client_line(r, name):
    for c in r.client_list():
        if c.get("name") == name:
            return c
    raise AssertionError(f"client {name} not listed")


def test_client_list_shows_a_client_in_multi(server, r):
    """CLIENT LIST marks a client in MULTI with flag x and its queued count, as Redis."""
    with server.raw() as c:
        assert c.call("CLIENT", "SETNAME", "inmulti") == b"OK"
        assert c.call("MULTI") == b"OK"
        line = _client_line(r, "inmulti")
        assert (line["flags"], line["multi"]) == ("x", "0")
        assert c.call("SET", "k", "1") == b"QUEUED"
        assert c.call("GET", "k") == b"QUEUED"
        line = _client_line(r, "inmulti")
        assert (line["flags"], line["multi"]) == ("x", "2")
        assert c.call("EXEC") == [b"OK", b"1"]
        line = _client_line(r, "inmulti")
        assert (line["flags"], line["multi"]) == ("N", "-1")
