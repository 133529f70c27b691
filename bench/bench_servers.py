"""bench/run.py's servers and the little it says to them: a minimal RESP client,
INFO fields, starting, pinning, measuring and stopping corekv and redis-server
(see bench/README.md). Standard library only; only ever talks to 127.0.0.1."""

import os
import shlex
import socket
import subprocess
import sys
import time

HOST = "127.0.0.1"          # the only address this script ever targets
SERVER_CPU = "0"            # core the servers are pinned to
CLIENT_CPU = "1"            # core the load generator is pinned to
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# A minimal RESP client (enough for PING, INFO and a pipelined preload).

class Resp:
    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError("unexpected reply %r" % line[:80])

    def call(self, *args):
        self.sock.sendall(self.encode(*args))
        r = self.reply()
        if isinstance(r, RuntimeError):
            raise r
        return r


def info(port, section):
    """INFO section as a dict of field: text."""
    with Resp(port) as c:
        text = c.call("INFO", section)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def info_fields(port, section, *fields):
    """The named integer fields of INFO section (None for a field not there)."""
    got = info(port, section)
    return [int(got[f]) if f in got else None for f in fields]


def info_field(port, section, field):
    return info_fields(port, section, field)[0]


# --------------------------------------------------------------------------
# Servers.

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def proc_cpu_ticks(pid):
    """utime+stime (clock ticks) of the whole process, all threads."""
    with open("/proc/%d/stat" % pid, "rb") as f:
        data = f.read()
    fields = data[data.rindex(b")") + 2:].split()
    # fields[0] is field 3 (state); utime is field 14, stime field 15.
    return int(fields[11]) + int(fields[12])


def core_busy_ticks():
    """Busy clock ticks per CPU from /proc/stat (everything but idle and iowait)."""
    busy = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3:4].isdigit():
                name, *vals = line.split()
                v = [int(x) for x in vals]
                busy[name[3:]] = sum(v[:8]) - v[3] - v[4]   # user..steal minus idle, iowait
    return busy


def is_redis_binary(path):
    return os.path.basename(path).startswith("redis-server")


class Server:
    """label: the side of the comparison ("corekv" or "redis"); name: this
    instance (there are several corekv instances: 1 shard, 2 shards, --cross-shards,
    the log's, one per --io-modes reactor); io: corekv's --io (None: its default);
    reactor: the one it says it runs (INFO corekv_io), known once started."""

    def __init__(self, label, binary, extra_args, workdir, shards=1, name=None, io=None):
        self.label = label
        self.name = name or label
        self.binary = binary
        self.is_redis = is_redis_binary(binary)
        self.io = None if self.is_redis else io
        self.extra = extra_args + (["--io", io] if self.io else [])
        self.workdir = workdir
        self.shards = shards
        self.proc = None
        self.port = None
        self.reactor = None
        self.logpath = os.path.join(workdir, self.name + ".log")

    def argv(self, port):
        if self.is_redis:
            return [self.binary, "--port", str(port), "--bind", HOST,
                    "--save", "", "--appendonly", "no", "--daemonize", "no",
                    "--dir", self.workdir, "--logfile", ""] + self.extra
        # No save rules, as redis-server's --save '': no snapshot during a run.
        return [self.binary, "--port", str(port), "--bind", HOST,
                "--shards", str(self.shards), "--save", ""] + self.extra

    def start(self, timeout=15.0):
        last_err = None
        for _attempt in range(3):
            port = free_port()
            cmd = ["taskset", "-c", SERVER_CPU] + self.argv(port)
            logf = open(self.logpath, "ab")
            logf.write(("$ %s\n" % shlex.join(cmd)).encode())
            logf.flush()
            # Own session: a Ctrl-C on the terminal reaches us, not the
            # servers; we stop them ourselves in cleanup.
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT,
                                         start_new_session=True, cwd=self.workdir)
            logf.close()
            self.port = port
            try:
                self._wait_ping(timeout)
                self._check_exec()
                if not self.is_redis:
                    self.reactor = info(self.port, "server").get("corekv_io")
                return
            except Exception as e:  # noqa: BLE001 - retried, then reported
                last_err = e
                self.stop()
        raise RuntimeError("%s did not start: %s\n--- %s ---\n%s" % (
            self.name, last_err, self.logpath, self.log_tail()))

    def _wait_ping(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("exited with status %s" % self.proc.returncode)
            try:
                with Resp(self.port, timeout=1.0) as c:
                    if c.call("PING") == "PONG":
                        return
            except (OSError, ConnectionError, RuntimeError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("no PONG within %.0f s" % timeout)
            time.sleep(0.01)   # poll interval, not a settle delay

    def _check_exec(self):
        # taskset execs the server, so the pid we hold must be the server.
        with open("/proc/%d/comm" % self.proc.pid) as f:
            comm = f.read().strip()
        if comm == "taskset":
            raise RuntimeError("pid %d is still taskset" % self.proc.pid)
        self.comm = comm

    def affinity(self):
        cpus = set()
        for tid in os.listdir("/proc/%d/task" % self.proc.pid):
            try:
                cpus |= os.sched_getaffinity(int(tid))
            except OSError:
                pass
        return sorted(cpus)

    def threads(self):
        return len(os.listdir("/proc/%d/task" % self.proc.pid))

    def cpu_ticks(self):
        return proc_cpu_ticks(self.proc.pid)

    def log_tail(self, n=20):
        try:
            with open(self.logpath, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        p, self.proc = self.proc, None
        if p is None or p.poll() is not None:
            return
        try:
            p.terminate()
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
        except ProcessLookupError:
            pass


# --------------------------------------------------------------------------
# Load.

def preload(server, keyspace, datasize, chunk=10000):
    """SET key:%012d for every key redis-benchmark -r KEYSPACE can draw, with
    the value redis-benchmark writes (datasize bytes of 'x')."""
    value = b"x" * datasize
    with Resp(server.port, timeout=30.0) as c:
        for start in range(0, keyspace, chunk):
            end = min(start + chunk, keyspace)
            c.sock.sendall(b"".join(Resp.encode(b"SET", b"key:%012d" % k, value)
                                    for k in range(start, end)))
            for _ in range(start, end):
                r = c.reply()
                if r != "OK":
                    raise RuntimeError("%s: preload SET replied %r" % (server.label, r))
        got = c.call("GET", b"key:%012d" % (keyspace - 1))
        if got != value:
            raise RuntimeError("%s: preload check GET returned %r" % (server.label, got))
        try:
            n = c.call("DBSIZE")
        except RuntimeError:
            n = None
    return n




def proc_rss(pid):
    """Resident set size of the process, bytes (VmRSS)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return None

