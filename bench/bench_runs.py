"""bench/run.py's runs: one run of a scenario against a server (the load generator's
command line, the measurement window, the figures of the run), the warm-up that
calibrates the request count, and the rounds that alternate corekv and redis-server."""

import json
import resource
import shlex
import subprocess
import time

from bench_scenarios import FANOUT_CHANNEL
from bench_servers import (CLIENT_CPU, CLK_TCK, HOST, SERVER_CPU, Resp, core_busy_ticks,
                           info_fields, log)

# Warm-up requests at -P 1: enough for a rate (a second or less at 20-60k/s).
WARMUP_P1 = 20000


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
    if sc.get("client_ids"):
        cmd.append("--client-ids")
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


COUNTERS = ("total_commands_processed", "corekv_forwarded_commands")


def run_benchmark(args, server, sc, n):
    if sc.get("setup"):
        set_up_list(server, sc, n, args.datasize)
    cmd = client_command(args, server, sc, n)
    cmds0, fwd0 = info_fields(server.port, "stats", *COUNTERS)

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0 = core_busy_ticks()
    cpu0 = server.cpu_ticks()
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    t1 = time.monotonic()
    cpu1 = server.cpu_ticks()
    busy1 = core_busy_ticks()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)

    cmds1, fwd1 = info_fields(server.port, "stats", *COUNTERS)
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
        # One op = one script execution (a command, a transaction, an MSET), counted by
        # loadgen as it checked the replies: the servers count commands inside
        # MULTI differently.
        ops, ops_src = loadgen["ops"], "client"
    elif server_cmds is not None:
        ops, ops_src = server_cmds, "server"
    else:
        ops, ops_src = n, "client"
    run = {
        "server": server.label, "instance": server.name, "scenario": sc["name"],
        "io": server.io, "reactor": server.reactor,
        "test": sc["test"].upper(), "pipeline": sc["pipeline"],
        "clients": args.clients, "n": n, "ops": ops, "ops_source": ops_src,
        "server_commands": server_cmds,            # delta of total_commands_processed
        "forwarded": fwd1 - fwd0 if None not in (fwd0, fwd1) else None,  # to another shard
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
    fastest server's rate (the same n for all: a fixed request count)."""
    if sc["tool"] == "fanout":
        n0 = 50000      # PUBLISHes; the rates below are messages delivered
    elif sc["tool"] == "loadgen" and sc["group"] not in ("lg", "shard2"):
        n0 = 30000      # scripts of several commands (multi5, mset10)
    else:
        n0 = 300000 if sc["pipeline"] > 1 else WARMUP_P1
    n0 = max(n0, args.clients * sc["pipeline"] * 20)
    rates = []
    for s in servers:
        r = run_benchmark(args, s, sc, n0)
        rates.append(r["throughput"])
        if args.verbose:
            log("  warm-up %-14s %s n=%d: %.0f ops/s" % (s.name, sc["label"], n0,
                                                         r["throughput"]))
        warn_reply_errors(r)
    n = int(max(rates) * args.duration * sc.get("duration_scale", 1.0))
    if sc["tool"] == "fanout":
        n //= args.subscribers
    else:
        # Never below the warm-up's own count (scaled like the run): a busy machine
        # slows the warm-up, and a run must still span enough 10 ms CPU ticks.
        n = max(n, int(n0 * sc.get("duration_scale", 1.0)))
    step = 100000 if n >= 1000000 else 10000
    return max(step, (n + step - 1) // step * step)


_warned = set()


def warn_reply_errors(run):
    """Logs a run's wrong replies, once per scenario and server."""
    if run["reply_errors"] and (run["scenario"], run["instance"]) not in _warned:
        _warned.add((run["scenario"], run["instance"]))
        log("%s %s: %d error/unexpected replies of %d ops; loadgen said:\n  %s" % (
            run["instance"], run["scenario"], run["reply_errors"], run["ops"],
            "\n  ".join(run["reply_problems"])))



def measure_rounds(args, plan, pairs):
    """Calibrates each scenario, then runs R rounds of every scenario, corekv then
    redis-server (A B A B ...), a pair repeated when other load disturbed it. Returns
    (requests per scenario, runs, how many pairs were repeated)."""
    nreq = {}
    for sc in plan:
        if sc["base_name"] in nreq:
            continue
        # One n for every reactor's variant of a scenario, from all their servers.
        servers = []
        for v in plan:
            if v["base_name"] == sc["base_name"]:
                servers += [s for s in pairs[v["corekv"]] if s not in servers]
        nreq[sc["base_name"]] = args.requests or calibrate(args, servers, sc)
    log("requests per run: " + ", ".join("%s %d" % (name, n) for name, n in nreq.items()))

    runs = []
    retried = 0
    for rnd in range(1, args.rounds + 1):
        for sc in plan:
            for attempt in range(args.retries + 1):
                pair = []
                for s in pairs[sc["corekv"]]:       # A B A B ...
                    r = run_benchmark(args, s, sc, nreq[sc["base_name"]])
                    r["round"] = rnd
                    r["attempt"] = attempt
                    pair.append(r)
                    warn_reply_errors(r)
                    if args.verbose:
                        log("round %d %-14s %-18s %8.0f ops/s %.3f us/op (core %.0f%%, "
                            "client %.0f%%, other %.0f%%/%.0f%%)" % (
                                rnd, s.name, sc["label"], r["throughput"],
                                r["cpu_us_per_op"], r["server_core_util"] * 100,
                                r["client_core_util"] * 100,
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
    return nreq, runs, retried
