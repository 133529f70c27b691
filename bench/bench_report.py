"""bench/run.py's summary: per scenario the medians over rounds of each server's
figures and of the per-round ratios corekv/redis (and, for the two-shard scenarios,
corekv two shards / corekv one shard), the goals met or missed, and the tables."""

import statistics
import sys

from bench_goals import evaluate, goal_text

A, B = "corekv", "redis"   # the two sides; ratios are A/B


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def _by_round(runs, scenario, side):
    return {r["round"]: r for r in runs if r["scenario"] == scenario and r["server"] == side}


def _label(label, io, reactor):
    """With --io-modes auto, the label says which reactor auto chose."""
    if io == "auto" and reactor:
        return label.replace("[auto]", "[auto: %s]" % reactor)
    return label


def summarize(runs, plan):
    rows = []
    for sc in plan:
        by_a, by_b = _by_round(runs, sc["name"], A), _by_round(runs, sc["name"], B)
        common = sorted(set(by_a) & set(by_b))
        if not common:
            continue
        ra, rb = list(by_a.values()), list(by_b.values())
        cpu_ratios = [by_a[i]["cpu_us_per_op"] / by_b[i]["cpu_us_per_op"] for i in common]
        thr_ratios = [by_a[i]["throughput"] / by_b[i]["throughput"] for i in common]
        row = {"scenario": sc["name"], "label": _label(sc["label"], sc["io"], ra[0].get("reactor")),
               "tool": sc["tool"],
               "test": sc["test"].upper(), "pipeline": sc["pipeline"], "n": ra[0]["n"],
               "rounds": len(common), "corekv_instance": ra[0]["instance"],
               "io": sc["io"], "reactor": ra[0].get("reactor")}
        for label, rs in ((A, ra), (B, rb)):
            row[label] = {
                "throughput": med([r["throughput"] for r in rs]),
                "client_rps": med([r["client_rps"] for r in rs]),
                "cpu_us_per_op": med([r["cpu_us_per_op"] for r in rs]),
                "server_core_util": med([r["server_core_util"] for r in rs]),
                "client_core_util": med([r["client_core_util"] for r in rs]),
                "client_cpu_us_per_op": med([r["client_cpu_us_per_op"] for r in rs]),
                "reply_errors": sum(r["reply_errors"] for r in rs),
            }
        row.update({
            "cpu_ratio": med(cpu_ratios),
            "cpu_ratio_min": min(cpu_ratios), "cpu_ratio_max": max(cpu_ratios),
            "thr_ratio": med(thr_ratios),
        })
        if sc.get("base"):
            _add_shard_figures(row, runs, sc, by_a)
        row["goal_results"] = evaluate(sc["goals"], row)
        rows.append(row)
    return rows


def _add_shard_figures(row, runs, sc, by_a):
    """A two-shard row: corekv's CPU per op over its one-shard figure of the same round
    (scenario sc["base"]), the share of commands forwarded to the other shard, and how
    the connections fell on the shards."""
    base = _by_round(runs, sc["base"], A)
    ratios = [by_a[i]["cpu_us_per_op"] / base[i]["cpu_us_per_op"]
              for i in sorted(set(by_a) & set(base))]
    fwd = [r["forwarded"] / r["server_commands"] for r in by_a.values()
           if r.get("forwarded") is not None and r.get("server_commands")]
    row.update({
        "base": sc["base"],
        "shard_cpu_ratio": med(ratios) if ratios else None,
        "shard_cpu_ratio_min": min(ratios, default=None),
        "shard_cpu_ratio_max": max(ratios, default=None),
        "forwarded_share": med(fwd) if fwd else None,
        # Only corekv (which counts forwarded commands) has a shard in its CLIENT ID.
        "conn_shards": [r.get("loadgen", {}).get("conn_shards") for r in by_a.values()
                        if r.get("forwarded") is not None],
    })


def print_table(rows, out=sys.stdout):
    cols = ["test", "n", "%s kop/s" % B, "%s kop/s" % A, "thr ratio",
            "%s us/op" % B, "%s us/op" % A, "cpu/op ratio",
            "[min - max]", "core %", "cli %", "goal"]
    widths = [max([15] + [len(r["label"]) for r in rows]), 9, 12, 12, 9, 11, 12, 12, 13, 9,
              7, 12]
    hdr = "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cols, widths)))
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for r in rows:
        a, b = r[A], r[B]
        if a["reply_errors"] or b["reply_errors"]:
            gtxt = "REPLY ERRORS"
        else:
            gtxt = goal_text(r["goal_results"])
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
                "%d/%d" % (round(b["client_core_util"] * 100), round(a["client_core_util"] * 100)),
                gtxt]
        print("  ".join(v.rjust(w) if i else v.ljust(w)
                        for i, (v, w) in enumerate(zip(vals, widths))).rstrip(), file=out)


def print_shard_notes(rows, out=sys.stdout):
    """Under the table, per two-shard row: the ratio to one shard and its spread, the
    share of commands forwarded, and the connections per shard of each run."""
    for r in rows:
        if "base" not in r:
            continue
        if r["shard_cpu_ratio"] is None:
            print("%s: no one-shard run (%s) in the same rounds to compare with"
                  % (r["label"], r["base"]), file=out)
            continue
        fwd = r["forwarded_share"]
        splits = " ".join("/".join(str(v) for _, v in sorted(cs.items(), key=lambda kv: int(kv[0])))
                          for cs in r["conn_shards"] if cs)
        print("%s: corekv CPU/op %.3f times its one-shard figure (%s) [%.3f-%.3f]; "
              "%s of commands forwarded; connections per shard %s"
              % (r["label"], r["shard_cpu_ratio"], r["base"], r["shard_cpu_ratio_min"],
                 r["shard_cpu_ratio_max"], "?" if fwd is None else "%.1f%%" % (fwd * 100),
                 splits or "?"), file=out)


def print_runs(runs, out=sys.stdout):
    width = max([7] + [len(r["instance"]) for r in runs])
    print("%-5s %-*s %-15s %9s %8s %10s %10s %10s %8s %7s %7s %9s %6s %6s" % (
        "round", width, "server", "test", "ops", "wall s", "ops/s", "client/s", "cpu ms",
        "us/op", "srv%", "cli%", "cli us/op", "oth0%", "oth1%"), file=out)
    for r in runs:
        print("%-5d %-*s %-15s %9d %8.3f %10.0f %10.0f %10.0f %8.3f %7.0f %7.0f %9.3f %6.0f %6.0f" % (
            r["round"], width, r["instance"], "%s -P%d" % (r["test"], r["pipeline"]), r["ops"],
            r["wall_s"], r["throughput"], r["client_rps"], r["server_cpu_s"] * 1e3,
            r["cpu_us_per_op"], r["server_core_util"] * 100, r["client_core_util"] * 100,
            r["client_cpu_us_per_op"], r["other_load"]["server_core"] * 100,
            r["other_load"]["client_core"] * 100), file=out)
