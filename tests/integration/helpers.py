"""Helpers for the corekv integration tests: a raw RESP client, key placement, servers.

Everything here uses only the standard library so that the byte-exact (differential) tests
do not depend on what redis-py does to a reply.
"""
import os
import selectors
import signal
import socket
import subprocess
import time

# Every socket the suite opens gets this timeout, so nothing can hang forever.
SOCK_TIMEOUT = float(os.environ.get("COREKV_TEST_SOCK_TIMEOUT", "10"))

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                     "ERROR: ThreadSanitizer", "WARNING: ThreadSanitizer")


# --------------------------------------------------------------------------------------------
# Key placement (DESIGN.md section 2): slot = CRC16(hashtag(key)) & 16383, shard = slot*N >> 14
# --------------------------------------------------------------------------------------------

def _crc16_table():
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC16 = _crc16_table()


def crc16(data):
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[((crc >> 8) ^ b) & 0xFF]
    return crc


def hashtag(key):
    s = key.find(b"{")
    if s != -1:
        e = key.find(b"}", s + 1)
        if e != -1 and e != s + 1:
            return key[s + 1:e]
    return key


def key_slot(key):
    if isinstance(key, str):
        key = key.encode()
    return crc16(hashtag(key)) & 16383


def shard_of(key, nshards):
    return (key_slot(key) * nshards) >> 14


def keys_per_shard(nshards, prefix="k", per_shard=1):
    """Return a list of lists: for each shard, `per_shard` keys (str) it owns."""
    out = [[] for _ in range(nshards)]
    i = 0
    while any(len(x) < per_shard for x in out):
        k = f"{prefix}{i}"
        s = shard_of(k, nshards)
        if len(out[s]) < per_shard:
            out[s].append(k)
        i += 1
    return out


def spread_keys(nshards, prefix="k", per_shard=1):
    """Keys interleaved over shards: shard0, shard1, ..., shard0, shard1, ..."""
    per = keys_per_shard(nshards, prefix, per_shard)
    return [per[s][j] for j in range(per_shard) for s in range(nshards)]


def two_keys_on_different_shards(nshards, prefix="x"):
    """Two keys on different shards when nshards > 1 (else both on shard 0)."""
    per = keys_per_shard(nshards, prefix)
    if nshards == 1:
        a = per[0][0]
        return a, a + "b"
    return per[0][0], per[-1][0]


# --------------------------------------------------------------------------------------------
# RESP encoding and a raw client that reads exactly one reply
# --------------------------------------------------------------------------------------------

def _b(x):
    if isinstance(x, bytes):
        return x
    if isinstance(x, (bytearray, memoryview)):
        return bytes(x)
    return str(x).encode()


def encode(*args):
    """Encode a command as a RESP2 multibulk."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = _b(a)
        parts.append(b"$%d\r\n" % len(a))
        parts.append(a)
        parts.append(b"\r\n")
    return b"".join(parts)


class ConnClosed(Exception):
    pass


class ProtocolMismatch(Exception):
    pass


def _find_crlf(buf, pos):
    i = buf.find(b"\r\n", pos)
    return i


def reply_end(buf, pos=0):
    """If buf[pos:] starts with one complete RESP2/RESP3 reply, return the index just past it,
    else return None (incomplete). Raises ProtocolMismatch on a malformed reply."""
    if pos >= len(buf):
        return None
    t = buf[pos:pos + 1]
    e = _find_crlf(buf, pos)
    if e == -1:
        return None
    line = buf[pos + 1:e]
    nxt = e + 2
    if t in (b"+", b"-", b":", b",", b"#", b"(", b"_"):
        return nxt
    if t in (b"$", b"=", b"!"):
        n = int(line)
        if n < 0:
            return nxt
        if len(buf) < nxt + n + 2:
            return None
        if buf[nxt + n:nxt + n + 2] != b"\r\n":
            raise ProtocolMismatch("bulk not terminated by CRLF at %d" % (nxt + n))
        return nxt + n + 2
    if t in (b"*", b"~", b">", b"%", b"|"):
        n = int(line)
        if n < 0:
            return nxt
        if t in (b"%", b"|"):
            n *= 2
        p = nxt
        for _ in range(n):
            p = reply_end(buf, p)
            if p is None:
                return None
        if t == b"|":  # an attribute precedes the real reply
            return reply_end(buf, p)
        return p
    raise ProtocolMismatch("unknown reply type %r at %d: %r" % (t, pos, bytes(buf[pos:pos + 40])))


class Err(str):
    """An error reply, decoded."""


def decode(raw):
    """Decode one complete raw reply to Python values (bytes, int, list, dict, None, Err)."""
    val, end = _decode(raw, 0)
    if end != len(raw):
        raise ProtocolMismatch("trailing bytes after reply")
    return val


def _decode(buf, pos):
    t = buf[pos:pos + 1]
    e = buf.find(b"\r\n", pos)
    line = buf[pos + 1:e]
    nxt = e + 2
    if t == b"+":
        return line, nxt
    if t == b"-":
        return Err(line.decode(errors="replace")), nxt
    if t in (b":", b"("):
        return int(line), nxt
    if t == b",":
        return float(line), nxt
    if t == b"#":
        return line == b"t", nxt
    if t == b"_":
        return None, nxt
    if t in (b"$", b"=", b"!"):
        n = int(line)
        if n < 0:
            return None, nxt
        return bytes(buf[nxt:nxt + n]), nxt + n + 2
    if t in (b"*", b"~", b">"):
        n = int(line)
        if n < 0:
            return None, nxt
        out = []
        for _ in range(n):
            v, nxt = _decode(buf, nxt)
            out.append(v)
        return out, nxt
    if t == b"%":
        n = int(line)
        out = {}
        for _ in range(n):
            k, nxt = _decode(buf, nxt)
            v, nxt = _decode(buf, nxt)
            out[k if not isinstance(k, list) else tuple(k)] = v
        return out, nxt
    if t == b"|":
        n = int(line)
        for _ in range(2 * n):
            _, nxt = _decode(buf, nxt)
        return _decode(buf, nxt)
    raise ProtocolMismatch("unknown reply type %r" % t)


class RawConn:
    """A raw TCP connection speaking RESP by hand. Every socket has a timeout."""

    def __init__(self, host, port, timeout=SOCK_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def settimeout(self, t):
        self.sock.settimeout(t)

    def send(self, data):
        self.sock.sendall(_b(data))

    def _fill(self):
        if self.eof:
            raise ConnClosed("connection closed by server")
        try:
            d = self.sock.recv(1 << 20)
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            raise ConnClosed("connection closed by server")
        self.buf += d

    def read_reply(self):
        """Read exactly one reply and return its raw bytes."""
        while True:
            end = reply_end(self.buf, 0)
            if end is not None:
                raw = bytes(self.buf[:end])
                del self.buf[:end]
                return raw
            self._fill()

    def cmd(self, *args):
        """Send one command (multibulk) and return the raw bytes of its reply."""
        self.send(encode(*args))
        return self.read_reply()

    def call(self, *args):
        """Send one command and return the decoded reply."""
        return decode(self.cmd(*args))

    def read_until_close(self, timeout=None):
        """Read everything until the server closes. Returns the bytes read (after any
        buffered bytes). Raises socket.timeout if the server keeps the connection open."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        out = bytes(self.buf)
        self.buf = bytearray()
        while True:
            try:
                d = self.sock.recv(1 << 20)
            except ConnectionResetError:
                d = b""
            if not d:
                self.eof = True
                return out
            out += d

    def read_exact_bytes(self, n):
        while len(self.buf) < n:
            self._fill()
        raw = bytes(self.buf[:n])
        del self.buf[:n]
        return raw

    def is_closed(self, timeout=2.0):
        """True if the server closes this connection within `timeout` (no data expected)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not d:
                return True
            self.buf += d


def wait_for(cond, timeout, interval=0.005, what="condition"):
    """Poll cond() until it is truthy or the deadline passes; returns its last value.
    The interval grows a little so a long wait does not spin."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.05)


# --------------------------------------------------------------------------------------------
# Spawning servers
# --------------------------------------------------------------------------------------------

def shard_counts():
    """The shard counts under test (env COREKV_SHARDS, default 1,2,4,8)."""
    return [int(x) for x in os.environ.get("COREKV_SHARDS", "1,2,4,8").replace(" ", "").split(",")
            if x]


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _pdeathsig():
    # The server dies with the test process, even if pytest is killed.
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def is_redis_binary(path):
    return os.path.basename(path).startswith("redis-server")


def io_args():
    """corekv's reactor for this run: COREKV_IO=epoll|uring|auto (make test runs the suite
    once per reactor); unset, the server's default."""
    io = os.environ.get("COREKV_IO")
    return ["--io", io] if io else []


class Server:
    """A spawned server (corekv, or redis-server for the reference side)."""

    def __init__(self, binary, shards, logdir, name, extra=()):
        self.binary = binary
        self.shards = shards
        self.logdir = logdir
        self.name = name
        self.extra = list(extra)
        self.host = "127.0.0.1"
        self.port = None
        self.proc = None
        self.log_path = None
        self.log_offset = 0
        self.starts = 0

    def argv(self, port):
        if is_redis_binary(self.binary):
            return [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--databases", "1", "--daemonize", "no",
                    "--logfile", ""] + self.extra
        # No save rules unless a test asks, as for the reference redis-server above.
        return [self.binary, "--port", str(port), "--bind", "127.0.0.1",
                "--shards", str(self.shards), "--save", ""] + io_args() + self.extra

    def start(self, timeout=20.0):
        last_err = None
        for _attempt in range(5):
            self.starts += 1
            self.port = free_port()
            self.log_path = os.path.join(self.logdir, f"{self.name}-{self.starts}.log")
            self.log_offset = 0
            logf = open(self.log_path, "wb")
            env = dict(os.environ)
            env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
            self.proc = subprocess.Popen(self.argv(self.port), stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env,
                                         preexec_fn=_pdeathsig)
            logf.close()
            try:
                self._wait_ready(timeout)
                return
            except Exception as e:  # retry on a port race, fail otherwise
                last_err = e
                if self.proc.poll() is None:
                    self.stop()
                text = self.log_text()
                if "in use" not in text.lower():
                    break
        raise RuntimeError(f"{self.name}: server did not start: {last_err}\n--- log "
                           f"{self.log_path} ---\n{self.log_text()[-4000:]}")

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        interval = 0.005
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with status {self.proc.returncode}")
            try:
                with RawConn(self.host, self.port, timeout=2) as c:
                    if c.cmd("PING") == b"+PONG\r\n":
                        return
            except (OSError, ConnClosed):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("no PONG within %.0fs" % timeout)
            time.sleep(interval)
            interval = min(interval * 2, 0.1)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after a deadline. Returns (exit status, killed)."""
        if self.proc is None:
            return None, False
        killed = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                killed = True
        return self.proc.returncode, killed

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except (OSError, TypeError):
            return ""

    def new_log_text(self):
        """Log written since the last call."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                data = f.read()
                self.log_offset += len(data)
                return data.decode(errors="replace")
        except (OSError, TypeError):
            return ""

    def raw(self, timeout=SOCK_TIMEOUT):
        return RawConn(self.host, self.port, timeout=timeout)

    def client(self, **kw):
        import redis
        kw.setdefault("socket_timeout", SOCK_TIMEOUT)
        kw.setdefault("socket_connect_timeout", SOCK_TIMEOUT)
        return redis.Redis(host=self.host, port=self.port, **kw)


def sanitizer_report(text):
    for m in SANITIZER_MARKERS:
        i = text.find(m)
        if i != -1:
            return text[max(0, i - 200):i + 3000]
    return None


# --------------------------------------------------------------------------------------------
# Differential runs
# --------------------------------------------------------------------------------------------

class Loose:
    """A command whose reply may legitimately differ between servers; `check(core, ref)`
    receives both raw replies and returns True if they are acceptable. The default check
    compares the reply type only."""

    def __init__(self, *args, check=None):
        self.args = args
        self.check = check or (lambda a, b: a[:1] == b[:1])


def run_script(conn, script):
    out = []
    for c in script:
        args = c.args if isinstance(c, Loose) else c
        out.append(conn.cmd(*args))
    return out


def _show(c):
    args = c.args if isinstance(c, Loose) else c
    return " ".join(repr(_b(a))[2:-1] if len(_b(a)) < 80 else repr(_b(a)[:60])[2:-1] + "..."
                    for a in args)


def _clip(x, start, width=240):
    s = max(0, start - 40)
    return ("..." if s else "") + repr(x[s:s + width]) + ("..." if len(x) > s + width else "")


def fmt_pair(ref, got):
    """Show an expected (redis-server) and actual (corekv) reply, clipped around the first
    difference when they are long."""
    if len(ref) <= 300 and len(got) <= 300:
        return f"    redis-server: {ref!r}\n    corekv:       {got!r}"
    i = 0
    while i < min(len(ref), len(got)) and ref[i] == got[i]:
        i += 1
    return (f"    (first difference at byte {i}; lengths {len(ref)} vs {len(got)})\n"
            f"    redis-server: {_clip(ref, i)}\n    corekv:       {_clip(got, i)}")


_DUMP = os.environ.get("COREKV_TEST_DUMP") == "1"


def compare_scripts(core_conn, ref_conn, script):
    """Run the script on both connections; return a list of mismatch descriptions."""
    diffs = []
    for c in script:
        args = c.args if isinstance(c, Loose) else c
        a = core_conn.cmd(*args)
        b = ref_conn.cmd(*args)
        ok = c.check(a, b) if isinstance(c, Loose) else a == b
        if _DUMP:
            print(f"{_show(c)[:100]}  ->  {b[:150]!r}{'' if ok else '   !! corekv: %r' % a[:150]}")
        if not ok:
            diffs.append(f"  {_show(c)}\n" + fmt_pair(b, a))
    return diffs


def probe_open(conn):
    """After a complete exchange: 'open' if the connection still answers PING, 'closed' if
    the server closed it, or the unexpected bytes."""
    try:
        conn.send(b"*1\r\n$4\r\nPING\r\n")
        r = conn.read_reply()
    except (ConnClosed, BrokenPipeError, ConnectionResetError):
        return "closed"
    return "open" if r == b"+PONG\r\n" else r


def exchange(conn, data, nreplies, probe=True):
    """Send raw bytes, read up to nreplies replies; returns (replies, state) where state is
    'open', 'closed' or unexpected bytes."""
    replies = []
    try:
        conn.send(data)
        for _ in range(nreplies):
            replies.append(conn.read_reply())
    except (ConnClosed, BrokenPipeError, ConnectionResetError):
        return replies, "closed"
    if not probe:
        return replies, None
    return replies, probe_open(conn)


# --------------------------------------------------------------------------------------------
# Connections on a given shard (corekv: the low 6 bits of a client id name its shard)
# --------------------------------------------------------------------------------------------

def real_shards(server):
    return 1 if is_redis_binary(server.binary) else server.shards


def client_shard(conn, nshards):
    # corekv: the low 6 bits of a client id name the connection's shard.
    return (conn.call("CLIENT", "ID") & 63) if nshards > 1 else 0


def conn_on_shard(server, shard):
    """A raw connection owned by `shard` (any connection with one shard)."""
    n = real_shards(server)
    spare = []
    try:
        for _ in range(200):
            c = server.raw()
            if client_shard(c, n) == shard % n:
                return c
            spare.append(c)
    finally:
        for c in spare:
            c.close()
    raise AssertionError(f"no connection landed on shard {shard} in 200 tries")


# --------------------------------------------------------------------------------------------
# Blocked clients (INFO blocked_clients) and many raw connections read with a selector
# --------------------------------------------------------------------------------------------

def blocked_clients(server):
    with server.raw() as c:
        info = bulk_text(c.cmd("INFO", "clients"))
    for line in info.split("\r\n"):
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    raise AssertionError("no blocked_clients in INFO clients")


def bulk_text(raw):
    """A bulk (or verbatim) reply as str."""
    v = decode(raw)
    return v.decode() if isinstance(v, bytes) else v


def wait_blocked(server, n, timeout=10.0):
    wait_for(lambda: blocked_clients(server) == n, timeout, what=f"{n} blocked clients")


def no_reply_yet(conn, wait=0.15):
    """True when nothing arrives on conn within `wait` seconds (a blocked client)."""
    conn.settimeout(wait)
    try:
        conn._fill()
    except socket.timeout:
        return True
    finally:
        conn.settimeout(10)
    return False


class Clients:
    """Many raw connections driven from one thread with a selector."""

    def __init__(self, server, n):
        self.socks = []
        self.bufs = {}
        for _ in range(n):
            s = socket.create_connection((server.host, server.port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socks.append(s)
            self.bufs[s] = bytearray()

    def replies(self, timeout, want=1, only=None):
        """Read until every socket (of `only`) has `want` complete replies, or EOF. Returns
        {sock: [raw replies]}; socks that reached EOF are in self.eof."""
        socks = only if only is not None else self.socks
        got = {s: [] for s in socks}
        self.eof = set()
        sel = selectors.DefaultSelector()
        pending = 0
        for s in socks:
            self._split(s, got[s])
            if len(got[s]) < want:
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ)
                pending += 1
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(0.2):
                s = key.fileobj
                try:
                    d = s.recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    d = b""
                if d:
                    self.bufs[s] += d
                    self._split(s, got[s])
                if not d or len(got[s]) >= want:
                    if not d:
                        self.eof.add(s)
                    sel.unregister(s)
                    pending -= 1
        sel.close()
        for s in socks:
            s.setblocking(True)
        return got

    def _split(self, s, out):
        b = self.bufs[s]
        while True:
            end = reply_end(b, 0)
            if end is None:
                return
            out.append(bytes(b[:end]))
            del b[:end]

    def close(self):
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
