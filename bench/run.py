#!/usr/bin/python3
"""corekv vs redis-server: throughput and server CPU per operation.

Starts corekv and redis-server side by side, each pinned to one core (core 0)
with the load generator (redis-benchmark) pinned to the other (core 1), and
alternates runs between them round by round. For every run it measures, over
the window in which redis-benchmark runs:

  * the server's CPU time: utime+stime of the whole process (all threads) from
    /proc/<pid>/stat, in clock ticks (sysconf SC_CLK_TCK);
  * the server's operation count: the delta of INFO total_commands_processed;
  * the wall time of the window.

and prints, per test (command x pipeline depth), the median throughput and the
median server CPU microseconds per operation of each server, plus the median of
the per-round ratios corekv/redis. See bench/README.md.

Standard library only; run with Debian's /usr/bin/python3. Only ever talks to
127.0.0.1.
"""

import argparse
import atexit
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
CLIENT_CPU = "1"            # core redis-benchmark is pinned to
CLK_TCK = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parent.parent

# Goals of issue 2 (one shard, -c 50): corekv CPU/op over redis CPU/op.
GOALS = {16: 0.70, 1: 1.00}


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
    def __init__(self, label, binary, extra_args, workdir):
        self.label = label
        self.binary = binary
        self.extra = extra_args
        self.workdir = workdir
        self.proc = None
        self.port = None
        self.logpath = os.path.join(workdir, label + ".log")
        self.is_redis = is_redis_binary(binary)

    def argv(self, port):
        if self.is_redis:
            return [self.binary, "--port", str(port), "--bind", HOST,
                    "--save", "", "--appendonly", "no", "--daemonize", "no",
                    "--dir", self.workdir, "--logfile", ""] + self.extra
        return [self.binary, "--port", str(port), "--bind", HOST,
                "--shards", "1"] + self.extra

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
            self.label, last_err, self.logpath, self.log_tail()))

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


def run_benchmark(args, server, test, pipeline, n):
    cmd = ["taskset", "-c", CLIENT_CPU, args.benchmark_bin,
           "-h", HOST, "-p", str(server.port),
           "-t", test, "-n", str(n), "-c", str(args.clients), "-P", str(pipeline),
           "-r", str(args.keyspace), "-d", str(args.datasize), "--csv"]
    ops0 = info_field(server.port, "stats", "total_commands_processed")

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0 = core_busy_ticks()
    cpu0 = server.cpu_ticks()
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    t1 = time.monotonic()
    cpu1 = server.cpu_ticks()
    busy1 = core_busy_ticks()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)

    ops1 = info_field(server.port, "stats", "total_commands_processed")
    if proc.returncode != 0:
        raise RuntimeError("redis-benchmark failed (%d): %s\n%s" % (
            proc.returncode, shlex.join(cmd), proc.stderr[-2000:]))
    client_rps = None
    for line in proc.stdout.splitlines():
        cols = [c.strip('"') for c in line.split(",")]
        if len(cols) >= 2 and cols[0] != "test":
            try:
                client_rps = float(cols[1])
            except ValueError:
                pass
    if client_rps is None:
        raise RuntimeError("no CSV result from redis-benchmark: %r" % proc.stdout[-500:])

    wall = t1 - t0
    cpu_s = (cpu1 - cpu0) / CLK_TCK
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    # CPU on the two cores spent by anything but the server (core 0) or
    # redis-benchmark (core 1): other load that makes the figures noisy.
    other = {
        "server_core": max(0.0, (busy1.get(SERVER_CPU, 0) - busy0.get(SERVER_CPU, 0)) / CLK_TCK
                           - cpu_s) / wall,
        "client_core": max(0.0, (busy1.get(CLIENT_CPU, 0) - busy0.get(CLIENT_CPU, 0)) / CLK_TCK
                           - client_cpu) / wall,
    }
    if ops0 is not None and ops1 is not None:
        ops, ops_src = ops1 - ops0, "server"
    else:
        ops, ops_src = n, "client"
    return {
        "server": server.label, "test": test.upper(), "pipeline": pipeline,
        "clients": args.clients, "n": n, "ops": ops, "ops_source": ops_src,
        "wall_s": wall, "server_cpu_s": cpu_s,
        "throughput": ops / wall,                  # server-counted ops per second
        "client_rps": client_rps,                  # what redis-benchmark reports
        "cpu_us_per_op": cpu_s * 1e6 / ops if ops else float("nan"),
        "server_core_util": cpu_s / wall,          # fraction of its one core
        "client_core_util": client_cpu / wall,     # fraction of redis-benchmark's core
        "client_cpu_us_per_op": client_cpu * 1e6 / ops if ops else float("nan"),
        "other_load": other,                       # foreign busy fraction of each core
    }


def calibrate(args, servers, test, pipeline):
    """One warm-up run per server; returns n for ~args.duration seconds at the
    faster server's rate (the same n for both: a fixed request count)."""
    n0 = 300000 if pipeline > 1 else 60000
    n0 = max(n0, args.clients * pipeline * 20)
    rates = []
    for s in servers:
        r = run_benchmark(args, s, test, pipeline, n0)
        rates.append(r["throughput"])
        if args.verbose:
            log("  warm-up %-6s %s P%-2d n=%d: %.0f ops/s" % (
                s.label, test.upper(), pipeline, n0, r["throughput"]))
    n = int(max(rates) * args.duration)
    step = 100000 if n >= 1000000 else 10000
    return max(step, (n + step - 1) // step * step)


# --------------------------------------------------------------------------
# Reporting.

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def summarize(runs, a_label, b_label, tests, pipelines, rounds):
    rows = []
    for test in tests:
        for p in pipelines:
            key = (test.upper(), p)
            ra = [r for r in runs if (r["test"], r["pipeline"]) == key and r["server"] == a_label]
            rb = [r for r in runs if (r["test"], r["pipeline"]) == key and r["server"] == b_label]
            if not ra or not rb:
                continue
            by_round_a = {r["round"]: r for r in ra}
            by_round_b = {r["round"]: r for r in rb}
            common = sorted(set(by_round_a) & set(by_round_b))
            cpu_ratios = [by_round_a[i]["cpu_us_per_op"] / by_round_b[i]["cpu_us_per_op"]
                          for i in common]
            thr_ratios = [by_round_a[i]["throughput"] / by_round_b[i]["throughput"]
                          for i in common]
            rows.append({
                "test": test.upper(), "pipeline": p, "n": ra[0]["n"], "rounds": len(common),
                a_label: {
                    "throughput": med([r["throughput"] for r in ra]),
                    "client_rps": med([r["client_rps"] for r in ra]),
                    "cpu_us_per_op": med([r["cpu_us_per_op"] for r in ra]),
                    "server_core_util": med([r["server_core_util"] for r in ra]),
                    "client_cpu_us_per_op": med([r["client_cpu_us_per_op"] for r in ra]),
                },
                b_label: {
                    "throughput": med([r["throughput"] for r in rb]),
                    "client_rps": med([r["client_rps"] for r in rb]),
                    "cpu_us_per_op": med([r["cpu_us_per_op"] for r in rb]),
                    "server_core_util": med([r["server_core_util"] for r in rb]),
                    "client_cpu_us_per_op": med([r["client_cpu_us_per_op"] for r in rb]),
                },
                "cpu_ratio": med(cpu_ratios),
                "cpu_ratio_min": min(cpu_ratios), "cpu_ratio_max": max(cpu_ratios),
                "thr_ratio": med(thr_ratios),
                "goal": GOALS.get(p),
            })
    return rows


def print_table(rows, a_label, b_label, out=sys.stdout):
    cols = ["test", "n", "%s kop/s" % b_label, "%s kop/s" % a_label, "thr ratio",
            "%s us/op" % b_label, "%s us/op" % a_label, "cpu/op ratio",
            "[min - max]", "core %", "goal"]
    widths = [9, 9, 12, 12, 9, 11, 12, 12, 13, 9, 12]
    hdr = "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cols, widths)))
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for r in rows:
        a, b = r[a_label], r[b_label]
        goal = r["goal"]
        if goal is None:
            gtxt = "-"
        else:
            gtxt = "<=%.2f %s" % (goal, "ok" if r["cpu_ratio"] <= goal else "MISS")
        vals = ["%s -P%d" % (r["test"], r["pipeline"]),
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
    print("%-5s %-7s %-9s %9s %8s %10s %10s %10s %8s %7s %7s %9s %6s %6s" % (
        "round", "server", "test", "ops", "wall s", "ops/s", "client/s", "cpu ms",
        "us/op", "srv%", "cli%", "cli us/op", "oth0%", "oth1%"), file=out)
    for r in runs:
        print("%-5d %-7s %-9s %9d %8.3f %10.0f %10.0f %10.0f %8.3f %7.0f %7.0f %9.3f %6.0f %6.0f" % (
            r["round"], r["server"], "%s -P%d" % (r["test"], r["pipeline"]), r["ops"],
            r["wall_s"], r["throughput"], r["client_rps"], r["server_cpu_s"] * 1e3,
            r["cpu_us_per_op"], r["server_core_util"] * 100, r["client_core_util"] * 100,
            r["client_cpu_us_per_op"], r["other_load"]["server_core"] * 100, r["other_load"]["client_core"] * 100),
            file=out)


# --------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="corekv vs redis-server: throughput and server CPU per op "
                    "(servers on core %s, redis-benchmark on core %s, %s only)."
                    % (SERVER_CPU, CLIENT_CPU, HOST))
    ap.add_argument("--rounds", type=int, default=5, help="A/B rounds per test (default 5)")
    ap.add_argument("--tests", default="get,set",
                    help="comma-separated redis-benchmark -t tests (default get,set)")
    ap.add_argument("--pipelines", default="16,1", help="comma-separated -P values (default 16,1)")
    ap.add_argument("--clients", "-c", type=int, default=50, help="-c connections (default 50)")
    ap.add_argument("-n", "--requests", type=int, default=None,
                    help="requests per run; default: calibrated per test for --duration")
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
                    help="exit 1 if a CPU/op goal of issue 2 is missed")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every run")
    args = ap.parse_args(argv)
    args.tests = [t.strip().lower() for t in args.tests.split(",") if t.strip()]
    args.pipelines = [int(p) for p in args.pipelines.split(",") if p.strip()]
    args.server_args = shlex.split(args.server_args)
    for a in args.server_args:
        if a.split("=", 1)[0] in ("--port", "--bind"):
            ap.error("--server-args must not set %s: the script picks the port and "
                     "binds %s only" % (a.split("=", 1)[0], HOST))
    if args.rounds < 1 or args.clients < 1 or not args.tests or not args.pipelines:
        ap.error("need at least one round, client, test and pipeline depth")
    return args


def preflight(args):
    if (os.cpu_count() or 1) < 2:
        log("warning: fewer than 2 cores; server and client will share a core")
    for b in (args.corekv_bin, args.redis_bin, args.benchmark_bin):
        if not (os.path.isfile(b) and os.access(b, os.X_OK)) and not shutil.which(b):
            sys.exit("error: %s not found or not executable%s" % (
                b, " (run `make build` first)" if b == args.corekv_bin else ""))
    if not shutil.which("taskset"):
        sys.exit("error: taskset not found (util-linux)")
    load1 = os.getloadavg()[0]
    if load1 > 1.0:
        log("warning: load average %.2f > 1.0: the machine is busy, figures will be noisy"
            % load1)
    return load1


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    load1 = preflight(args)

    workdir = tempfile.mkdtemp(prefix="corekv-bench-")
    a = Server("corekv", args.corekv_bin, args.server_args, workdir)
    b = Server("redis", args.redis_bin, [], workdir)
    servers = [a, b]

    def cleanup():
        for s in servers:
            s.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)

    atexit.register(cleanup)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if inherited ignored
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    out = sys.stdout if args.json != "-" else sys.stderr
    try:
        for s in servers:
            s.start()
            nkeys = preload(s, args.keyspace, args.datasize)
            log("%s: %s pid %d port %d, %d thread(s) on cpu %s, %d keys preloaded" % (
                s.label, s.binary, s.proc.pid, s.port, s.threads(),
                ",".join(map(str, s.affinity())), -1 if nkeys is None else nkeys))
        if a.is_redis:
            log("note: the corekv side is a redis-server binary (harness self-test)")

        # Idle CPU over one second, both servers with no client activity.
        idle0 = [s.cpu_ticks() for s in servers]
        t0 = time.monotonic()
        time.sleep(1.0)
        idle = [(s.cpu_ticks() - c0) / CLK_TCK / (time.monotonic() - t0)
                for s, c0 in zip(servers, idle0)]
        log("idle CPU: %s" % ", ".join("%s %.1f%%" % (s.label, u * 100)
                                       for s, u in zip(servers, idle)))

        plan = [(t, p) for t in args.tests for p in args.pipelines]
        nreq = {}
        for t, p in plan:
            nreq[(t, p)] = args.requests or calibrate(args, servers, t, p)
        log("requests per run: " + ", ".join("%s -P%d %d" % (t.upper(), p, nreq[(t, p)])
                                             for t, p in plan))

        runs = []
        retried = 0
        for rnd in range(1, args.rounds + 1):
            for t, p in plan:
                for attempt in range(args.retries + 1):
                    pair = []
                    for s in servers:            # A B A B ...
                        r = run_benchmark(args, s, t, p, nreq[(t, p)])
                        r["round"] = rnd
                        r["attempt"] = attempt
                        pair.append(r)
                        if args.verbose:
                            log("round %d %-6s %s -P%-2d %8.0f ops/s %.3f us/op (core %.0f%%, "
                                "other %.0f%%/%.0f%%)" % (
                                    rnd, s.label, t.upper(), p, r["throughput"],
                                    r["cpu_us_per_op"], r["server_core_util"] * 100,
                                    r["other_load"]["server_core"] * 100,
                                    r["other_load"]["client_core"] * 100))
                    worst = max(max(r["other_load"].values()) for r in pair)
                    if worst <= args.max_other_load or attempt == args.retries:
                        break
                    log("round %d %s -P%d: other load %.0f%% on a benchmark core, "
                        "repeating the pair" % (rnd, t.upper(), p, worst * 100))
                    retried += 1
                runs.extend(pair)
            log("round %d/%d done" % (rnd, args.rounds))
    except KeyboardInterrupt:
        log("interrupted: stopping servers")
        cleanup()
        return 130
    except (RuntimeError, OSError) as e:
        log("error: %s" % e)
        for s in servers:
            if s.proc is not None and s.proc.poll() is not None:
                log("%s exited with status %s; end of %s:\n%s" % (
                    s.label, s.proc.returncode, s.logpath, s.log_tail()))
        cleanup()
        return 1

    cleanup()
    rows = summarize(runs, a.label, b.label, args.tests, args.pipelines, args.rounds)

    print("corekv bench: %d rounds alternating corekv/redis, -c %d, -r %d keys preloaded, "
          "-d %d B values; servers on cpu %s, redis-benchmark on cpu %s; load %.2f at start"
          % (args.rounds, args.clients, args.keyspace, args.datasize, SERVER_CPU,
             CLIENT_CPU, load1), file=out)
    if a.is_redis:
        print("corekv side: %s (redis-server: harness self-test)" % args.corekv_bin, file=out)
    else:
        print("corekv side: %s" % shlex.join([args.corekv_bin] + a.argv(0)[3:]), file=out)
    print("medians over rounds; ratios are corekv/redis per round, then the median; "
          "throughput and us/op use the server's own op count", file=out)
    print(file=out)
    print_table(rows, a.label, b.label, out=out)
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
    if args.verbose:
        print(file=out)
        print_runs(runs, out=out)

    if args.json:
        doc = {
            "config": {
                "rounds": args.rounds, "clients": args.clients, "tests": args.tests,
                "pipelines": args.pipelines, "keyspace": args.keyspace,
                "datasize": args.datasize, "requests": {"%s-P%d" % (t, p): nreq[(t, p)]
                                                        for t, p in plan},
                "corekv_bin": args.corekv_bin, "server_args": args.server_args,
                "redis_bin": args.redis_bin, "clk_tck": CLK_TCK, "loadavg_start": load1,
                "idle_core_util": {s.label: u for s, u in zip(servers, idle)},
                "max_other_load": args.max_other_load, "retries": args.retries,
                "pairs_repeated": retried,
            },
            "summary": rows, "runs": runs,
        }
        if args.json == "-":
            json.dump(doc, sys.stdout, indent=2)
            print()
        else:
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=2)

    if args.check and any(r["goal"] is not None and r["cpu_ratio"] > r["goal"] for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
