"""The goals bench/run.py checks (issues 2, 5 and 7), what each scenario is held to,
and the goal table of issue 7. A goal is on a figure of a summary row: cpu_ratio and
thr_ratio (corekv/redis, the median of the per-round ratios), shard_cpu_ratio
(corekv with two shards over corekv with one, per round, then the median), or, for
the memory rows, rss_ratio (corekv/redis bytes per key)."""

import sys

# Issue 2: redis-benchmark GET and SET, one shard, -c 50: corekv's CPU per op at most
# this fraction of redis-server's, by pipeline depth.
ISSUE2_CPU = {16: 0.70, 1: 1.00}
# Issue 5: pub/sub fan-out, messages delivered per second at least this many times
# redis-server's (every window, one shard and several).
FANOUT_THR = 5.0
# Issue 7, one shard, -c 50, the fast load generator (bench/loadgen):
# (CPU per op at most, throughput at least), by pipeline depth.
ISSUE7_LG = {16: (0.50, 2.0), 1: (0.90, 1.0)}
ISSUE7_KEY_RSS = 0.80     # RSS growth per key, 1M keys with 16-byte values
ISSUE7_SHARD_CPU = 1.30   # two shards, half the keys forwarded, over one shard

FIGURE_TEXT = {
    "cpu_ratio": "server CPU/op vs redis",
    "thr_ratio": "throughput vs redis",
    "shard_cpu_ratio": "CPU/op, 2 shards vs 1 shard",
    "rss_ratio": "RSS growth per key vs redis",
}


def goal(issues, figure, op, target):
    return {"issues": tuple(issues), "figure": figure, "op": op, "target": target}


def scenario_goals(kind, pipeline, shards=1):
    """The goals of a scenario of this kind ("redis-benchmark" GET/SET, "lg": loadgen's
    single commands, "fanout", "shard2"); [] for none."""
    if kind == "redis-benchmark" and pipeline in ISSUE2_CPU:
        return [goal([2], "cpu_ratio", "<=", ISSUE2_CPU[pipeline])]
    if kind == "lg" and pipeline in ISSUE7_LG:
        cpu, thr = ISSUE7_LG[pipeline]
        return [goal([7], "cpu_ratio", "<=", cpu), goal([7], "thr_ratio", ">=", thr)]
    if kind == "fanout":
        return [goal([5, 7] if shards == 1 else [5], "thr_ratio", ">=", FANOUT_THR)]
    if kind == "shard2":
        return [goal([7], "shard_cpu_ratio", "<=", ISSUE7_SHARD_CPU)]
    if kind == "memory-keys":
        return [goal([7], "rss_ratio", "<=", ISSUE7_KEY_RSS)]
    return []


def evaluate(goals, row):
    """The goals with the row's value of each figure and whether it is met (ok: None
    when the figure could not be measured)."""
    results = []
    for g in goals:
        value = row.get(g["figure"])
        ok = None if value is None or value != value else \
            (value <= g["target"] if g["op"] == "<=" else value >= g["target"])
        results.append(dict(g, value=value, ok=ok))
    return results


def verdict(ok):
    return "n/a" if ok is None else "ok" if ok else "MISS"


def goal_text(results):
    """The main table's goal column: each goal as <=0.50 ok, >=2.0x MISS, 1sh<=1.30 ok."""
    parts = []
    for r in results:
        prefix = "1sh" if r["figure"] == "shard_cpu_ratio" else ""
        target = ("%.1fx" if r["figure"] == "thr_ratio" else "%.2f") % r["target"]
        parts.append("%s%s%s %s" % (prefix, r["op"], target, verdict(r["ok"])))
    return " ".join(parts) or "-"


def all_results(rows, mem_rows):
    """(label, scenario, result) of every goal of the run."""
    out = []
    for r in rows:
        out += [(r["label"], r["scenario"], g) for g in r.get("goal_results", [])]
    for r in mem_rows or []:
        out += [(r["label"], r["scenario"], g) for g in r.get("goal_results", [])]
    return out


def missed(rows, mem_rows):
    """True when a goal of the run is missed (not when it could not be measured)."""
    return any(g["ok"] is False for _, _, g in all_results(rows, mem_rows))


def print_issue7(rows, mem_rows, clients, out=sys.stdout):
    results = [(label, name, g) for label, name, g in all_results(rows, mem_rows)
               if 7 in g["issues"]]
    if not results:
        return
    print("issue 7 goals (one shard unless said; -c %d%s; medians of per-round ratios; "
          "--check exits 1 on a MISS)" % (
              clients, "" if clients == 50 else ", the goals are for -c 50"), file=out)
    width = max(len(label) for label, _, _ in results)
    hdr = "%-*s  %-28s %9s  %9s  %s" % (width, "scenario", "figure", "measured", "goal",
                                         "verdict")
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for label, _name, g in results:
        value = "-" if g["value"] is None else "%.3f" % g["value"]
        print("%-*s  %-28s %9s  %9s  %s" % (width, label, FIGURE_TEXT[g["figure"]], value,
                                             "%s %.2f" % (g["op"], g["target"]),
                                             verdict(g["ok"])), file=out)
