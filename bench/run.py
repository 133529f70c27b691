#!/usr/bin/python3
"""corekv vs redis-server: throughput and server CPU per operation.

Starts corekv and redis-server side by side, each pinned to one core (core 0)
with the load generator (redis-benchmark, or bench/loadgen: the fast one, and the
one for what redis-benchmark cannot send: MULTI blocks, cross-shard MSET) pinned to
the other (core 1), and alternates runs between them round by round. For every run
it measures, over the window in which the load generator runs:

  * the server's CPU time: utime+stime of the whole process (all threads) from
    /proc/<pid>/stat, in clock ticks (sysconf SC_CLK_TCK);
  * the server's operation count: the delta of INFO total_commands_processed
    (redis-benchmark scenarios), or loadgen's count of script executions;
  * the wall time of the window.

and prints, per scenario, the median throughput and the median server CPU
microseconds per operation of each server, plus the median of the per-round ratios
corekv/redis, the goals of issues 2, 5 and 7 met or missed, and issue 7's goal
table. The scenarios (bench_scenarios.py): redis-benchmark GET/SET; loadgen GET,
SET, INCR, HSET, SADD (lg-*); collection types; MULTI/EXEC and cross-shard MSET;
GET/SET against corekv with two shards (shard2-*); SET with the append-only log;
pub/sub fan-out (bench/fanout.c); memory per element and per key
(bench_memory.py). With --io-modes the corekv side runs once per reactor.

Standard library only; run with Debian's /usr/bin/python3. Only ever talks to
127.0.0.1. See bench/README.md.
"""

import argparse
import atexit
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_goals import missed, print_issue7  # noqa: E402
from bench_memory import memory_bench, print_memory  # noqa: E402
from bench_report import print_runs, print_shard_notes, print_table, summarize  # noqa: E402
from bench_runs import drop_unknown, measure_rounds  # noqa: E402
from bench_scenarios import (AOF_MODES, COLLECTION_TESTS, FANOUT_WINDOWS,  # noqa: E402
                             IO_MODES, LG_SCRIPTS, LG_TESTS, SHARD_TESTS, scenario_plan,
                             write_shard_key_lists)
from bench_servers import (CLIENT_CPU, CLK_TCK, HOST, SERVER_CPU, Server,  # noqa: E402
                           is_redis_binary, log, preload)

REPO = Path(__file__).resolve().parent.parent
AOF_DIR = "/var/tmp"
MEMORY_FS = ("tmpfs", "ramfs")


# --------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="corekv vs redis-server: throughput and server CPU per op "
                    "(servers on core %s, the load generator on core %s, %s only)."
                    % (SERVER_CPU, CLIENT_CPU, HOST))
    ap.add_argument("--rounds", type=int, default=5, help="A/B rounds per test (default 5)")
    ap.add_argument("--only", default="",
                    help="comma-separated scenarios to run, by name (get-P16, lg-get-P16, "
                         "multi5, ...), test (get: every -P; lg-get) or group (lg, shard2, "
                         "memory); default all")
    ap.add_argument("--cross-shards", type=int, default=max(2, os.cpu_count() or 1),
                    help="corekv's --shards for mset10 and fanout-sN (default: the number "
                         "of CPUs, at least 2)")
    ap.add_argument("--tests", default="get,set",
                    help="comma-separated redis-benchmark -t tests (default get,set)")
    ap.add_argument("--lg-tests", default=LG_TESTS,
                    help="single commands sent by bench/loadgen at every --pipelines depth, "
                         "scenarios lg-<test>-P<p>, for a third of --duration (default %s; "
                         "'' for none; known: %s)" % (LG_TESTS, ",".join(LG_SCRIPTS)))
    ap.add_argument("--shard-tests", default=SHARD_TESTS,
                    help="loadgen tests also run at -P16 against corekv --shards 2 "
                         "(shard2-<test>-P16), compared with one shard (default %s; '' for "
                         "none)" % SHARD_TESTS)
    ap.add_argument("--io-modes", default="",
                    help="comma-separated corekv reactors (%s): every scenario's corekv "
                         "side runs once per reactor with --io <mode>, as scenarios "
                         "<name>@<mode>; default: one corekv, with its own default"
                         % ",".join(IO_MODES))
    ap.add_argument("--collections", default=COLLECTION_TESTS,
                    help="comma-separated redis-benchmark tests of the collection "
                         "types, run for a third of --duration (default %s; '' for none)"
                         % COLLECTION_TESTS)
    ap.add_argument("--mem-elements", type=int, default=1000000,
                    help="memory scenario: fields of the hash and members of the sorted "
                         "set loaded into a fresh pair of servers (default 1000000; 0 "
                         "skips it)")
    ap.add_argument("--mem-keys", type=int, default=1000000,
                    help="memory-keys scenario: keys with 16-byte values loaded into a "
                         "fresh pair of servers (default 1000000; 10000000 for issue 7's "
                         "10M; 0 skips it)")
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
                    help="extra corekv flags, one shell-quoted string (not --port/--bind; "
                         "--io only without --io-modes)")
    ap.add_argument("--json", metavar="PATH", help="also write every run and the summary "
                    "as JSON to PATH ('-' for stdout, replacing the table)")
    ap.add_argument("--max-other-load", type=float, default=0.10,
                    help="a run pair in which anything else used more than this fraction "
                         "of core 0 or core 1 is repeated (default 0.10)")
    ap.add_argument("--retries", type=int, default=2,
                    help="times a noisy pair is repeated before it is kept anyway (default 2)")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if a goal is missed: issue 2's CPU/op of GET/SET, issue 5's "
                         "fan-out delivery rate, issue 7's (see its goal table)")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every run")
    args = ap.parse_args(argv)

    def csv(text):
        return [t.strip().lower() for t in text.split(",") if t.strip()]

    args.tests, args.collections = csv(args.tests), csv(args.collections)
    args.lg_tests, args.shard_tests = csv(args.lg_tests), csv(args.shard_tests)
    unknown = [t for t in args.lg_tests + args.shard_tests if t not in LG_SCRIPTS]
    if unknown:
        ap.error("--lg-tests/--shard-tests: unknown test(s) %s; known: %s"
                 % (",".join(unknown), ",".join(LG_SCRIPTS)))
    args.pipelines = [int(p) for p in csv(args.pipelines)]
    args.only = csv(args.only)
    args.aof_modes = csv(args.aof_modes)
    bad = [m for m in args.aof_modes if m not in ("always", "everysec", "no")]
    if bad:
        ap.error("--aof-modes: unknown appendfsync mode(s) %s" % ",".join(bad))
    args.io_modes = csv(args.io_modes) or [None]
    bad = [m for m in args.io_modes if m not in IO_MODES + (None,)]
    if bad:
        ap.error("--io-modes: unknown reactor(s) %s; known: %s" % (",".join(bad),
                                                                  ",".join(IO_MODES)))
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
        if a.split("=", 1)[0] == "--io" and args.io_modes != [None]:
            ap.error("--server-args sets --io and --io-modes gives the reactors: one or "
                     "the other")
    if is_redis_binary(args.corekv_bin) and args.io_modes != [None]:
        ap.error("--io-modes: the corekv side is a redis-server binary")
    if args.rounds < 1 or args.clients < 1 or not args.pipelines:
        ap.error("need at least one round, client and pipeline depth")
    if args.cross_shards < 2:
        ap.error("--cross-shards must be at least 2")
    args.fanout_windows = [int(w) for w in csv(args.fanout_windows)]
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



def build_pairs(args, plan, workdir):
    """The servers the scenarios need, as pairs keyed like sc["corekv"]: [corekv,
    redis-server]. Pairs: "one" (one shard: GET/SET, lg-*, collections, multi5,
    fanout-s1), "two" (two shards: shard2-*), "cross" (--cross-shards: mset10,
    fanout-sN), "aof-<mode>" (with the log), each with a redis-server of its own, so
    that both servers of a pair share one history; with --io-modes a corekv per
    reactor, beside the one redis-server of that pair. Returns (pairs, the log
    scenarios' temporary directory or None)."""
    pairs, redis_of, aof_root = {}, {}, None
    for sc in plan:
        if sc["tool"] == "memory" or sc["corekv"] in pairs:
            continue
        pair, io = sc["pair"], sc["io"]
        ck_extra, rs_extra, shards = list(args.server_args), [], 1
        names = {"one": ("corekv", "redis"), "two": ("corekv-shard2", "redis-shard2"),
                 "cross": ("corekv-%dshards" % args.cross_shards, "redis-cross")}
        if pair == "two":
            shards = 2
        elif pair == "cross":
            shards = args.cross_shards
        elif pair.startswith("aof-"):
            mode = pair[4:]
            names[pair] = ("corekv-" + pair, "redis-" + pair)
            if aof_root is None:
                aof_root = tempfile.mkdtemp(prefix="corekv-bench-aof-", dir=args.aof_dir)
            # No automatic rewrite: redis-server would fork one mid-run (its child's CPU
            # is not the server's), corekv would rewrite in its shard threads: unlike work.
            log_flags = ["--appendonly", "yes", "--appendfsync", mode,
                         "--auto-aof-rewrite-percentage", "0"]
            ck_dir = os.path.join(aof_root, "corekv-%s%s" % (mode, "@" + io if io else ""))
            os.mkdir(ck_dir)
            ck_extra += ["--dir", ck_dir] + log_flags
            if pair not in redis_of:
                rs_dir = os.path.join(aof_root, "redis-" + mode)
                os.mkdir(rs_dir)
                rs_extra = ["--dir", rs_dir] + log_flags
        ck_name, rs_name = names[pair]
        if pair not in redis_of:
            redis_of[pair] = Server("redis", args.redis_bin, rs_extra, workdir, name=rs_name)
        pairs[sc["corekv"]] = [
            Server("corekv", args.corekv_bin, ck_extra, workdir, shards=shards, io=io,
                   name=ck_name + ("@" + io if io else "")),
            redis_of[pair]]
    return pairs, aof_root




def print_report(args, out, load1, pairs, rows, mem_rows, runs, retried):
    self_test = is_redis_binary(args.corekv_bin)
    print("corekv bench: %d rounds alternating corekv/redis, -c %d, -r %d keys preloaded, "
          "-d %d B values; servers on cpu %s, load generator on cpu %s; load %.2f at start"
          % (args.rounds, args.clients, args.keyspace, args.datasize, SERVER_CPU,
             CLIENT_CPU, load1), file=out)
    if self_test:
        print("corekv side: %s (redis-server: harness self-test)" % args.corekv_bin, file=out)
    else:
        for pair in pairs.values():
            ck = pair[0]
            print("%s: %s (reactor: %s)" % (ck.name, shlex.join([args.corekv_bin]
                                                               + ck.argv(0)[3:]),
                                            ck.reactor or "?"), file=out)
    if args.aof_fs:
        print("log scenarios: both servers --appendonly yes --appendfsync <mode> "
              "--auto-aof-rewrite-percentage 0, files under %s (%s, mounted at %s)"
              % (args.aof_dir, args.aof_fs[1], args.aof_fs[0]), file=out)
    print("medians over rounds; ratios are corekv/redis per round, then the median; "
          "throughput and us/op use the server's own op count (redis-benchmark) or "
          "loadgen's count of scripts (lg-*: one command, multi5: one transaction, "
          "mset10: one MSET) or fanout's count of messages delivered (fanout: n is "
          "PUBLISHes, an op is one message received by one of %d subscribers); core %% and "
          "cli %%: the server's and the load generator's core busy, redis/corekv runs (a "
          "load generator near 100%% is the bottleneck: compare us/op)" % args.subscribers,
          file=out)
    print(file=out)
    if rows:
        print_table(rows, out=out)
        print_shard_notes(rows, out=out)
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
    bad = [r for r in rows if r["corekv"]["reply_errors"] or r["redis"]["reply_errors"]]
    for r in bad:
        print("error: %s: %d wrong replies from corekv, %d from redis (error or unexpected "
              "replies, checked by loadgen): its figures are not comparable"
              % (r["scenario"], r["corekv"]["reply_errors"], r["redis"]["reply_errors"]),
              file=out)
    print(file=out)
    print_issue7(rows, mem_rows, args.clients, out=out)
    if args.verbose:
        print(file=out)
        print_runs(runs, out=out)
    return bad


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    plan = scenario_plan(args)
    load1 = preflight(args, plan)

    workdir = tempfile.mkdtemp(prefix="corekv-bench-")
    mem_plan = [sc for sc in plan if sc["tool"] == "memory"]
    plan = [sc for sc in plan if sc["tool"] != "memory"]
    mem_rows = None
    pairs, aof_root = build_pairs(args, plan, workdir)
    servers = []
    for pair in pairs.values():
        servers += [s for s in pair if s not in servers]
    mem_servers = []   # the memory scenarios', started (one at a time) after the rounds

    def cleanup():
        for s in servers + mem_servers:
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
    nreq, runs, retried, idle = {}, [], 0, []
    try:
        for sc in plan:
            if sc["tool"] == "loadgen" and sc["key_lists"]:
                sc["key_list_paths"] = write_shard_key_lists(workdir, args.keyspace,
                                                             args.cross_shards)
        for s in servers:
            s.start()
            nkeys = preload(s, args.keyspace, args.datasize)
            log("%s: %s pid %d port %d, %d thread(s) on cpu %s%s, %d keys preloaded" % (
                s.name, s.binary, s.proc.pid, s.port, s.threads(),
                ",".join(map(str, s.affinity())),
                ", reactor %s" % s.reactor if s.reactor else "",
                -1 if nkeys is None else nkeys))
        if is_redis_binary(args.corekv_bin):
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

        if plan:
            nreq, runs, retried = measure_rounds(args, plan, pairs)
        if mem_plan:
            for s in servers:   # the throughput servers are done: free their memory
                s.stop()
            mem_rows = []
            for sc in mem_plan:
                mem_rows += memory_bench(args, workdir, mem_servers, sc["name"], sc["mem_n"],
                                         args.io_modes)
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
    rows = summarize(runs, plan)
    bad = print_report(args, out, load1, pairs, rows, mem_rows, runs, retried)

    if args.json:
        doc = {
            "config": {
                "rounds": args.rounds, "clients": args.clients, "tests": args.tests,
                "lg_tests": args.lg_tests, "shard_tests": args.shard_tests,
                "io_modes": args.io_modes,
                "pipelines": args.pipelines, "scenarios": [sc["name"] for sc in plan],
                "keyspace": args.keyspace, "datasize": args.datasize,
                "requests": nreq, "cross_shards": args.cross_shards,
                "loadgen_scripts": {sc["name"]: sc["script"] for sc in plan
                                    if sc["tool"] == "loadgen"},
                "corekv_bin": args.corekv_bin, "server_args": args.server_args,
                "corekv_argv": corekv_argv,
                "reactors": {s.name: s.reactor for s in servers if s.label == "corekv"},
                "loadgen_bin": args.loadgen_bin,
                "redis_bin": args.redis_bin, "clk_tck": CLK_TCK, "loadavg_start": load1,
                "idle_core_util": {s.name: u for s, u in zip(servers, idle)},
                "max_other_load": args.max_other_load, "retries": args.retries,
                "pairs_repeated": retried,
                "aof_modes": args.aof_modes, "aof_dir": args.aof_dir,
                "aof_fs": args.aof_fs,
                "mem_elements": args.mem_elements, "mem_keys": args.mem_keys,
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
    if args.check and missed(rows, mem_rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
