#!/usr/bin/python3
"""corekv vs redis-server: throughput and server CPU per operation.

Starts corekv and redis-server side by side, each pinned to one core (core 0)
with the load generator (redis-benchmark, or bench/loadgen for the scenarios
redis-benchmark cannot send: MULTI blocks, cross-shard MSET) pinned to the
other (core 1), and alternates runs between them round by round. For every run
it measures, over the window in which the load generator runs:

  * the server's CPU time: utime+stime of the whole process (all threads) from
    /proc/<pid>/stat, in clock ticks (sysconf SC_CLK_TCK);
  * the server's operation count: the delta of INFO total_commands_processed
    (redis-benchmark scenarios), or loadgen's count of script executions;
  * the wall time of the window.

and prints, per test (command x pipeline depth), the median throughput and the
median server CPU microseconds per operation of each server, plus the median of
the per-round ratios corekv/redis. See bench/README.md.

Collection scenarios (--collections: LPUSH, LPOP, SADD, HSET, ZADD, LRANGE_100,
redis-benchmark's tests) run the same way, for a third of --duration each, from a
state set up outside the measured window. The memory scenario ("memory",
--mem-elements) loads a hash of 1M small fields and a sorted set of 1M members
into a fresh server of each kind and reports the RSS and INFO used_memory growth
per element. A scenario whose command corekv does not know is left out.

Append-only log scenarios (--aof-modes: set-aof-always-P16 ... set-aof-everysec-P1)
run redis-benchmark SET against a corekv and a redis-server of their own, both with
--appendonly yes --appendfsync <mode> in a directory under --aof-dir (default
/var/tmp: a real disk, not tmpfs, so that fsync costs what it costs).

Pub/sub fan-out scenarios (bench/fanout.c: one publisher with a window of pipelined
PUBLISHes, --subscribers subscribers, every message checked) count one op per
message delivered to a subscriber; they run against corekv with one shard and with
--cross-shards shards.

Standard library only; run with Debian's /usr/bin/python3. Only ever talks to
127.0.0.1.
"""

import argparse
import atexit
import binascii
import json
import os
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"          # the only address this script ever targets
SERVER_CPU = "0"            # core the servers are pinned to
CLIENT_CPU = "1"            # core the load generator is pinned to
CLK_TCK = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parent.parent

# Goals of issue 2 (one shard, -c 50): corekv CPU/op over redis CPU/op, for
# redis-benchmark GET/SET by pipeline depth.
GOALS = {16: 0.70, 1: 1.00}

# loadgen scenarios: -P is in scripts (transactions, MSETs) per batch.
LOADGEN_PIPELINE = 4
MSET_KEYS = 10

# Append-only log scenarios: SET with the log on, per --appendfsync mode. The log
# directory must be on a real disk: on tmpfs an fsync costs nothing.
AOF_MODES = "always,everysec"
AOF_DIR = "/var/tmp"
MEMORY_FS = ("tmpfs", "ramfs")

# Pub/sub fan-out (bench/fanout.c): issue 5's goal is a delivery rate (messages
# delivered per second) of at least 5 times redis-server's.
FANOUT_THR_GOAL = 5.0
FANOUT_CHANNEL = "fanout:bench"
FANOUT_WINDOWS = "32,256,1024"

# Collection scenarios: redis-benchmark's own tests (one key each: mylist, myset,
# myhash, myzset; members drawn from -r), run at every -P, for a third of
# --duration each (they are many). Every run starts from a state set up outside
# the measured window, the same on both servers: LPUSH from an empty list, LPOP
# from a list holding at least n elements (never popping an empty one),
# LRANGE_100 on a list of 600 elements of -d bytes (redis-benchmark fills it with
# its LPUSH phase, which we do not time: we send "LRANGE mylist 0 99" as a
# command of its own). SADD/HSET/ZADD accumulate up to -r members over the runs,
# alike on both servers.
COLLECTION_TESTS = "lpush,lpop,sadd,hset,zadd,lrange_100"
COLLECTION_DURATION_SCALE = 1 / 3
COLLECTION_SETUP = {"lpush": ("mylist", 0), "lpop": ("mylist", None),
                    "lrange_100": ("mylist", 600)}
COLLECTION_COMMAND = {"lrange_100": ["LRANGE", "mylist", "0", "99"]}


def multi5_script(datasize):
    """One shard: MULTI, SET, INCR, GET, SET, INCR, EXEC, every reply checked.
    GET and SET use the preloaded keys; INCR its own counter:* keys."""
    v = "x" * datasize
    return ["MULTI => +OK",
            "SET key:__rand__ %s => +QUEUED" % v,
            "INCR counter:__rand__ => +QUEUED",
            "GET key:__rand__ => +QUEUED",
            "SET key:__rand__ %s => +QUEUED" % v,
            "INCR counter:__rand__ => +QUEUED",
            "EXEC => *[+OK : $ +OK :]"]


def mset10_script(datasize, nlists):
    """MSET of MSET_KEYS preloaded keys, the i-th drawn from key list i % nlists
    (list j: the keys corekv's shard j owns), so every MSET spans every shard."""
    v = "x" * datasize
    pairs = " ".join("__key%d__ %s" % (i % nlists, v) for i in range(MSET_KEYS))
    return ["MSET %s => +OK" % pairs]


def key_shard(key, nshards):
    """corekv's shard of a key: CRC16 (XMODEM) slot of the key, scaled to the
    shard count (src/base/slot.c, rt_key_shard). No hash tags in our keys."""
    slot = binascii.crc_hqx(key, 0) & 16383
    return (slot * nshards) >> 14


def write_shard_key_lists(workdir, keyspace, nshards):
    """key:%012d of the preloaded key space split by corekv shard, one file each."""
    lists = [[] for _ in range(nshards)]
    for k in range(keyspace):
        key = b"key:%012d" % k
        lists[key_shard(key, nshards)].append(key)
    paths = []
    for j, keys in enumerate(lists):
        if not keys:
            raise RuntimeError("no key of -r %d falls on shard %d of %d" % (keyspace, j, nshards))
        path = os.path.join(workdir, "keys-shard%d.txt" % j)
        with open(path, "wb") as f:
            f.write(b"\n".join(keys) + b"\n")
        paths.append(path)
    return paths


def scenario_plan(args):
    """Every scenario this run can do, in order; --only picks some."""
    plan = [{"name": "%s-P%d" % (t, p), "label": "%s -P%d" % (t.upper(), p),
             "tool": "redis-benchmark", "test": t, "pipeline": p, "corekv": "one",
             "goal": GOALS.get(p)}
            for t in args.tests for p in args.pipelines]
    plan += [{"name": "%s-P%d" % (t, p), "label": "%s -P%d" % (t.upper(), p),
              "tool": "redis-benchmark", "test": t, "pipeline": p, "corekv": "one",
              "goal": None, "duration_scale": COLLECTION_DURATION_SCALE,
              "setup": COLLECTION_SETUP.get(t), "command": COLLECTION_COMMAND.get(t)}
             for t in args.collections for p in args.pipelines]
    plan.append({"name": "multi5", "label": "multi5 -P%d" % LOADGEN_PIPELINE,
                 "tool": "loadgen", "test": "multi5", "pipeline": LOADGEN_PIPELINE,
                 "corekv": "one", "goal": None,
                 "script": multi5_script(args.datasize), "key_lists": False})
    plan.append({"name": "mset10", "label": "mset10 -P%d" % LOADGEN_PIPELINE,
                 "tool": "loadgen", "test": "mset10", "pipeline": LOADGEN_PIPELINE,
                 "corekv": "cross", "goal": None,
                 "script": mset10_script(args.datasize, args.cross_shards), "key_lists": True})
    plan += [{"name": "set-aof-%s-P%d" % (m, p), "label": "SET aof-%s -P%d" % (m, p),
              "tool": "redis-benchmark", "test": "set-aof-" + m, "bench_test": "set",
              "pipeline": p, "corekv": "aof-" + m, "aof_mode": m, "goal": None}
             for m in args.aof_modes for p in args.pipelines]
    if args.subscribers > 0:
        plan += [{"name": "fanout-P%d-s%d" % (w, shards),
                  "label": "fanout-P%d s%d" % (w, shards),
                  "tool": "fanout", "test": "fanout", "pipeline": w,
                  "corekv": key, "goal": None, "thr_goal": FANOUT_THR_GOAL}
                 for w in args.fanout_windows
                 for key, shards in (("one", 1), ("cross", args.cross_shards))]
    if args.mem_elements > 0:
        plan.append({"name": "memory", "label": "memory", "tool": "memory", "test": "memory",
                     "pipeline": 0, "corekv": "mem", "goal": None})
    if not args.only:
        return plan

    def names(sc):
        return (sc["name"].lower(), sc["test"].lower())

    picked = [sc for sc in plan if any(o in names(sc) for o in args.only)]
    unknown = [o for o in args.only if not any(o in names(sc) for sc in plan)]
    if unknown or not picked:
        sys.exit("error: --only %s: no such scenario; there are %s" % (
            ",".join(unknown or args.only), ", ".join(sc["name"] for sc in plan)))
    return picked


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


def info_field(port, section, field):
    with Resp(port) as c:
        text = c.call("INFO", section)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    return None


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
    instance (there may be two corekv instances: 1 shard and --cross-shards)."""

    def __init__(self, label, binary, extra_args, workdir, shards=1, name=None):
        self.label = label
        self.name = name or label
        self.binary = binary
        self.extra = extra_args
        self.workdir = workdir
        self.shards = shards
        self.proc = None
        self.port = None
        self.logpath = os.path.join(workdir, self.name + ".log")
        self.is_redis = is_redis_binary(binary)

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


def set_up_list(server, sc, n, datasize):
    """Before a run, outside its window: sc's list emptied, then filled with
    `size` elements (None: n, the run's request count) of datasize bytes."""
    key, size = sc["setup"]
    size = n if size is None else size
    with Resp(server.port, timeout=120.0) as c:
        c.call("DEL", key)
        if not size:
            return
        value = b"x" * datasize
        per, batch = 1000, 50
        full = Resp.encode(b"RPUSH", key, *[value] * per)
        left = size
        while left > 0:
            cmds = []
            while left > 0 and len(cmds) < batch:
                k = min(per, left)
                cmds.append(full if k == per else Resp.encode(b"RPUSH", key, *[value] * k))
                left -= k
            c.sock.sendall(b"".join(cmds))
            for _ in cmds:
                r = c.reply()
                if isinstance(r, RuntimeError):
                    raise RuntimeError("%s: list set-up: %s" % (server.label, r))
        got = c.call("LLEN", key)
        if got != size:
            raise RuntimeError("%s: list set-up: LLEN %s, expected %d" % (server.label, got, size))


def client_command(args, server, sc, n):
    """The load generator's command line for scenario sc against server."""
    if sc["tool"] == "redis-benchmark":
        cmd = ["taskset", "-c", CLIENT_CPU, args.benchmark_bin,
               "-h", HOST, "-p", str(server.port),
               "-n", str(n), "-c", str(args.clients),
               "-P", str(sc["pipeline"]), "-r", str(args.keyspace),
               "-d", str(args.datasize), "--csv"]
        if sc.get("command"):
            return cmd + sc["command"]
        return cmd + ["-t", sc.get("bench_test", sc["test"])]
    if sc["tool"] == "fanout":
        return ["taskset", "-c", CLIENT_CPU, args.fanout_bin, "-h", HOST,
                "-p", str(server.port), "-n", str(n), "-s", str(args.subscribers),
                "-P", str(sc["pipeline"]), "-d", str(args.fanout_datasize),
                "-C", FANOUT_CHANNEL]
    cmd = ["taskset", "-c", CLIENT_CPU, args.loadgen_bin,
           "-h", HOST, "-p", str(server.port), "-n", str(n), "-c", str(args.clients),
           "-P", str(sc["pipeline"]), "-r", str(args.keyspace)]
    for path in sc.get("key_list_paths", []):
        cmd += ["-k", path]
    return cmd + sc["script"]


def parse_client_output(sc, cmd, proc):
    """(client ops/s, loadgen's or fanout's JSON or None); raises on a failed run. A
    loadgen or fanout run whose replies were wrong (exit 1) is kept: its errors are
    reported."""
    if sc["tool"] in ("loadgen", "fanout"):
        result = None
        if proc.returncode in (0, 1):
            try:
                result = json.loads(proc.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                pass
        if result is None:
            raise RuntimeError("%s failed (%d): %s\n%s%s" % (
                sc["tool"], proc.returncode, shlex.join(cmd), proc.stdout[-500:],
                proc.stderr[-2000:]))
        return result.get("ops_per_sec", result.get("messages_per_sec")), result
    if proc.returncode != 0:
        raise RuntimeError("redis-benchmark failed (%d): %s\n%s" % (
            proc.returncode, shlex.join(cmd), proc.stderr[-2000:]))
    for line in proc.stdout.splitlines():
        cols = [c.strip('"') for c in line.split(",")]
        if len(cols) >= 2 and cols[0] != "test":
            try:
                return float(cols[1]), None
            except ValueError:
                pass
    raise RuntimeError("no CSV result from redis-benchmark: %r" % proc.stdout[-500:])


def run_benchmark(args, server, sc, n):
    if sc.get("setup"):
        set_up_list(server, sc, n, args.datasize)
    cmd = client_command(args, server, sc, n)
    cmds0 = info_field(server.port, "stats", "total_commands_processed")

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0 = core_busy_ticks()
    cpu0 = server.cpu_ticks()
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    t1 = time.monotonic()
    cpu1 = server.cpu_ticks()
    busy1 = core_busy_ticks()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)

    cmds1 = info_field(server.port, "stats", "total_commands_processed")
    client_rps, loadgen = parse_client_output(sc, cmd, proc)

    wall = t1 - t0
    cpu_s = (cpu1 - cpu0) / CLK_TCK
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    # CPU on the two cores spent by anything but the server (core 0) or
    # the load generator (core 1): other load that makes the figures noisy.
    other = {
        "server_core": max(0.0, (busy1.get(SERVER_CPU, 0) - busy0.get(SERVER_CPU, 0)) / CLK_TCK
                           - cpu_s) / wall,
        "client_core": max(0.0, (busy1.get(CLIENT_CPU, 0) - busy0.get(CLIENT_CPU, 0)) / CLK_TCK
                           - client_cpu) / wall,
    }
    server_cmds = cmds1 - cmds0 if cmds0 is not None and cmds1 is not None else None
    if sc["tool"] == "fanout":
        # One op = one message delivered to one subscriber, every one checked by fanout.
        ops, ops_src = loadgen["messages"], "client"
    elif loadgen is not None:
        # One op = one script execution (a transaction, an MSET), counted by
        # loadgen as it checked the replies: the servers count commands inside
        # MULTI differently.
        ops, ops_src = loadgen["ops"], "client"
    elif server_cmds is not None:
        ops, ops_src = server_cmds, "server"
    else:
        ops, ops_src = n, "client"
    run = {
        "server": server.label, "instance": server.name, "scenario": sc["name"],
        "test": sc["test"].upper(), "pipeline": sc["pipeline"],
        "clients": args.clients, "n": n, "ops": ops, "ops_source": ops_src,
        "server_commands": server_cmds,            # delta of total_commands_processed
        "wall_s": wall, "server_cpu_s": cpu_s,
        "throughput": ops / wall,                  # ops per second of the window
        "client_rps": client_rps,                  # what the load generator reports
        "cpu_us_per_op": cpu_s * 1e6 / ops if ops else float("nan"),
        "server_core_util": cpu_s / wall,          # fraction of one core
        "client_core_util": client_cpu / wall,     # fraction of the load generator's core
        "client_cpu_us_per_op": client_cpu * 1e6 / ops if ops else float("nan"),
        "other_load": other,                       # foreign busy fraction of each core
        "reply_errors": 0,
    }
    if loadgen is not None:
        run[sc["tool"]] = loadgen
        if sc["tool"] == "fanout":
            run["reply_errors"] = (loadgen["bad_replies"] + loadgen["bad_frames"]
                                   + loadgen["missing"])
        else:
            run["reply_errors"] = loadgen["error_replies"] + loadgen["unexpected_replies"]
        if run["reply_errors"]:
            run["reply_problems"] = proc.stderr.strip().splitlines()[:6]
    return run


# --------------------------------------------------------------------------
# Memory per element.

def proc_rss(pid):
    """Resident set size of the process, bytes (VmRSS)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return None


MEM_LOADS = [  # type, command, key, (field/score, value/member) of element i, length command
    ("hash", b"HSET", b"memhash", lambda i: (b"f:%07d" % i, b"v%07d" % i), "HLEN"),
    ("zset", b"ZADD", b"memzset", lambda i: (b"%d" % i, b"member:%07d" % i), "ZCARD"),
]


def load_elements(server, cmd, key, item, n, per=1000, batch=20):
    """n elements into key, `per` per command, `batch` commands per write."""
    with Resp(server.port, timeout=120.0) as c:
        for start in range(0, n, per * batch):
            cmds = []
            for lo in range(start, min(start + per * batch, n), per):
                args = [cmd, key]
                for i in range(lo, min(lo + per, n)):
                    args += item(i)
                cmds.append(Resp.encode(*args))
            c.sock.sendall(b"".join(cmds))
            for _ in cmds:
                r = c.reply()
                if isinstance(r, RuntimeError):
                    raise RuntimeError("%s: %s replied %s" % (server.label, cmd.decode(), r))


def memory_bench(args, workdir, started):
    """Loads a hash of --mem-elements small fields, then a sorted set of as many
    members, into a fresh corekv (one shard) and a fresh redis-server, one server
    at a time; returns per type and server the growth of RSS and of INFO
    used_memory over the load, in bytes per element."""
    n = args.mem_elements
    res = {}
    for s in (Server("corekv", args.corekv_bin, args.server_args, workdir, name="corekv-mem"),
              Server("redis", args.redis_bin, [], workdir, name="redis-mem")):
        started.append(s)
        s.start()
        before = (proc_rss(s.proc.pid), info_field(s.port, "memory", "used_memory"))
        for typ, cmd, key, item, card in MEM_LOADS:
            t0 = time.monotonic()
            try:
                load_elements(s, cmd, key, item, n)
            except RuntimeError as e:
                if "unknown command" not in str(e):
                    raise
                log("%s: no %s type yet (%s unknown): skipped" % (s.name, typ, cmd.decode()))
                res[(typ, s.label)] = None
                continue
            with Resp(s.port) as c:
                got = c.call(card, key)
            if got != n:
                raise RuntimeError("%s: %s %s is %r after loading %d elements" % (
                    s.label, card, key.decode(), got, n))
            after = (proc_rss(s.proc.pid), info_field(s.port, "memory", "used_memory"))
            res[(typ, s.label)] = {
                "rss_per_element": (after[0] - before[0]) / n,
                "used_memory_per_element": (after[1] - before[1]) / n
                if None not in (before[1], after[1]) else None,
                "rss_after": after[0], "used_memory_after": after[1],
                "load_s": time.monotonic() - t0}
            log("%s: %s of %d elements loaded in %.1f s: RSS +%.1f MB" % (
                s.name, typ, n, res[(typ, s.label)]["load_s"], (after[0] - before[0]) / 1e6))
            before = after
        s.stop()
    rows = []
    for typ, *_ in MEM_LOADS:
        a, b = res[(typ, "corekv")], res[(typ, "redis")]
        if a is None or b is None:
            continue
        row = {"type": typ, "elements": n, "corekv": a, "redis": b,
               "rss_ratio": a["rss_per_element"] / b["rss_per_element"]}
        if a["used_memory_per_element"] and b["used_memory_per_element"]:
            row["used_memory_ratio"] = a["used_memory_per_element"] / b["used_memory_per_element"]
        rows.append(row)
    return rows


def print_memory(rows, out=sys.stdout):
    if not rows:
        print("memory per element: no type could be loaded into both servers", file=out)
        return
    print("memory per element: a hash of %d fields (f:%%07d -> v%%07d) and a sorted set of "
          "as many members (member:%%07d, integer scores), each loaded pipelined into a "
          "fresh server; growth of RSS (VmRSS) and of INFO used_memory over the load"
          % rows[0]["elements"], file=out)
    hdr = "%-6s %15s %16s %9s %16s %17s %9s" % (
        "type", "redis RSS B/el", "corekv RSS B/el", "ratio", "redis used B/el",
        "corekv used B/el", "ratio")
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for r in rows:
        a, b = r["corekv"], r["redis"]
        um = lambda x: "-" if x is None else "%.1f" % x  # noqa: E731
        print("%-6s %15.1f %16.1f %9.3f %16s %17s %9s" % (
            r["type"], b["rss_per_element"], a["rss_per_element"], r["rss_ratio"],
            um(b["used_memory_per_element"]), um(a["used_memory_per_element"]),
            "%.3f" % r["used_memory_ratio"] if "used_memory_ratio" in r else "-"), file=out)


def drop_unknown(plan, pairs):
    """Scenarios whose command corekv does not know (a type not there yet) are
    left out, with a warning, rather than timing error replies."""
    kept = []
    for sc in plan:
        if sc["tool"] == "fanout":
            name = "PUBLISH"
        elif sc["tool"] != "redis-benchmark":
            kept.append(sc)
            continue
        else:
            name = (sc.get("command") or
                    [sc.get("bench_test", sc["test"]).split("_")[0]])[0].upper()
        with Resp(pairs[sc["corekv"]][0].port) as c:
            info = c.call("COMMAND", "INFO", name)
        if info and info[0] is not None:
            kept.append(sc)
        else:
            log("warning: corekv does not know %s: scenario %s left out" % (name, sc["name"]))
    return kept


def calibrate(args, servers, sc):
    """One warm-up run per server; returns n for ~args.duration seconds at the
    faster server's rate (the same n for both: a fixed request count)."""
    if sc["tool"] == "fanout":
        n0 = 50000      # PUBLISHes; the rates below are messages delivered
    elif sc["tool"] == "loadgen":
        n0 = 30000
    else:
        n0 = 300000 if sc["pipeline"] > 1 else 60000
    n0 = max(n0, args.clients * sc["pipeline"] * 20)
    rates = []
    for s in servers:
        r = run_benchmark(args, s, sc, n0)
        rates.append(r["throughput"])
        if args.verbose:
            log("  warm-up %-6s %s n=%d: %.0f ops/s" % (s.label, sc["label"], n0, r["throughput"]))
        warn_reply_errors(r)
    n = int(max(rates) * args.duration * sc.get("duration_scale", 1.0))
    if sc["tool"] == "fanout":
        n //= args.subscribers
    step = 100000 if n >= 1000000 else 10000
    return max(step, (n + step - 1) // step * step)


_warned = set()


def warn_reply_errors(run):
    """Logs a run's wrong replies, once per scenario and server."""
    if run["reply_errors"] and (run["scenario"], run["server"]) not in _warned:
        _warned.add((run["scenario"], run["server"]))
        log("%s %s: %d error/unexpected replies of %d ops; loadgen said:\n  %s" % (
            run["server"], run["scenario"], run["reply_errors"], run["ops"],
            "\n  ".join(run["reply_problems"])))


# --------------------------------------------------------------------------
# Reporting.

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def summarize(runs, a_label, b_label, plan):
    rows = []
    for sc in plan:
        ra = [r for r in runs if r["scenario"] == sc["name"] and r["server"] == a_label]
        rb = [r for r in runs if r["scenario"] == sc["name"] and r["server"] == b_label]
        if not ra or not rb:
            continue
        by_round_a = {r["round"]: r for r in ra}
        by_round_b = {r["round"]: r for r in rb}
        common = sorted(set(by_round_a) & set(by_round_b))
        cpu_ratios = [by_round_a[i]["cpu_us_per_op"] / by_round_b[i]["cpu_us_per_op"]
                      for i in common]
        thr_ratios = [by_round_a[i]["throughput"] / by_round_b[i]["throughput"]
                      for i in common]
        row = {"scenario": sc["name"], "label": sc["label"], "tool": sc["tool"],
               "test": sc["test"].upper(), "pipeline": sc["pipeline"], "n": ra[0]["n"],
               "rounds": len(common), "corekv_instance": ra[0]["instance"]}
        for label, rs in ((a_label, ra), (b_label, rb)):
            row[label] = {
                "throughput": med([r["throughput"] for r in rs]),
                "client_rps": med([r["client_rps"] for r in rs]),
                "cpu_us_per_op": med([r["cpu_us_per_op"] for r in rs]),
                "server_core_util": med([r["server_core_util"] for r in rs]),
                "client_cpu_us_per_op": med([r["client_cpu_us_per_op"] for r in rs]),
                "reply_errors": sum(r["reply_errors"] for r in rs),
            }
        row.update({
            "cpu_ratio": med(cpu_ratios),
            "cpu_ratio_min": min(cpu_ratios), "cpu_ratio_max": max(cpu_ratios),
            "thr_ratio": med(thr_ratios),
            "goal": sc["goal"],
            "thr_goal": sc.get("thr_goal"),
        })
        rows.append(row)
    return rows


def print_table(rows, a_label, b_label, out=sys.stdout):
    cols = ["test", "n", "%s kop/s" % b_label, "%s kop/s" % a_label, "thr ratio",
            "%s us/op" % b_label, "%s us/op" % a_label, "cpu/op ratio",
            "[min - max]", "core %", "goal"]
    widths = [max([15] + [len(r["label"]) for r in rows]), 9, 12, 12, 9, 11, 12, 12, 13, 9, 12]
    hdr = "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cols, widths)))
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for r in rows:
        a, b = r[a_label], r[b_label]
        goal = r["goal"]
        if a["reply_errors"] or b["reply_errors"]:
            gtxt = "REPLY ERRORS"
        elif r.get("thr_goal") is not None:
            gtxt = ">=%.1fx %s" % (r["thr_goal"],
                                   "ok" if r["thr_ratio"] >= r["thr_goal"] else "MISS")
        elif goal is None:
            gtxt = "-"
        else:
            gtxt = "<=%.2f %s" % (goal, "ok" if r["cpu_ratio"] <= goal else "MISS")
        vals = [r["label"],
                "%.2fM" % (r["n"] / 1e6) if r["n"] >= 1e6 else "%dk" % (r["n"] // 1000),
                "%.1f" % (b["throughput"] / 1e3),
                "%.1f" % (a["throughput"] / 1e3),
                "%.3f" % r["thr_ratio"],
                "%.3f" % b["cpu_us_per_op"],
                "%.3f" % a["cpu_us_per_op"],
                "%.3f" % r["cpu_ratio"],
                "%.3f-%.3f" % (r["cpu_ratio_min"], r["cpu_ratio_max"]),
                "%d/%d" % (round(b["server_core_util"] * 100), round(a["server_core_util"] * 100)),
                gtxt]
        print("  ".join(v.rjust(w) if i else v.ljust(w)
                        for i, (v, w) in enumerate(zip(vals, widths))), file=out)


def print_runs(runs, out=sys.stdout):
    print("%-5s %-7s %-15s %9s %8s %10s %10s %10s %8s %7s %7s %9s %6s %6s" % (
        "round", "server", "test", "ops", "wall s", "ops/s", "client/s", "cpu ms",
        "us/op", "srv%", "cli%", "cli us/op", "oth0%", "oth1%"), file=out)
    for r in runs:
        print("%-5d %-7s %-15s %9d %8.3f %10.0f %10.0f %10.0f %8.3f %7.0f %7.0f %9.3f %6.0f %6.0f" % (
            r["round"], r["server"], "%s -P%d" % (r["test"], r["pipeline"]), r["ops"],
            r["wall_s"], r["throughput"], r["client_rps"], r["server_cpu_s"] * 1e3,
            r["cpu_us_per_op"], r["server_core_util"] * 100, r["client_core_util"] * 100,
            r["client_cpu_us_per_op"], r["other_load"]["server_core"] * 100, r["other_load"]["client_core"] * 100),
            file=out)


# --------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="corekv vs redis-server: throughput and server CPU per op "
                    "(servers on core %s, the load generator on core %s, %s only)."
                    % (SERVER_CPU, CLIENT_CPU, HOST))
    ap.add_argument("--rounds", type=int, default=5, help="A/B rounds per test (default 5)")
    ap.add_argument("--only", default="",
                    help="comma-separated scenarios to run, by name (get-P16, multi5, "
                         "mset10, ...) or redis-benchmark test (get: every -P); default all")
    ap.add_argument("--cross-shards", type=int, default=max(2, os.cpu_count() or 1),
                    help="corekv's --shards for mset10 (default: the number of CPUs, at "
                         "least 2)")
    ap.add_argument("--tests", default="get,set",
                    help="comma-separated redis-benchmark -t tests (default get,set)")
    ap.add_argument("--collections", default=COLLECTION_TESTS,
                    help="comma-separated redis-benchmark tests of the collection "
                         "types, run for a third of --duration (default %s; '' for none)"
                         % COLLECTION_TESTS)
    ap.add_argument("--mem-elements", type=int, default=1000000,
                    help="memory scenario: fields of the hash and members of the sorted "
                         "set loaded into a fresh pair of servers (default 1000000; 0 "
                         "skips it)")
    ap.add_argument("--pipelines", default="16,1", help="comma-separated -P values (default 16,1)")
    ap.add_argument("--clients", "-c", type=int, default=50, help="-c connections (default 50)")
    ap.add_argument("-n", "--requests", type=int, default=None,
                    help="requests (loadgen: script executions) per run; default: "
                         "calibrated per test for --duration")
    ap.add_argument("--duration", type=float, default=3.0,
                    help="target seconds per run when -n is not given (default 3)")
    ap.add_argument("--keyspace", "-r", type=int, default=100000,
                    help="-r key space, all preloaded (default 100000)")
    ap.add_argument("--datasize", "-d", type=int, default=3,
                    help="-d value size in bytes, also used for the preload (default 3, "
                         "redis-benchmark's default)")
    ap.add_argument("--corekv-bin", default=str(REPO / "build" / "corekv"),
                    help="corekv binary (default build/corekv); a redis-server path "
                         "is started with redis flags, for testing the harness")
    ap.add_argument("--redis-bin", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--benchmark-bin", default=shutil.which("redis-benchmark") or "redis-benchmark")
    ap.add_argument("--loadgen-bin", default=str(REPO / "build" / "loadgen"),
                    help="bench/loadgen.c's binary (default build/loadgen)")
    ap.add_argument("--fanout-bin", default=str(REPO / "build" / "fanout"),
                    help="bench/fanout.c's binary (default build/fanout)")
    ap.add_argument("--subscribers", type=int, default=50,
                    help="fan-out scenarios: subscribers of the channel (default 50; 0 "
                         "skips the fan-out scenarios)")
    ap.add_argument("--fanout-windows", default=FANOUT_WINDOWS,
                    help="fan-out scenarios: PUBLISHes in flight at most, comma-separated, "
                         "a scenario each (default %s)" % FANOUT_WINDOWS)
    ap.add_argument("--fanout-datasize", type=int, default=16,
                    help="fan-out scenarios: message payload bytes, at least 12 (default 16)")
    ap.add_argument("--aof-modes", default=AOF_MODES,
                    help="append-only log scenarios: --appendfsync modes, comma-separated, "
                         "each a pair of servers with --appendonly yes and SET at every "
                         "--pipelines depth (default %s; '' skips them)" % AOF_MODES)
    ap.add_argument("--aof-dir", default=AOF_DIR,
                    help="where the log scenarios' servers keep their files (a temporary "
                         "directory under it, removed at the end); must be on a real disk, "
                         "not tmpfs (default %s)" % AOF_DIR)
    ap.add_argument("--server-args", default="",
                    help="extra corekv flags, one shell-quoted string (not --port/--bind)")
    ap.add_argument("--json", metavar="PATH", help="also write every run and the summary "
                    "as JSON to PATH ('-' for stdout, replacing the table)")
    ap.add_argument("--max-other-load", type=float, default=0.10,
                    help="a run pair in which anything else used more than this fraction "
                         "of core 0 or core 1 is repeated (default 0.10)")
    ap.add_argument("--retries", type=int, default=2,
                    help="times a noisy pair is repeated before it is kept anyway (default 2)")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if a CPU/op goal of issue 2 or the fan-out delivery goal of "
                         "issue 5 is missed")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every run")
    args = ap.parse_args(argv)
    args.tests = [t.strip().lower() for t in args.tests.split(",") if t.strip()]
    args.collections = [t.strip().lower() for t in args.collections.split(",") if t.strip()]
    args.pipelines = [int(p) for p in args.pipelines.split(",") if p.strip()]
    args.only = [o.strip().lower() for o in args.only.split(",") if o.strip()]
    args.aof_modes = [m.strip().lower() for m in args.aof_modes.split(",") if m.strip()]
    bad = [m for m in args.aof_modes if m not in ("always", "everysec", "no")]
    if bad:
        ap.error("--aof-modes: unknown appendfsync mode(s) %s" % ",".join(bad))
    # Servers run in a scratch directory: make relative paths (the Makefile's
    # build/corekv) absolute first.
    for attr in ("corekv_bin", "redis_bin", "benchmark_bin", "loadgen_bin", "fanout_bin"):
        path = getattr(args, attr)
        if os.sep in path:
            setattr(args, attr, os.path.abspath(path))
    args.server_args = shlex.split(args.server_args)
    for a in args.server_args:
        if a.split("=", 1)[0] in ("--port", "--bind"):
            ap.error("--server-args must not set %s: the script picks the port and "
                     "binds %s only" % (a.split("=", 1)[0], HOST))
    if args.rounds < 1 or args.clients < 1 or not args.tests or not args.pipelines:
        ap.error("need at least one round, client, test and pipeline depth")
    if args.cross_shards < 2:
        ap.error("--cross-shards must be at least 2")
    args.fanout_windows = [int(w) for w in args.fanout_windows.split(",") if w.strip()]
    if args.subscribers < 0 or min(args.fanout_windows, default=0) < 1 or \
            args.fanout_datasize < 12:
        ap.error("need --subscribers >= 0, --fanout-windows >= 1, --fanout-datasize >= 12")
    return args


def fs_type(path):
    """(mount point, file system type) of the mount that holds path, from /proc/mounts."""
    path = os.path.realpath(path)
    best = ("/", "?")
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mnt = parts[1].replace("\\040", " ")
                inside = path == mnt or path.startswith(mnt.rstrip("/") + "/")
                if inside and len(mnt) >= len(best[0]):
                    best = (mnt, parts[2])
    except OSError:
        pass
    return best


def preflight(args, plan):
    if (os.cpu_count() or 1) < 2:
        log("warning: fewer than 2 cores; server and client will share a core")
    tools = {sc["tool"] for sc in plan}
    bins = [args.corekv_bin, args.redis_bin]
    bins += [args.benchmark_bin] if "redis-benchmark" in tools else []
    bins += [args.loadgen_bin] if "loadgen" in tools else []
    bins += [args.fanout_bin] if "fanout" in tools else []
    for b in bins:
        if not (os.path.isfile(b) and os.access(b, os.X_OK)) and not shutil.which(b):
            sys.exit("error: %s not found or not executable%s" % (
                b, " (run `make build` first)"
                if b in (args.corekv_bin, args.loadgen_bin, args.fanout_bin)
                else ""))
    if not shutil.which("taskset"):
        sys.exit("error: taskset not found (util-linux)")
    args.aof_fs = None
    if any(sc.get("aof_mode") for sc in plan):
        if not os.path.isdir(args.aof_dir):
            sys.exit("error: --aof-dir %s is not a directory" % args.aof_dir)
        args.aof_fs = fs_type(args.aof_dir)
        if args.aof_fs[1] in MEMORY_FS:
            log("warning: --aof-dir %s is on %s (%s): fsync costs nothing there, the log "
                "scenarios will not show a disk's cost" % (args.aof_dir, args.aof_fs[1],
                                                           args.aof_fs[0]))
    load1 = os.getloadavg()[0]
    if load1 > 1.0:
        log("warning: load average %.2f > 1.0: the machine is busy, figures will be noisy"
            % load1)
    return load1


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    plan = scenario_plan(args)
    load1 = preflight(args, plan)

    workdir = tempfile.mkdtemp(prefix="corekv-bench-")
    mem_wanted = any(sc["tool"] == "memory" for sc in plan)
    plan = [sc for sc in plan if sc["tool"] != "memory"]
    mem_rows = None
    # Pairs of servers, each started only if a scenario needs it: corekv with one
    # shard (GET/SET, multi5, fanout-s1) and with --cross-shards shards (mset10,
    # fanout-sN), each beside
    # a redis-server of its own, so both servers of a pair share one history.
    pairs = {}
    if any(sc["corekv"] == "one" for sc in plan):
        pairs["one"] = [Server("corekv", args.corekv_bin, args.server_args, workdir),
                        Server("redis", args.redis_bin, [], workdir)]
    if any(sc["corekv"] == "cross" for sc in plan):
        pairs["cross"] = [Server("corekv", args.corekv_bin, args.server_args, workdir,
                                 shards=args.cross_shards,
                                 name="corekv-%dshards" % args.cross_shards),
                          Server("redis", args.redis_bin, [], workdir, name="redis-cross")]
    aof_root = None
    for mode in sorted({sc["aof_mode"] for sc in plan if sc.get("aof_mode")}):
        if aof_root is None:
            aof_root = tempfile.mkdtemp(prefix="corekv-bench-aof-", dir=args.aof_dir)
        dirs = {}
        for side in ("corekv", "redis"):
            dirs[side] = os.path.join(aof_root, "%s-%s" % (side, mode))
            os.mkdir(dirs[side])
        # No automatic rewrite: redis-server would fork one mid-run (its child's CPU is
        # not the server's), corekv would rewrite in its shard threads: unlike work.
        log_flags = ["--appendonly", "yes", "--appendfsync", mode,
                     "--auto-aof-rewrite-percentage", "0"]
        pairs["aof-" + mode] = [
            Server("corekv", args.corekv_bin,
                   args.server_args + ["--dir", dirs["corekv"]] + log_flags, workdir,
                   name="corekv-aof-" + mode),
            Server("redis", args.redis_bin, ["--dir", dirs["redis"]] + log_flags, workdir,
                   name="redis-aof-" + mode)]
    servers = [s for pair in pairs.values() for s in pair]
    mem_servers = []   # the memory scenario's, started (one at a time) after the rounds
    a_label, b_label = "corekv", "redis"
    self_test = is_redis_binary(args.corekv_bin)

    def cleanup():
        for s in servers:
            s.stop()
        for s in mem_servers:
            s.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        if aof_root is not None:
            shutil.rmtree(aof_root, ignore_errors=True)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)

    atexit.register(cleanup)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if inherited ignored
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    out = sys.stdout if args.json != "-" else sys.stderr
    try:
        for sc in plan:
            if sc["tool"] == "loadgen" and sc["key_lists"]:
                sc["key_list_paths"] = write_shard_key_lists(workdir, args.keyspace,
                                                             args.cross_shards)
        for s in servers:
            s.start()
            nkeys = preload(s, args.keyspace, args.datasize)
            log("%s: %s pid %d port %d, %d thread(s) on cpu %s, %d keys preloaded" % (
                s.name, s.binary, s.proc.pid, s.port, s.threads(),
                ",".join(map(str, s.affinity())), -1 if nkeys is None else nkeys))
        if self_test:
            log("note: the corekv side is a redis-server binary (harness self-test)")
        plan = drop_unknown(plan, pairs)

        # Idle CPU over one second, all servers with no client activity.
        idle0 = [s.cpu_ticks() for s in servers]
        t0 = time.monotonic()
        time.sleep(1.0)
        idle = [(s.cpu_ticks() - c0) / CLK_TCK / (time.monotonic() - t0)
                for s, c0 in zip(servers, idle0)]
        log("idle CPU: %s" % ", ".join("%s %.1f%%" % (s.name, u * 100)
                                       for s, u in zip(servers, idle)))

        def pair_for(sc):
            return pairs[sc["corekv"]]

        nreq = {}
        for sc in plan:
            nreq[sc["name"]] = args.requests or calibrate(args, pair_for(sc), sc)
        log("requests per run: " + ", ".join("%s %d" % (sc["label"], nreq[sc["name"]])
                                             for sc in plan))

        runs = []
        retried = 0
        for rnd in range(1, args.rounds + 1):
            for sc in plan:
                for attempt in range(args.retries + 1):
                    pair = []
                    for s in pair_for(sc):       # A B A B ...
                        r = run_benchmark(args, s, sc, nreq[sc["name"]])
                        r["round"] = rnd
                        r["attempt"] = attempt
                        pair.append(r)
                        warn_reply_errors(r)
                        if args.verbose:
                            log("round %d %-6s %-11s %8.0f ops/s %.3f us/op (core %.0f%%, "
                                "other %.0f%%/%.0f%%)" % (
                                    rnd, s.label, sc["label"], r["throughput"],
                                    r["cpu_us_per_op"], r["server_core_util"] * 100,
                                    r["other_load"]["server_core"] * 100,
                                    r["other_load"]["client_core"] * 100))
                    worst = max(max(r["other_load"].values()) for r in pair)
                    if worst <= args.max_other_load or attempt == args.retries:
                        break
                    log("round %d %s: other load %.0f%% on a benchmark core, "
                        "repeating the pair" % (rnd, sc["label"], worst * 100))
                    retried += 1
                runs.extend(pair)
            log("round %d/%d done" % (rnd, args.rounds))
        if mem_wanted:
            for s in servers:   # the throughput servers are done: free their memory
                s.stop()
            mem_rows = memory_bench(args, workdir, mem_servers)
    except KeyboardInterrupt:
        log("interrupted: stopping servers")
        cleanup()
        return 130
    except (RuntimeError, OSError) as e:
        log("error: %s" % e)
        for s in servers + mem_servers:
            if s.proc is not None and s.proc.poll() is not None:
                log("%s exited with status %s; end of %s:\n%s" % (
                    s.name, s.proc.returncode, s.logpath, s.log_tail()))
        cleanup()
        return 1

    corekv_argv = {key: shlex.join([args.corekv_bin] + pair[0].argv(0)[3:])
                   for key, pair in pairs.items()}
    cleanup()
    rows = summarize(runs, a_label, b_label, plan)

    print("corekv bench: %d rounds alternating corekv/redis, -c %d, -r %d keys preloaded, "
          "-d %d B values; servers on cpu %s, load generator on cpu %s; load %.2f at start"
          % (args.rounds, args.clients, args.keyspace, args.datasize, SERVER_CPU,
             CLIENT_CPU, load1), file=out)
    if self_test:
        print("corekv side: %s (redis-server: harness self-test)" % args.corekv_bin, file=out)
    else:
        for key, cmdline in corekv_argv.items():
            print("corekv side%s: %s" % (" (mset10, fanout-s%d)" % args.cross_shards
                                         if key == "cross" else
                                         " (SET %s)" % key if key.startswith("aof-") else "",
                                         cmdline),
                  file=out)
    if args.aof_fs:
        print("log scenarios: both servers --appendonly yes --appendfsync <mode> "
              "--auto-aof-rewrite-percentage 0, files under %s (%s, mounted at %s)"
              % (args.aof_dir, args.aof_fs[1], args.aof_fs[0]), file=out)
    print("medians over rounds; ratios are corekv/redis per round, then the median; "
          "throughput and us/op use the server's own op count (redis-benchmark) or "
          "loadgen's count of scripts (multi5: one transaction, mset10: one MSET) or "
          "fanout's count of messages delivered (fanout: n is PUBLISHes, an op is one "
          "message received by one of %d subscribers)" % args.subscribers, file=out)
    print(file=out)
    if plan:
        print_table(rows, a_label, b_label, out=out)
    if mem_rows is not None:
        print(file=out)
        print_memory(mem_rows, out=out)
    noisy = [r for r in runs if max(r["other_load"].values()) > args.max_other_load]
    if retried:
        print("\n%d noisy pair(s) were repeated (other load above %.0f%% of a benchmark core)"
              % (retried, args.max_other_load * 100), file=out)
    if noisy:
        worst = max(max(r["other_load"].values()) for r in noisy)
        print("%swarning: %d of %d kept runs still had other load above %.0f%% of a benchmark "
              "core (worst %.0f%%): the machine was not quiet; see --verbose (oth0%%/oth1%%)"
              % ("" if retried else "\n", len(noisy), len(runs), args.max_other_load * 100,
                 worst * 100), file=out)
    bad = [r for r in rows if r[a_label]["reply_errors"] or r[b_label]["reply_errors"]]
    for r in bad:
        print("error: %s: %d wrong replies from corekv, %d from redis (error or unexpected "
              "replies, checked by loadgen): its figures are not comparable"
              % (r["scenario"], r[a_label]["reply_errors"], r[b_label]["reply_errors"]),
              file=out)
    if args.verbose:
        print(file=out)
        print_runs(runs, out=out)

    if args.json:
        doc = {
            "config": {
                "rounds": args.rounds, "clients": args.clients, "tests": args.tests,
                "pipelines": args.pipelines, "scenarios": [sc["name"] for sc in plan],
                "keyspace": args.keyspace, "datasize": args.datasize,
                "requests": nreq, "cross_shards": args.cross_shards,
                "loadgen_scripts": {sc["name"]: sc["script"] for sc in plan
                                    if sc["tool"] == "loadgen"},
                "corekv_bin": args.corekv_bin, "server_args": args.server_args,
                "corekv_argv": corekv_argv, "loadgen_bin": args.loadgen_bin,
                "redis_bin": args.redis_bin, "clk_tck": CLK_TCK, "loadavg_start": load1,
                "idle_core_util": {s.name: u for s, u in zip(servers, idle)},
                "max_other_load": args.max_other_load, "retries": args.retries,
                "pairs_repeated": retried,
                "aof_modes": args.aof_modes, "aof_dir": args.aof_dir,
                "aof_fs": args.aof_fs,
            },
            "summary": rows, "runs": runs, "memory": mem_rows,
        }
        if args.json == "-":
            json.dump(doc, sys.stdout, indent=2)
            print()
        else:
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=2)

    if bad:
        return 1
    if args.check and any((r["goal"] is not None and r["cpu_ratio"] > r["goal"]) or
                          (r["thr_goal"] is not None and r["thr_ratio"] < r["thr_goal"])
                          for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
