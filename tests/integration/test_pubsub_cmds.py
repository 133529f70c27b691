"""Pub/sub commands, byte for byte against redis-server 7.0: SUBSCRIBE and friends (acks in
RESP2 and RESP3), RESP2 subscribed mode (allowed commands, errors, PING), RESET, PUBSUB
introspection, sharded channels, EXEC, CLIENT LIST and INFO fields, arity errors; and the
cross-shard facts a single server cannot show: exact PUBLISH counts with subscribers on
every shard (CLIENT ID & 63 names a connection's shard), overlapping channel and pattern
subscriptions delivering twice, and cleanup on close.

Fan-out volume, ordering under load, slow subscribers and the benchmark are in
test_pubsub.py."""
import itertools
import os
import time

import pytest

from helpers import decode, encode, reply_end, wait_for

pytestmark = pytest.mark.differential

_uniq = itertools.count()


def uniq(prefix):
    """A channel name no other test uses (the reference server lives for the session)."""
    return f"{prefix}:{os.getpid()}:{next(_uniq)}"


def read_n(conn, n):
    return [conn.read_reply() for _ in range(n)]


def hello(conn, proto):
    if proto == 3:
        assert conn.cmd("HELLO", "3").startswith(b"%")


def open_pair(server, redis_ref, proto):
    a, b = server.raw(), redis_ref.raw()
    hello(a, proto)
    hello(b, proto)
    return a, b


def frames_of(conn, args, n):
    conn.send(encode(*args))
    return read_n(conn, n)


def check_script(server, redis_ref, proto, script):
    """script: S(...) entries run on one connection per server;
    the frames must be byte-identical (with sort, the order is Redis's dict order, as for
    an UNSUBSCRIBE of everything: then the frames' fields are compared as sets)."""
    a, b = open_pair(server, redis_ref, proto)
    try:
        diffs = []
        for args, n, sort, loose in script:
            got, want = frames_of(a, args, n), frames_of(b, args, n)
            if loose:
                got, want = [x[:1] for x in got], [x[:1] for x in want]
            if sort:
                # Redis acks in dict order, each with the count left after it: compare the
                # names and the counts as sets.
                got, want = [sorted(map(repr, x)) for x in zip(*map(decode, got))], \
                    [sorted(map(repr, x)) for x in zip(*map(decode, want))]
            if got != want:
                diffs.append(f"{args}:\n  redis-server: {want!r}\n  corekv:       {got!r}")
        assert not diffs, f"shards={server.shards} resp{proto}:\n" + "\n".join(diffs)
    finally:
        a.close()
        b.close()


def S(*args, n=1, sort=False, loose=False):
    """A scripted command and how many frames it answers with; loose: compare the reply
    types only (HELLO's version and id differ by design)."""
    return (args, n, sort, loose)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def proto(request):
    return request.param


# --------------------------------------------------------------------------------------------
# Acks, subscribed mode, RESET
# --------------------------------------------------------------------------------------------

def test_ack_shapes(server, redis_ref, proto):
    a, b, p = uniq("a"), uniq("b"), uniq("p") + "*"
    check_script(server, redis_ref, proto, [
        S("UNSUBSCRIBE"),                      # nothing held: one ack with a nil channel
        S("PUNSUBSCRIBE"),
        S("SUNSUBSCRIBE"),
        S("UNSUBSCRIBE", a, b, n=2),           # not subscribed: acks anyway, count 0
        S("SUBSCRIBE", a, b, a, n=3),          # a duplicate acks with an unchanged count
        S("PSUBSCRIBE", p, p, n=2),            # patterns count with channels
        S("SSUBSCRIBE", a, n=1),               # shard channels count apart
        S("SSUBSCRIBE", a, b, n=2),
        S("UNSUBSCRIBE", b, "nosuch", n=2),
        S("PUNSUBSCRIBE", "nosuch*", p, n=2),
        S("SUNSUBSCRIBE", b, n=1),
        S("UNSUBSCRIBE", n=1),                 # one left: a
        S("UNSUBSCRIBE", n=1),                 # none: nil
        S("SUNSUBSCRIBE", n=1),
        S("PING"),
        S("SUBSCRIBE", a, b, n=2),
        S("PSUBSCRIBE", p, uniq("q") + "?", n=2),
        S("UNSUBSCRIBE", n=2, sort=True),      # everything, in dict order on Redis
        S("PUNSUBSCRIBE", n=2, sort=True),
        S("PING"),
    ])


def test_subscribed_mode(server, redis_ref, proto):
    ch = uniq("m")
    check_script(server, redis_ref, proto, [
        S("SUBSCRIBE", ch),
        S("PING"),
        S("PING", "hello"),
        S("PING", "a", "b"),                   # PING's own arity error
        S("GET", "k"),
        S("SET", "k", "v"),
        S("CLIENT", "ID") if proto == 2 else S("ECHO", "x"),
        S("MULTI"),
        S("PUBLISH", ch, "x"),
        S("PUBSUB", "NUMPAT"),
        S("PUBSUB", "CHANNELS", "a", "b"),     # arity -2 passes: the context refuses it
        S("PUBSUB", "NOSUCH"),                 # unknown subcommand comes first
        S("NOSUCHCOMMAND", "x"),
        S("GET"),                              # arity errors come first too
        S("SSUBSCRIBE", ch),
        S("SUNSUBSCRIBE"),
        S("PSUBSCRIBE", ch + "*"),
        S("PUNSUBSCRIBE"),
        S("UNSUBSCRIBE"),                      # out of subscribed mode
        S("PING"),
        S("GET", "k"),
    ])


def test_resp3_allows_everything(server, redis_ref):
    ch = uniq("r3")
    check_script(server, redis_ref, 3, [
        S("SUBSCRIBE", ch),
        S("SET", uniq("k"), "v"),
        S("PING"),
        S("HELLO", "2", loose=True),           # now RESP2 subscribed mode
        S("GET", "x"),
        S("PING"),
        S("UNSUBSCRIBE"),
        S("GET", "x"),
    ])


def test_reset_unsubscribes_everything(server, redis_ref, proto):
    ch, pat = uniq("rs"), uniq("rsp") + "*"
    check_script(server, redis_ref, proto, [
        S("SUBSCRIBE", ch),
        S("PSUBSCRIBE", pat),
        S("SSUBSCRIBE", ch),
        S("RESET"),
        S("PING"),
        S("GET", "k"),
        S("UNSUBSCRIBE"),
        S("PUNSUBSCRIBE"),
        S("SUNSUBSCRIBE"),
    ])
    # RESET drops the subscriptions at once on its shard and tells the others without
    # waiting for them (as a close does): poll.
    with server.raw() as c:
        wait_for(lambda: c.call("PUBSUB", "NUMSUB", ch) == [ch.encode(), 0] and
                 c.call("PUBSUB", "SHARDNUMSUB", ch) == [ch.encode(), 0] and
                 c.call("PUBSUB", "NUMPAT") == 0 and c.call("PUBLISH", ch, "x") == 0, 5,
                 what="RESET's removals to reach every shard")


def test_exec_with_subscribe(server, redis_ref, proto):
    ch = uniq("ex")
    check_script(server, redis_ref, proto, [
        S("MULTI"),
        S("SUBSCRIBE", ch),
        S("SSUBSCRIBE", ch),                   # refused inside EXEC (DENY BLOCKING)
        S("PSUBSCRIBE", ch + "*"),
        S("EXEC"),
        S("PING"),
        S("UNSUBSCRIBE"),
        S("PUNSUBSCRIBE"),
    ])


def test_arity_and_syntax_errors(server, redis_ref, proto):
    check_script(server, redis_ref, proto, [
        S("SUBSCRIBE"), S("PSUBSCRIBE"), S("SSUBSCRIBE"),
        S("PUBLISH"), S("PUBLISH", "a"), S("PUBLISH", "a", "b", "c"),
        S("SPUBLISH", "a"), S("SPUBLISH", "a", "b", "c"),
        S("PUBSUB"), S("PUBSUB", "NOSUCH"), S("PUBSUB", "numpat", "x"),
        S("PUBSUB", "HELP", "x"), S("PUBSUB", "help"),
        S("PUBSUB", "CHANNELS", "a", "b"), S("PUBSUB", "shardchannels", "a", "b"),
        S("PUBSUB", "NUMSUB"), S("PUBSUB", "SHARDNUMSUB"), S("PUBSUB", "NUMSUB", "x", "y"),
    ])


def test_command_info(server, redis_ref, once):
    # PUBSUB's own entry lists its subcommands in an order that changes with every start
    # of redis-server (dict order): compare each subcommand alone.
    names = ["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "publish", "spublish",
             "ssubscribe", "sunsubscribe"] + \
        [f"pubsub|{s}" for s in ("channels", "numsub", "numpat", "shardchannels", "shardnumsub",
                                 "help")]
    for proto_ in (2, 3):
        check_script(server, redis_ref, proto_, [
            S("COMMAND", "INFO", *names),
            S("COMMAND", "GETKEYS", "SPUBLISH", "a", "b"),
            S("COMMAND", "GETKEYSANDFLAGS", "SSUBSCRIBE", "a", "b"),
        ])


# --------------------------------------------------------------------------------------------
# Delivery, counts across shards
# --------------------------------------------------------------------------------------------

def message(kind, proto, *parts):
    out = [b"%s%d\r\n" % (b"*" if proto == 2 else b">", len(parts) + 1),
           b"$%d\r\n%s\r\n" % (len(kind), kind)]
    for p in parts:
        p = p.encode() if isinstance(p, str) else p
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


def ack(kind, proto, ch, n):
    return (b"*3\r\n" if proto == 2 else b">3\r\n") + \
        b"$%d\r\n%s\r\n$%d\r\n%s\r\n:%d\r\n" % (len(kind), kind, len(ch), ch.encode(), n)


def spread_conns(server, n, proto=2):
    """At least n connections on more than one shard when there are several (the kernel
    spreads connections; more are opened until two shards have some). Returns them and
    the set of their shards."""
    conns, shards = [], set()
    while len(conns) < n or (server.shards > 1 and len(shards) < 2):
        assert len(conns) < n + 64, "every connection landed on one shard"
        c = server.raw()
        hello(c, proto)
        conns.append(c)
        shards.add(decode(c.cmd("CLIENT", "ID")) & 63)
    return conns, shards


def close_all(conns):
    for c in conns:
        c.close()


def test_publish_counts_and_overlap(server):
    ch, other = uniq("cnt"), uniq("other")
    pat = ch[:4] + "*"                          # "cnt:*" matches ch but not other
    subs, _ = spread_conns(server, 24)
    both, _ = spread_conns(server, 6, proto=3)
    try:
        for c in subs:
            assert c.cmd("SUBSCRIBE", ch) == ack(b"subscribe", 2, ch, 1)
        for c in both:
            c.send(encode("SUBSCRIBE", ch))
            c.read_reply()
            c.send(encode("PSUBSCRIBE", pat))
            c.read_reply()
        pubs, _ = spread_conns(server, 8)
        try:
            for i, p in enumerate(pubs):
                # Every connection of every shard counts all 30 channel subscribers and the
                # 6 pattern subscriptions: the acks above were replied after every shard
                # applied them.
                assert p.call("PUBLISH", ch, f"m{i}") == len(subs) + 2 * len(both)
                assert p.call("PUBLISH", other, "x") == 0
                assert p.call("SPUBLISH", ch, "x") == 0
            # Publishers on different shards: each message once, in no set order (only
            # one publisher's messages keep their order, see test_pubsub.py).
            want = sorted(message(b"message", 2, ch, f"m{i}") for i in range(len(pubs)))
            for c in subs:
                assert sorted(read_n(c, len(pubs))) == want
            for c in both:
                got = read_n(c, 2 * len(pubs))
                # Subscribed to the channel and to a pattern matching it: twice, the
                # channel's message first (Redis's order).
                pairs = [(got[j], got[j + 1]) for j in range(0, len(got), 2)]
                assert sorted(pairs) == sorted(
                    (message(b"message", 3, ch, f"m{i}"),
                     message(b"pmessage", 3, pat, ch, f"m{i}")) for i in range(len(pubs)))
            for p in pubs:
                assert p.call("PUBSUB", "NUMSUB", ch, other) == [ch.encode(), len(subs) + len(both),
                                                                  other.encode(), 0]
                assert p.call("PUBSUB", "NUMPAT") >= 1
        finally:
            close_all(pubs)
    finally:
        close_all(subs + both)


def test_unsubscribe_is_exact_after_ack(server):
    ch = uniq("ua")
    subs, _ = spread_conns(server, 12)
    pubs, _ = spread_conns(server, 6)
    try:
        for c in subs:
            c.send(encode("SUBSCRIBE", ch))
            c.read_reply()
        for k, c in enumerate(subs):
            # What the earlier rounds published reached this subscriber before its ack.
            for _ in range(k * len(pubs)):
                assert c.read_reply() == message(b"message", 2, ch, "x")
            assert c.cmd("UNSUBSCRIBE", ch) == ack(b"unsubscribe", 2, ch, 0)
            # After the ack, no shard counts this subscriber any more.
            for p in pubs:
                assert p.call("PUBLISH", ch, "x") == len(subs) - k - 1
        for c in subs:
            assert c.call("PING") == b"PONG"    # nothing else arrived: out of subscribed mode
    finally:
        close_all(subs + pubs)


def test_sharded_channels(server, proto):
    ch = uniq("sh")
    subs, _ = spread_conns(server, 10, proto=proto)
    psub, _ = spread_conns(server, 3, proto=proto)
    pubs, _ = spread_conns(server, 6)
    try:
        for c in subs:
            c.send(encode("SSUBSCRIBE", ch, ch + "b"))
            read_n(c, 2)
        for c in psub:
            c.send(encode("PSUBSCRIBE", "*"))       # patterns never see shard channels
            c.read_reply()
            c.send(encode("SUBSCRIBE", ch))         # nor do plain channel subscribers
            c.read_reply()
        for i, p in enumerate(pubs):
            assert p.call("SPUBLISH", ch, f"s{i}") == len(subs)
            assert p.call("PUBSUB", "SHARDNUMSUB", ch, ch + "b", "x") == [
                ch.encode(), len(subs), (ch + "b").encode(), len(subs), b"x", 0]
        want = sorted(message(b"smessage", proto, ch, f"s{i}") for i in range(len(pubs)))
        for c in subs:
            assert sorted(read_n(c, len(pubs))) == want
        for c in psub:
            assert c.call("PING") == (b"PONG" if proto == 3 else [b"pong", b""])
        assert pubs[0].call("PUBLISH", ch, "p") == 2 * len(psub)  # the channel, and "*"
    finally:
        close_all(subs + psub + pubs)


def test_big_messages(server, proto):
    ch = uniq("big")
    subs, _ = spread_conns(server, 8, proto=proto)
    pub = server.raw()
    try:
        for c in subs:
            c.send(encode("SUBSCRIBE", ch))
            c.read_reply()
            c.send(encode("PSUBSCRIBE", ch + "*"))
            c.read_reply()
        bodies = [os.urandom(n) for n in (0, 1, 256, 511, 512, 513, 4096, 300_000)]
        for body in bodies:
            assert pub.call("PUBLISH", ch, body) == 2 * len(subs)
        for c in subs:
            for body in bodies:
                assert c.read_reply() == message(b"message", proto, ch, body)
                assert c.read_reply() == message(b"pmessage", proto, ch + "*", ch, body)
    finally:
        close_all(subs + [pub])


def test_close_cleans_up(server):
    ch, pat = uniq("cl"), uniq("clp") + "*"
    subs, _ = spread_conns(server, 16)
    for c in subs:
        c.send(encode("SUBSCRIBE", ch))
        c.read_reply()
        c.send(encode("PSUBSCRIBE", pat))
        c.read_reply()
        c.send(encode("SSUBSCRIBE", ch))
        c.read_reply()
    probes, _ = spread_conns(server, 4)
    try:
        for p in probes:
            assert p.call("PUBSUB", "NUMSUB", ch) == [ch.encode(), len(subs)]
            assert ch.encode() in p.call("PUBSUB", "CHANNELS", ch[:3] + "*")
            assert ch.encode() in p.call("PUBSUB", "SHARDCHANNELS")
        close_all(subs)
        for p in probes:
            wait_for(lambda: p.call("PUBSUB", "NUMSUB", ch) == [ch.encode(), 0] and
                     p.call("PUBSUB", "SHARDNUMSUB", ch) == [ch.encode(), 0] and
                     p.call("PUBLISH", ch, "x") == 0 and
                     ch.encode() not in p.call("PUBSUB", "CHANNELS"), 5,
                     what="subscriptions of closed connections to go")
    finally:
        close_all(probes)


def test_introspection_matches_redis(server, redis_ref):
    """The same subscriptions on both servers (spread over shards on corekv): PUBSUB's
    answers agree (lists compared sorted: Redis lists in dict order)."""
    pre = uniq("in")
    chans = [f"{pre}:{i}" for i in range(12)]
    pats = [f"{pre}:p{i}*" for i in range(5)]
    conns, ids = {}, {}
    for srv in (server, redis_ref):
        with srv.raw() as probe:
            wait_for(lambda: decode(probe.cmd("PUBSUB", "NUMPAT")) == 0, 5,
                     what="no patterns left from other tests")
        cs = []
        for i in range(10):
            c = srv.raw()
            if i == 0:
                ids[srv] = decode(c.cmd("CLIENT", "ID"))
            c.send(encode("SUBSCRIBE", *chans[i:i + 3]))
            read_n(c, len(chans[i:i + 3]))
            c.send(encode("PSUBSCRIBE", pats[i % 5], pats[(i + 1) % 5]))
            read_n(c, 2)
            c.send(encode("SSUBSCRIBE", chans[i]))
            c.read_reply()
            cs.append(c)
        conns[srv] = cs
    try:
        def ask(srv, *args):
            with srv.raw() as c:
                v = decode(c.cmd(*args))
            return sorted(v) if args[1] in ("CHANNELS", "SHARDCHANNELS") else v
        for args in [("PUBSUB", "CHANNELS", pre + ":*"), ("PUBSUB", "CHANNELS", pre + ":1?"),
                     ("PUBSUB", "NUMSUB", *chans, "none"), ("PUBSUB", "NUMPAT"),
                     ("PUBSUB", "SHARDCHANNELS", pre + "*"),
                     ("PUBSUB", "SHARDNUMSUB", *chans[:4], pre),
                     ("PUBLISH", chans[3], "x"), ("PUBLISH", pre + ":p3", "x")]:
            assert ask(server, *args) == ask(redis_ref, *args), args
        # CLIENT LIST fields of a subscribed client, seen from another connection.
        fields = {}
        for srv in (server, redis_ref):
            with srv.raw() as probe:
                line = decode(probe.cmd("CLIENT", "LIST", "ID", ids[srv])).decode()
            kv = dict(f.split("=", 1) for f in line.split())
            fields[srv] = {k: kv[k] for k in ("flags", "sub", "psub", "ssub")}
        assert fields[server] == fields[redis_ref] == {"flags": "P", "sub": "3", "psub": "2",
                                                      "ssub": "1"}
    finally:
        for cs in conns.values():
            close_all(cs)


def test_info_stats(server):
    with server.raw() as probe:
        def stats():
            text = decode(probe.cmd("INFO", "stats")).decode()
            kv = dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)
            return (int(kv["pubsub_channels"]), int(kv["pubsub_patterns"]),
                    int(kv["pubsubshard_channels"]))
        wait_for(lambda: stats() == (0, 0, 0), 5, what="no subscriptions from other tests")
        subs, _ = spread_conns(server, 6)
        try:
            for i, c in enumerate(subs):
                c.send(encode("SUBSCRIBE", uniq("i"), "shared"))
                read_n(c, 2)
                c.send(encode("PSUBSCRIBE", f"p{i % 2}*"))
                c.read_reply()
                c.send(encode("SSUBSCRIBE", "s"))
                c.read_reply()
            assert stats() == (len(subs) + 1, 2, 1)
        finally:
            close_all(subs)
        wait_for(lambda: stats() == (0, 0, 0), 5, what="counts back to zero after close")


def test_hostile_pattern_is_bounded(server):
    """A pattern that needs quadratic backtracking against a long channel: PUBLISH answers
    at once (the matcher's work is capped), and ordinary patterns still match."""
    hostile = "*" + "a" * 3000 + "b"    # each resume of the star re-matches 3000 bytes
    c, p = server.raw(), server.raw()
    try:
        c.send(encode("PSUBSCRIBE", hostile, "ok*"))
        read_n(c, 2)
        t0 = time.monotonic()
        for _ in range(3):
            assert p.call("PUBLISH", "a" * 200_000, "x") == 0
        assert time.monotonic() - t0 < 5
        assert p.call("PUBLISH", "ok" + "a" * 100_000, "y") == 1
        assert c.read_reply().endswith(b"$1\r\ny\r\n")
    finally:
        c.close()
        p.close()
