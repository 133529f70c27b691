"""Pub/sub fan-out across shards: every subscriber gets every message exactly once and in
publishing order, wherever publisher and subscribers live (CLIENT ID & 63 is a connection's
shard); PUBLISH replies the exact receiver count; channel and pattern overlaps deliver twice
as Redis does; RESP3 push frames; large bodies; slow subscribers cut at the pubsub output
limits without hurting anyone else; unsubscribing while messages are in flight.

Streams are checked as raw bytes: payloads carry a fixed-width sequence number, so a
subscriber's whole stream is known in advance and one comparison proves exactly-once and
order. The same tests pass against redis-server (COREKV_BIN=/usr/bin/redis-server)."""
import collections
import selectors
import socket
import time

import pytest

from helpers import RawConn, encode, is_redis_binary, reply_end, wait_for

PONG2 = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"     # PING in RESP2 subscribed mode
DEFAULT_PUBSUB_LIMIT = "pubsub 33554432 8388608 60"


# ------------------------------------------------------------------------------ frames

def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def message(ch, payload, resp3=False):
    return (b">3\r\n" if resp3 else b"*3\r\n") + b"$7\r\nmessage\r\n" + bulk(ch) + bulk(payload)


def pmessage(pat, ch, payload, resp3=False):
    return ((b">4\r\n" if resp3 else b"*4\r\n") + b"$8\r\npmessage\r\n" + bulk(pat) + bulk(ch)
            + bulk(payload))


def ack(kind, name, count, resp3=False):
    return (b">3\r\n" if resp3 else b"*3\r\n") + bulk(kind) + bulk(name) + b":%d\r\n" % count


def split_frames(buf):
    """Complete replies of buf, raw; the incomplete tail is left out."""
    out, pos = [], 0
    while True:
        end = reply_end(buf, pos)
        if end is None:
            return out
        out.append(bytes(buf[pos:end]))
        pos = end


def check_stream(label, got, expected, frame_len=None):
    """got == expected, or a failure naming the first frame that differs."""
    if got == expected:
        return
    i = next((j for j in range(min(len(got), len(expected))) if got[j] != expected[j]),
             min(len(got), len(expected)))
    at = f"frame {i // frame_len} (byte {i})" if frame_len else f"byte {i}"
    lo = (i // frame_len) * frame_len if frame_len else max(0, i - 40)
    span = frame_len or 80
    pytest.fail(f"{label}: stream differs at {at}: got {len(got)} bytes, expected "
                f"{len(expected)}\n  got      {bytes(got[lo:lo + span])!r}\n  expected "
                f"{bytes(expected[lo:lo + span])!r}", pytrace=False)


# ------------------------------------------------------------------------- connections

class Net:
    """The test's server; every connection opened through it is closed after the test,
    so subscriptions never outlive a test (FLUSHALL does not touch them)."""

    def __init__(self, server):
        self.server, self.conns = server, []

    def __getattr__(self, name):
        return getattr(self.server, name)

    def raw(self, timeout=10):
        c = self.server.raw(timeout)
        self.conns.append(c)
        return c

    def track(self, c):
        self.conns.append(c)
        return c

    def close_all(self):
        for c in self.conns:
            c.close()


@pytest.fixture
def net(server):
    n = Net(server)
    yield n
    n.close_all()


def is_redis(server):
    return is_redis_binary(server.binary)


def hello3(c):
    rep = c.cmd("HELLO", "3")
    assert rep.startswith(b"%"), rep[:80]


def client_shard(c):
    return c.call("CLIENT", "ID") & 63


def spread_conns(server, n, resp3=None):
    """n connections covering every shard of a corekv server when n >= shards (the kernel
    spreads accepts by hash; a connection on a crowded shard is swapped for a new one on
    a missing shard). resp3(i) tells whether connection i speaks RESP3. Returns
    [connection, shard] pairs."""
    nsh = server.shards

    def open_one():
        c = server.raw()
        sh = client_shard(c)
        c.label = f"a connection on shard {sh}"
        return [c, sh]

    conns = [open_one() for _ in range(n)]
    if not (is_redis(server) or nsh == 1 or n < nsh):
        for _ in range(40 * nsh):
            have = collections.Counter(sh for _, sh in conns)
            if len(have) == nsh:
                break
            cand = open_one()
            if cand[1] in have:
                cand[0].close()
                continue
            crowded = have.most_common(1)[0][0]
            i = next(i for i, (_, sh) in enumerate(conns) if sh == crowded)
            conns[i][0].close()
            conns[i] = cand
        shards = {sh for _, sh in conns}
        assert shards == set(range(nsh)), f"connections on shards {sorted(shards)} of {nsh}"
    for i, (c, _) in enumerate(conns):
        if resp3 and resp3(i):
            hello3(c)
    return conns


class SlowConn(RawConn):
    """A connection with a tiny receive buffer, so that what it does not read piles up in
    the server instead of the kernel."""

    def __init__(self, server, rcvbuf=4096):  # noqa: super().__init__ would connect first
        server.track(self)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(10)
        s.connect((server.host, server.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buf, self.eof = s, bytearray(), False


def subscribe(c, ch, resp3=False, kind=b"subscribe", count=1):
    cmd = {b"subscribe": "SUBSCRIBE", b"psubscribe": "PSUBSCRIBE"}[kind]
    c.send(encode(cmd, ch))
    assert c.read_reply() == ack(kind, ch, count, resp3)


class Pump:
    """Reads every registered connection into its buffer until a condition holds."""

    def __init__(self, conns):
        self.sel = selectors.DefaultSelector()
        for c in conns:
            self.sel.register(c.sock, selectors.EVENT_READ, c)

    def close(self):
        self.sel.close()

    def run(self, done, what, timeout=30.0, on_data=None, may_close=()):
        """may_close: connections the server may close (any other closing fails)."""
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            for key, _ in self.sel.select(min(left, 0.5)):
                c = key.data
                try:
                    d = c.sock.recv(1 << 20)
                except ConnectionResetError:
                    d = b""
                if not d:
                    c.eof = True
                    self.sel.unregister(c.sock)
                    if not any(c is x for x in may_close):
                        raise AssertionError(f"waiting for {what}: the server closed "
                                             f"{getattr(c, 'label', 'a connection')} after "
                                             f"{len(c.buf)} bytes")
                    continue
                c.buf += d
                if on_data:
                    on_data(c)


def int_replies(buf, n, label="PUBLISH"):
    """The first n replies of buf, all integers; removes them from buf."""
    lines = bytes(buf).split(b"\r\n")[:n]
    bad = [x for x in lines if not x.startswith(b":")]
    assert not bad, f"{label} replied {bad[0][:200]!r}"
    del buf[:sum(len(x) + 2 for x in lines)]
    return [int(x[1:]) for x in lines]


def publish_chunks(pump, pubs, ch, payloads_by_pub, chunk, **pump_kw):
    """Every publisher sends its payloads on ch, `chunk` PUBLISHes per write, all
    publishers a chunk at a time; the pump reads subscribers meanwhile (pump_kw: more
    arguments of Pump.run). Returns each publisher's replies."""
    counts = [[] for _ in pubs]
    for start in range(0, max(len(p) for p in payloads_by_pub), chunk):
        sent = []
        for pub, payloads in zip(pubs, payloads_by_pub):
            part = payloads[start:start + chunk]
            pub.send(b"".join(encode("PUBLISH", ch, p) for p in part))
            sent.append(len(part))
        pump.run(lambda: all(p.buf.count(b"\r\n") >= k for p, k in zip(pubs, sent)),
                 "PUBLISH replies", **pump_kw)
        for i, (pub, k) in enumerate(zip(pubs, sent)):
            counts[i] += int_replies(pub.buf, k)
    return counts


def finish_with_ping(pump, subs, expected_len):
    """Waits for every subscriber's expected bytes, then a PING round trip each: nothing
    may arrive between the last message and the pong."""
    pump.run(lambda: all(len(c.buf) >= n for c, n in zip(subs, expected_len)),
             "every message at every subscriber")
    for c in subs:
        c.send(encode("PING"))
    pump.run(lambda: all(len(c.buf) >= n + len(PONG2) for c, n in zip(subs, expected_len)),
             "PING replies")


# ------------------------------------------------------------------------------- tests

def test_fanout_10000_messages_to_50_subscribers(net):
    """One publisher, 50 subscribers over every shard: each gets all 10,000 messages once,
    in order; every PUBLISH replies 50."""
    ch, nsubs, nmsgs = b"fan", 50, 10000
    conns = spread_conns(net, nsubs)
    subs = [c for c, _ in conns]
    for c in subs:
        subscribe(c, ch)
    pub = net.raw()
    assert pub.call("PUBSUB", "NUMSUB", ch) == [ch, nsubs]
    payloads = [b"m%07d" % i for i in range(nmsgs)]
    expected = b"".join(message(ch, p) for p in payloads)
    pump = Pump(subs + [pub])
    try:
        counts = publish_chunks(pump, [pub], ch, [payloads], 500)[0]
        finish_with_ping(pump, subs, [len(expected)] * nsubs)
    finally:
        pump.close()
    assert collections.Counter(counts) == {nsubs: nmsgs}
    frame = len(message(ch, payloads[0]))
    for c, sh in conns:
        check_stream(f"subscriber on shard {sh}", c.buf, expected + PONG2, frame)
    for c in subs + [pub]:
        c.close()


def test_publishers_on_several_shards_keep_their_order(net):
    """A publisher on every shard at once: every subscriber gets every publisher's
    messages exactly once and each publisher's in its order."""
    ch, nsubs, per_pub = b"multi", 20, 1000
    pubs = [c for c, _ in spread_conns(net, max(2, net.shards))]
    subs = [c for c, _ in spread_conns(net, nsubs)]
    for c in subs:
        subscribe(c, ch)
    payloads = [[b"p%02d:%06d" % (p, i) for i in range(per_pub)] for p in range(len(pubs))]
    frame = len(message(ch, payloads[0][0]))
    total = frame * per_pub * len(pubs)
    pump = Pump(subs + pubs)
    try:
        counts = publish_chunks(pump, pubs, ch, payloads, 200)
        finish_with_ping(pump, subs, [total] * nsubs)
    finally:
        pump.close()
    for i, cs in enumerate(counts):
        assert collections.Counter(cs) == {nsubs: per_pub}, f"publisher {i}"
    plen = len(payloads[0][0])
    prefix = message(ch, payloads[0][0])[:-(plen + 2)]
    for n, c in enumerate(subs):
        assert len(c.buf) == total + len(PONG2) and c.buf.endswith(PONG2), \
            f"subscriber {n}: {len(c.buf)} bytes, expected {total + len(PONG2)}"
        seqs = collections.defaultdict(list)
        for off in range(0, total, frame):
            f = bytes(c.buf[off:off + frame])
            assert f.startswith(prefix) and f.endswith(b"\r\n"), f"subscriber {n}: {f!r}"
            p, s = f[len(prefix) + 1:-2].split(b":")
            seqs[int(p)].append(int(s))
        for p in range(len(pubs)):
            assert seqs[p] == list(range(per_pub)), \
                f"subscriber {n}: publisher {p}'s messages out of order or missing"
    for c in subs + pubs:
        c.close()


def test_channel_and_pattern_overlaps(net):
    """A message matching a channel and patterns of one subscriber reaches it once per
    subscription (message, then pmessage per pattern); PUBLISH counts every delivery."""
    tech, sport = b"news.tech", b"news.sport"
    p_news, p_glob, p_other = b"news.*", b"n*s.t?ch", b"other.*"
    # (subscriptions, resp3): what each subscriber holds
    plan = [([tech], []), ([], [p_news]), ([tech], [p_news, p_glob]), ([], [p_other]),
            ([tech], [p_news]), ([tech], [p_glob])]
    resp3 = {4, 5}
    conns = spread_conns(net, len(plan), resp3=lambda i: i in resp3)
    subs = [c for c, _ in conns]
    for i, (c, (chans, pats)) in enumerate(zip(subs, plan)):
        n = 0
        for x in chans:
            n += 1
            subscribe(c, x, i in resp3, b"subscribe", n)
        for x in pats:
            n += 1
            subscribe(c, x, i in resp3, b"psubscribe", n)
    pub = net.raw()
    assert pub.call("PUBSUB", "NUMSUB", tech, sport) == [tech, 4, sport, 0]
    assert pub.call("PUBSUB", "NUMPAT") == 3
    assert pub.call("PUBSUB", "CHANNELS") == [tech]

    def matches(pat, ch):
        return {p_news: ch.startswith(b"news."), p_glob: ch == tech, p_other: False}[pat]

    def frames_for(i, ch, payload):
        chans, pats = plan[i]
        out = [message(ch, payload, i in resp3)] if ch in chans else []
        return out + [pmessage(p, ch, payload, i in resp3) for p in pats if matches(p, ch)]

    sends = [(tech if j % 3 else sport, b"o%05d" % j) for j in range(300)]
    pump = Pump(subs + [pub])
    try:
        for start in range(0, len(sends), 100):
            part = sends[start:start + 100]
            pub.send(b"".join(encode("PUBLISH", ch, p) for ch, p in part))
            pump.run(lambda: pub.buf.count(b"\r\n") >= len(part), "PUBLISH replies")
            got = int_replies(pub.buf, len(part))
            want = [sum(len(frames_for(i, ch, p)) for i in range(len(plan))) for ch, p in part]
            assert got == want
        want_len = [sum(len(b"".join(frames_for(i, ch, p))) for ch, p in sends)
                    for i in range(len(plan))]
        pump.run(lambda: all(len(c.buf) >= n for c, n in zip(subs, want_len)), "deliveries")
    finally:
        pump.close()
    for i, c in enumerate(subs):
        got = split_frames(c.buf)
        assert b"".join(got) == bytes(c.buf), f"subscriber {i}: trailing partial frame"
        pos = 0
        for ch, p in sends:
            want = frames_for(i, ch, p)
            group = got[pos:pos + len(want)]
            # One publish's frames come together; message first, patterns in any order.
            assert sorted(group) == sorted(want), f"subscriber {i} at {p!r}: {group!r}"
            if want and want[0].startswith((b"*3", b">3")):
                assert group[0] == want[0], f"subscriber {i}: message not before pmessage"
            pos += len(want)
        assert pos == len(got), f"subscriber {i}: {len(got) - pos} extra frames"
    for c in subs + [pub]:
        c.close()


@pytest.mark.differential
def test_overlap_stream_matches_redis(net, redis_ref):
    """A subscriber holding a channel and a pattern that match: acks and both frames of
    every message byte for byte as redis-net sends them, in RESP2 and RESP3."""
    streams = []
    for srv in (net, redis_ref):
        out = []
        for proto3 in (False, True):
            sub, pub = srv.raw(), srv.raw()
            if proto3:
                hello3(sub)
            sub.send(encode("SUBSCRIBE", "a.b", "c") + encode("PSUBSCRIBE", "a.*", "z*"))
            replies = [sub.read_reply() for _ in range(4)]
            counts = [pub.call("PUBLISH", ch, m) for ch, m in
                      (("a.b", "one"), ("c", "two"), ("a.x", "three"), ("zz", ""))]
            replies += [sub.read_reply() for _ in range(5)]
            sub.send(encode("UNSUBSCRIBE", "c", "a.b") + encode("PUNSUBSCRIBE", "a.*")
                     + encode("PING"))
            replies += [sub.read_reply() for _ in range(4)]
            out.append((replies, counts))
            sub.close()
            pub.close()
        streams.append(out)
    assert streams[0] == streams[1]


def test_resp3_and_resp2_subscribers_on_one_channel(net):
    """RESP3 subscribers get >3 push frames, RESP2 ones *3 arrays, from the same publishes."""
    ch, nsubs, nmsgs = b"mixed", 24, 2000
    conns = spread_conns(net, nsubs, resp3=lambda i: i % 2 == 1)
    subs = [c for c, _ in conns]
    for i, c in enumerate(subs):
        subscribe(c, ch, i % 2 == 1)
    pub = net.raw()
    payloads = [b"r%05d" % i for i in range(nmsgs)]
    want = [b"".join(message(ch, p, r3) for p in payloads) for r3 in (False, True)]
    pump = Pump(subs + [pub])
    try:
        counts = publish_chunks(pump, [pub], ch, [payloads], 500)[0]
        pump.run(lambda: all(len(c.buf) >= len(want[i % 2]) for i, c in enumerate(subs)),
                 "deliveries")
        for c in subs:
            c.send(encode("PING"))
        pump.run(lambda: all(len(c.buf) > len(want[i % 2]) and reply_end(
            c.buf, len(want[i % 2])) for i, c in enumerate(subs)), "PING replies")
    finally:
        pump.close()
    assert collections.Counter(counts) == {nsubs: nmsgs}
    for i, c in enumerate(subs):
        pong = b"+PONG\r\n" if i % 2 else PONG2
        check_stream(f"subscriber {i} (RESP{3 if i % 2 else 2}, shard {conns[i][1]})",
                     c.buf, want[i % 2] + pong)
    for c in subs + [pub]:
        c.close()


def test_large_messages_to_many_subscribers(net):
    """64 KB and 1 MB bodies (and small ones between them) arrive intact everywhere."""
    ch, nsubs = b"big", 12
    conns = spread_conns(net, nsubs, resp3=lambda i: i % 3 == 2)
    subs = [c for c, _ in conns]
    for i, c in enumerate(subs):
        subscribe(c, ch, i % 3 == 2)
    sizes = [65536, 1 << 20, 100, 65537, 1 << 20, 0, 65535, 7]
    bodies = [(b"%07d|" % i * (s // 8 + 1))[:s] for i, s in enumerate(sizes)]
    pub = net.raw()
    want = [b"".join(message(ch, b, r3) for b in bodies) for r3 in (False, True)]
    pump = Pump(subs + [pub])
    try:
        for b in bodies:
            pub.send(encode("PUBLISH", ch, b))
            pump.run(lambda: b"\r\n" in pub.buf, "PUBLISH reply")
            assert int_replies(pub.buf, 1) == [nsubs]
        pump.run(lambda: all(len(c.buf) >= len(want[i % 3 == 2]) for i, c in enumerate(subs)),
                 "large deliveries")
    finally:
        pump.close()
    for i, c in enumerate(subs):
        check_stream(f"subscriber {i} (shard {conns[i][1]})", c.buf, want[i % 3 == 2])
    for c in subs + [pub]:
        c.close()


class OutputLimit:
    """CONFIG SET client-output-buffer-limit for one test, then back to the default."""

    def __init__(self, server, value):
        self.server, self.value = server, value

    def __enter__(self):
        with self.server.raw() as c:
            assert c.cmd("CONFIG", "SET", "client-output-buffer-limit", self.value) == b"+OK\r\n"

    def __exit__(self, *exc):
        with self.server.raw() as c:
            c.cmd("CONFIG", "SET", "client-output-buffer-limit", DEFAULT_PUBSUB_LIMIT)


class Checked:
    """A fast subscriber's stream, checked frame by frame as it arrives (fixed-size
    frames) and dropped, so a long run keeps no copy."""

    def __init__(self, conn, ch, payload_of):
        self.c, self.ch, self.payload_of, self.n = conn, ch, payload_of, 0

    def consume(self):
        frame = len(message(self.ch, self.payload_of(0)))
        buf = self.c.buf
        while len(buf) >= frame:
            want = message(self.ch, self.payload_of(self.n))
            if buf[:frame] != want:
                check_stream("fast subscriber", bytes(buf[:frame]), want, frame)
            del buf[:frame]
            self.n += 1


def run_slow_subscriber(server, ch, body, until_gone, after=3, fill=None):
    """Fast subscribers on every shard, one that never reads (tiny receive buffer); the
    publisher sends `body`-sized messages, 16 per write, each round awaited by the fast
    subscribers, until until_gone(counts, elapsed) (or 64 MB), then `after` more rounds.
    Past `fill` bytes sent, the rounds are paced to 20 a second (a soft limit is a matter
    of time, not volume). Returns (counts, seconds until gone, slow connection, payload_of,
    messages sent)."""
    fast = [c for c, _ in spread_conns(server, max(3, server.shards))]
    slow = SlowConn(server)
    for c in fast + [slow]:
        subscribe(c, ch)
    pub = server.raw()

    def payload_of(i):
        return b"%08d" % i + body[8:]

    checked = [Checked(c, ch, payload_of) for c in fast]
    pump = Pump(fast + [pub])
    counts, sent, t0, gone_at = [], 0, time.monotonic(), None
    try:
        while gone_at is None or sent < gone_at[0] + after * 16:
            part = [payload_of(i) for i in range(sent, sent + 16)]
            pub.send(b"".join(encode("PUBLISH", ch, p) for p in part))
            sent += len(part)
            pump.run(lambda: pub.buf.count(b"\r\n") >= len(part), "PUBLISH replies")
            counts += int_replies(pub.buf, len(part))
            pump.run(lambda: all(k.consume() or k.n >= sent for k in checked),
                     "fast subscribers")
            if gone_at is None and until_gone(counts, time.monotonic() - t0):
                gone_at = (sent, time.monotonic() - t0)
            if fill is not None and sent * len(body) >= fill:
                time.sleep(0.05)    # pacing the load, not waiting for a state
            assert gone_at or sent * len(body) < 64 << 20, \
                f"slow subscriber still there after {sent} messages; counts {counts[-3:]}"
    finally:
        pump.close()
    nfast = len(fast)
    assert counts[0] == nfast + 1, "the slow subscriber counts before it is cut"
    assert all(a >= b for a, b in zip(counts, counts[1:])) and set(counts) <= {nfast, nfast + 1}
    assert counts[-after * 16:] == [nfast] * (after * 16)
    assert all(k.n == sent for k in checked)
    assert pub.call("PUBSUB", "NUMSUB", ch) == [ch, nfast]
    for c in fast + [pub]:
        c.close()
    return counts, gone_at[1], slow, payload_of, sent


def check_slow_closed(slow, ch, payload_of, sent):
    """The slow subscriber's connection is closed; what it got is a prefix of the stream."""
    try:
        data = slow.read_until_close(timeout=10)
    except socket.timeout:
        pytest.fail("the slow subscriber's connection is still open")
    full_len = len(message(ch, payload_of(0))) * sent
    assert len(data) < full_len
    frame = len(message(ch, payload_of(0)))
    whole = len(data) // frame
    want = b"".join(message(ch, payload_of(i)) for i in range(whole))
    check_stream("slow subscriber", data[:whole * frame], want, frame)
    slow.close()


def test_slow_subscriber_hard_limit(net):
    """Past the hard limit the subscriber that does not read is closed; the publisher's
    replies and the other subscribers' streams go on unaffected."""
    ch, body = b"slow", b"s" * 16384
    with OutputLimit(net, "pubsub 1mb 256kb 60"):
        counts, _, slow, payload_of, sent = run_slow_subscriber(
            net, ch, body, lambda counts, _t: counts[-1] == counts[0] - 1)
    check_slow_closed(slow, ch, payload_of, sent)


@pytest.mark.slow
def test_slow_subscriber_soft_limit(net):
    """With no hard limit, a subscriber over the soft limit for longer than its seconds
    is closed; not before those seconds have passed."""
    ch, body = b"soft", b"t" * 16384
    with OutputLimit(net, "pubsub 0 256kb 1"):
        counts, gone_after, slow, payload_of, sent = run_slow_subscriber(
            net, ch, body, lambda counts, _t: counts[-1] == counts[0] - 1, fill=8 << 20)
    assert gone_after >= 1.0, f"cut after {gone_after:.2f}s, before the soft limit's 1 s"
    check_slow_closed(slow, ch, payload_of, sent)


def test_unsubscribe_while_messages_in_flight(net):
    """Subscribers leave (UNSUBSCRIBE, PUNSUBSCRIBE, closing) while a publisher streams:
    each one's stream is a gapless prefix then its ack, counts fall back to 0."""
    ch, pat, nsubs, nmsgs = b"flight", b"fl*", 16, 4000
    conns = spread_conns(net, nsubs)
    subs = [c for c, _ in conns]
    for i, c in enumerate(subs):
        subscribe(c, pat if i % 4 == 1 else ch, False,
                  b"psubscribe" if i % 4 == 1 else b"subscribe")
    pub = net.raw()
    payloads = [b"f%06d" % i for i in range(nmsgs)]

    def frame_of(i, j):
        return (pmessage(pat, ch, payloads[j]) if i % 4 == 1 else message(ch, payloads[j]))

    flen = [len(frame_of(i, 0)) for i in range(nsubs)]
    leave_at = {i: 200 + (i * 3700) // nsubs for i in range(nsubs)}   # frames seen first
    left = set()

    index = {id(c): i for i, c in enumerate(subs)}

    def on_data(c):
        i = index.get(id(c))
        if i is not None and i not in left and len(c.buf) >= leave_at[i] * flen[i]:
            left.add(i)
            if i % 4 == 3:
                c.sock.shutdown(socket.SHUT_RDWR)      # abrupt close mid-stream
            else:
                c.send(encode("PUNSUBSCRIBE" if i % 4 == 1 else "UNSUBSCRIBE"))

    shut = [c for i, c in enumerate(subs) if i % 4 == 3]
    pump = Pump(subs + [pub])
    try:
        counts = publish_chunks(pump, [pub], ch, [payloads], 250, on_data=on_data,
                                may_close=shut)[0]
        pump.run(lambda: len(left) == nsubs, "every subscriber leaving", on_data=on_data,
                 may_close=shut)
        assert left == set(range(nsubs)), f"subscribers {set(range(nsubs)) - left} never left"
        closers = [c for i, c in enumerate(subs) if i % 4 != 3]
        for c in closers:
            c.send(encode("PING"))
        pump.run(lambda: all(c.buf.endswith(b"+PONG\r\n") for c in closers), "PONGs",
                 may_close=shut)
    finally:
        pump.close()
    assert counts[0] == nsubs and all(a >= b for a, b in zip(counts, counts[1:])), counts[:5]
    for i, c in enumerate(subs):
        if i % 4 == 3:
            c.close()
            continue
        frames = split_frames(c.buf)
        assert frames[-1] == b"+PONG\r\n"
        kind, name = (b"punsubscribe", pat) if i % 4 == 1 else (b"unsubscribe", ch)
        assert frames[-2] == ack(kind, name, 0), f"subscriber {i}: {frames[-2]!r}"
        got = frames[:-2]
        assert len(got) >= leave_at[i] and got == [frame_of(i, j) for j in range(len(got))], \
            f"subscriber {i}: not a gapless prefix of the messages"
        c.close()
    wait_for(lambda: pub.call("PUBSUB", "NUMSUB", ch) == [ch, 0], 5, what="NUMSUB 0")
    wait_for(lambda: pub.call("PUBSUB", "NUMPAT") == 0, 5, what="NUMPAT 0")
    assert pub.call("PUBSUB", "CHANNELS") == []
    assert pub.call("PUBLISH", ch, "after") == 0
    pub.close()
