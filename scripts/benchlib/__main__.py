"""``scripts/bench [--quick] [--runs N] [--only NAME,...] [--redis] [--out PATH]``."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from . import limits, scenarios
from .procs import REPO, cpu_seconds
from .report import Metric, machine, percentile, table, write_json

MIB = 1024 * 1024
SCENARIOS = ("limits", "throughput", "activity", "rtt", "fanout", "stall", "exit", "late",
             "scale", "redis")


def _metrics() -> dict[str, Metric]:
    ms = [
        Metric("pty_raw_MBps", "limit: raw PTY read", "MB/s", reference="~330"),
        Metric("pty_cooked_MBps", "limit: cooked PTY read", "MB/s", reference="~100"),
        Metric("ws_echo_p50_us", "limit: WS echo p50", "us", reference="55-70"),
        Metric("ws_echo_p99_us", "limit: WS echo p99", "us"),
        Metric("hop_cpu_ms_per_MB", "limit: aiohttp one-hop CPU", "ms/MB", reference="0.8"),
        Metric("raw_MBps", "throughput, raw tty", "MB/s", reference="157 / 67",
               # The issue states ttyd's 157 MB/s as a ratio to the raw PTY limit of its
               # machine (157/330): >= 0.5x of this run's own limit.
               limit_key="pty_raw_MBps", goal=">=0.5x",
               check=lambda v, lim: lim is not None and v >= 0.5 * lim),
        Metric("cooked_MBps", "throughput, cooked tty", "MB/s", reference="114 / 65",
               limit_key="pty_cooked_MBps", goal=">=0.9x",
               check=lambda v, lim: lim is not None and v >= 0.9 * lim),
        Metric("raw_noactivity_MBps", "raw tty, --no-activity (paired)", "MB/s"),
        Metric("raw_activity_MBps", "raw tty, activity detector on (paired)", "MB/s",
               limit_key="raw_noactivity_MBps", goal=">=0.9x",
               check=lambda v, lim: lim is not None and v >= 0.9 * lim),
        # CPU per MB is steadier than MB/s on a shared machine: the same goal, as cost.
        Metric("sidecar_cpu_noactivity_ms_per_MB", "sidecar CPU per MB, --no-activity",
               "ms/MB"),
        Metric("sidecar_cpu_activity_ms_per_MB", "sidecar CPU per MB, activity on", "ms/MB",
               limit_key="sidecar_cpu_noactivity_ms_per_MB", goal="<=1.11x",
               check=lambda v, lim: lim is not None and v <= lim / 0.9),
        Metric("relay_cpu_ms_per_MB", "relay CPU per MB (raw)", "ms/MB",
               reference="4.0 / 12.8", limit_key="hop_cpu_ms_per_MB", goal="<=4",
               check=lambda v, lim: v <= 4.0),
        Metric("sidecar_cpu_ms_per_MB", "sidecar CPU per MB (raw)", "ms/MB"),
        Metric("relay_cpu_cooked_ms_per_MB", "relay CPU per MB (cooked)", "ms/MB"),
        Metric("sidecar_cpu_cooked_ms_per_MB", "sidecar CPU per MB (cooked)", "ms/MB"),
        Metric("rtt_p50_us", "keystroke RTT p50", "us", reference="84 / 259",
               limit_key="ws_echo_p50_us", goal="<=170", check=lambda v, lim: v <= 170),
        Metric("rtt_p99_us", "keystroke RTT p99", "us", reference="152 / 520",
               limit_key="ws_echo_p99_us", goal="<=520", check=lambda v, lim: v <= 520),
        Metric("fanout_min_MBps", "10 viewers: slowest viewer", "MB/s", reference="- / 12.1",
               goal=">=25", check=lambda v, lim: v >= 25),
        Metric("fanout_exact_pct", "10 viewers: all exact", "% runs",
               goal="100", check=lambda v, lim: v == 100),
        Metric("fanout_viewer_cpu_ms_per_MB", "10 viewers: CPU per MB, each viewer", "ms/MB"),
        Metric("fanout_relay_cpu_ms_per_MB", "10 viewers: relay CPU per MB", "ms/MB"),
        Metric("stall_min_MBps", "10 viewers + 1 stalled: slowest", "MB/s",
               limit_key="fanout_min_MBps", goal=">=0.8x",
               check=lambda v, lim: lim is not None and v >= 0.8 * lim),
        Metric("fanout_relay_rss_MB", "10 viewers: relay RSS growth", "MB"),
        Metric("stall_relay_rss_MB", "stall: relay RSS growth", "MB", reference="- / +95",
               limit_key="fanout_relay_rss_MB", goal="minus no-stall <=8.4",
               check=lambda v, lim: lim is not None and v - lim <= 8.4),
        Metric("stall_exact_pct", "stall: the 10 others all exact", "% runs",
               goal="100", check=lambda v, lim: v == 100),
        Metric("stall_close_4503", "stall: stalled viewer got 4503", "%",
               goal="100", check=lambda v, lim: v == 100),
        Metric("exit_complete_pct", "print 16 MiB + exit: complete", "% runs",
               reference="30 / 100", goal="100", check=lambda v, lim: v == 100),
        Metric("late_join_s", "late joiner, 8 MiB (binary)", "s", goal="<=0.25",
               check=lambda v, lim: v <= 0.25),
        Metric("late_join_json_s", "late joiner, 8 MiB (JSON)", "s"),
        Metric("scale_idle_rss_MB", "idle relay RSS", "MB"),
        Metric("scale_agent_rss_KB", "RSS per agent connection", "KB"),
        Metric("scale_dashboard_rss_KB", "RSS per dashboard connection", "KB"),
        Metric("scale_connect_agents_s", "connect N agents", "s"),
        Metric("scale_connect_dashboards_s", "connect N dashboards", "s"),
    ]
    return {m.key: m for m in ms}


def _exact(ok: bool, what: str, run: dict[str, Any]) -> None:
    if not ok:
        print(f"  !! {what}: bytes not exact: {run}", file=sys.stderr)


async def _main(args: argparse.Namespace) -> int:
    quick: bool = args.quick
    runs: int = args.runs or (3 if quick else 5)
    only = set(args.only.split(",")) if args.only else set(SCENARIOS) - {"redis"}
    if args.redis:
        only.add("redis")
    if args.peers:
        return await _peers(args, runs)
    big = (32 if quick else 64) * MIB
    m = _metrics()
    raw: dict[str, list[Any]] = {}
    out = Path(args.out)
    logs = out.parent / "logs"
    info = machine()  # here: its loadavg_at_start is the load before the first run
    t_start = time.monotonic()
    bench_cpu0 = cpu_seconds(os.getpid())

    def note(name: str, result: Any) -> None:
        raw.setdefault(name, []).append(result)
        print(f"  {name}: {_brief(result)}", file=sys.stderr, flush=True)

    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(
        timeout=timeout, connector=aiohttp.TCPConnector(limit=0)
    ) as session:
        ctx = scenarios.Ctx(session=session, logs=logs, profile=args.profile)
        try:
            await _scenarios(ctx, only, m, raw, note, quick, runs, big)
        finally:
            if ctx.viewers is not None:
                await ctx.viewers.close()

    metrics = list(m.values())
    lims = {k: v for k, v in m.items()}
    info["runs"] = runs
    info["quick"] = quick
    info["elapsed_s"] = time.monotonic() - t_start
    info["bench_process_cpu_s"] = cpu_seconds(os.getpid()) - bench_cpu0
    print()
    print(table(metrics, lims))
    print(f"\n{info['nproc']} x {info['cpu']}, kernel {info['kernel']}, Python {info['python']};"
          f" medians of {runs} runs (min-max); {info['elapsed_s']:.0f} s; MB = 10^6 bytes")
    load = info["loadavg_at_start"][0]
    if load > 0.5 * info["nproc"]:
        print(f"note: load average {load:.2f} at the start on {info['nproc']} CPUs: other "
              "work was running, so these figures are not comparable with an idle run")
    write_json(out, info, metrics, lims, raw)
    print(f"wrote {out}")
    return 0


async def _scenarios(ctx: scenarios.Ctx, only: set[str], m: dict[str, Metric],
                     raw: dict[str, list[Any]], note: Callable[[str, Any], None],
                     quick: bool, runs: int, big: int) -> None:
    if "limits" in only:
        print("limits", file=sys.stderr)
        for _ in range(runs):
            r = await asyncio.to_thread(limits.pty_read, big, "raw")
            note("pty_raw", r)
            m["pty_raw_MBps"].values.append(r["MBps"])
            r = await asyncio.to_thread(limits.pty_read, big, "cooked")
            note("pty_cooked", r)
            m["pty_cooked_MBps"].values.append(r["MBps"])
            e = await limits.ws_echo(ctx.session, 500 if quick else 2000)
            m["ws_echo_p50_us"].values.append(percentile(e["samples_us"], 0.5))
            m["ws_echo_p99_us"].values.append(percentile(e["samples_us"], 0.99))
            h = await limits.one_hop(ctx.session, (128 if quick else 256) * MIB)
            note("one_hop", h)
            m["hop_cpu_ms_per_MB"].values.append(h["cpu_ms_per_MB"])
    if "throughput" in only:
        print("throughput", file=sys.stderr)
        for _ in range(runs):
            for mode in ("raw", "cooked"):
                r = await scenarios.burst(ctx, nbytes=big, mode=mode)
                note(f"throughput_{mode}", r)
                _exact(r["exact"], f"throughput {mode}", r)
                sfx = "" if mode == "raw" else "_cooked"
                m[f"{mode}_MBps"].values.append(r["MBps"])
                m[f"relay_cpu{sfx}_ms_per_MB"].values.append(r["relay_cpu_ms_per_MB"])
                m[f"sidecar_cpu{sfx}_ms_per_MB"].values.append(r["sidecar_cpu_ms_per_MB"])
    if "activity" in only:
        # The screen model must not slow the agent: raw-tty throughput with the activity
        # detector against the same run without it, in turns (the load drifts).
        print("activity", file=sys.stderr)
        for i in range(runs):
            order = [(), ("--no-activity",)]
            for extra in order if i % 2 == 0 else order[::-1]:
                r = await scenarios.burst(ctx, nbytes=big, mode="raw", sidecar_args=extra)
                key = "raw_noactivity" if extra else "raw_activity"
                note(key, r)
                _exact(r["exact"], key, r)
                m[f"{key}_MBps"].values.append(r["MBps"])
                side = "noactivity" if extra else "activity"
                m[f"sidecar_cpu_{side}_ms_per_MB"].values.append(r["sidecar_cpu_ms_per_MB"])
    if "rtt" in only:
        print("rtt", file=sys.stderr)
        for _ in range(runs):
            r = await scenarios.keystroke_rtt(ctx, samples=300 if quick else 1000)
            p50 = percentile(r["samples_us"], 0.5)
            p99 = percentile(r["samples_us"], 0.99)
            note("rtt", {"p50_us": p50, "p99_us": p99})
            m["rtt_p50_us"].values.append(p50)
            m["rtt_p99_us"].values.append(p99)
    fan = [k for k in ("fanout", "stall") if k in only]
    if fan:
        # Run by run in turn: the stall goal is a ratio of the two, and on a shared
        # machine the load drifts between one block of runs and the next.
        print(" + ".join(fan), file=sys.stderr)
        exact = dict.fromkeys(fan, 0)
        for _ in range(runs):
            if "fanout" in fan:
                r = await scenarios.fanout(ctx, nbytes=big, viewers=10)
                note("fanout", r)
                _exact(r["exact"], "fanout", r)
                exact["fanout"] += r["exact"]
                m["fanout_min_MBps"].values.append(r["MBps"])
                m["fanout_viewer_cpu_ms_per_MB"].values.append(
                    statistics.median(r["viewer_cpu_ms_per_MB"]))
                m["fanout_relay_cpu_ms_per_MB"].values.append(r["relay_cpu_ms_per_MB"])
                m["fanout_relay_rss_MB"].values.append(r["relay_rss_growth_MB"])
            if "stall" in fan:
                r = await scenarios.fanout(ctx, nbytes=65 * MIB if not quick else big,
                                           viewers=10, stalled=True)
                note("stall", r)
                _exact(r["exact"], "stall", r)
                exact["stall"] += r["exact"]
                m["stall_min_MBps"].values.append(r["MBps"])
                m["stall_relay_rss_MB"].values.append(r["relay_rss_growth_MB"])
                m["stall_close_4503"].values.append(
                    100.0 if r["stalled_close_code"] == 4503 else 0.0)
        for k in fan:
            m[f"{k}_exact_pct"].values.append(100.0 * exact[k] / runs)
    if "exit" in only:
        print("exit", file=sys.stderr)
        ok = 0
        n = max(runs, 5)
        for _ in range(n):
            r = await scenarios.exit_burst(ctx, nbytes=16 * MIB, viewers=10)
            note("exit", r)
            ok += bool(r["all_complete"]) and r["sidecar_exit"] == 0
        m["exit_complete_pct"].values.append(100.0 * ok / n)
    if "late" in only:
        print("late joiner", file=sys.stderr)
        for _ in range(runs):
            r = await scenarios.late_joiner(ctx, nbytes=8 * MIB)
            note("late", r)
            _exact(r["binary_exact"] and r["json_exact"], "late joiner", r)
            m["late_join_s"].values.append(r["binary_s"])
            m["late_join_json_s"].values.append(r["json_s"])
    if "scale" in only:
        print("scale", file=sys.stderr)
        for _ in range(1 if quick else 3):
            r = await scenarios.scale(ctx, agents=1000, dashboards=1000)
            note("scale", r)
            for k in ("idle_rss_MB", "agent_rss_KB", "dashboard_rss_KB",
                      "connect_agents_s", "connect_dashboards_s"):
                m[f"scale_{k}"].values.append(r[k])
    if "redis" in only:
        print("redis", file=sys.stderr)
        await _redis(m, raw, quick, runs)


async def _redis(m: dict[str, Metric], raw: dict[str, list[Any]], quick: bool, runs: int) -> None:
    """Two relays through Redis vs one: ``scripts/bench_redis.py`` (the scale-out
    engineer's; it starts its own ``redis-server`` on a free port and its relays in
    this process), folded in as ``redis: KEY`` rows."""
    path = REPO / "scripts" / "bench_redis.py"
    if not path.exists():
        print("  scripts/bench_redis.py does not exist yet: skipped", file=sys.stderr)
        return
    spec = importlib.util.spec_from_file_location("bench_redis", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for _ in range(runs):
        result: dict[str, float] = await module.measure_async(
            samples=200 if quick else 500, mib=8.0 if quick else 32.0
        )
        raw.setdefault("redis", []).append(result)
        print(f"  redis: {_brief(result)}", file=sys.stderr, flush=True)
        for key, value in result.items():
            unit = "ms" if key.endswith("_ms") else "MiB/s" if key.endswith("mib_s") else ""
            metric = m.setdefault(f"redis_{key}", Metric(f"redis_{key}", f"redis: {key}", unit))
            metric.values.append(float(value))


async def _peers(args: argparse.Namespace, runs: int) -> int:
    """ttyd, terminado and both of our modes, one run, one neutral client
    (:mod:`benchlib.peers.run`)."""
    from .peers import run as peers

    out = Path(args.out).with_name("peers.json")
    info = machine()
    raw: dict[str, list[Any]] = {}

    def note(name: str, result: Any) -> None:
        raw.setdefault(name, []).append(result)
        print(f"  {name}: {_brief(result)}", file=sys.stderr, flush=True)

    t0 = time.monotonic()
    baseline = Path(args.baseline).resolve() if args.baseline else None
    values = await peers.measure(args.quick, runs, out.parent / "logs", note, baseline)
    print()
    print(peers.table(values))
    print(f"\n{info['nproc']} x {info['cpu']}, kernel {info['kernel']}; medians of {runs} runs "
          f"(min-max); {time.monotonic() - t0:.0f} s; load at start {info['loadavg_at_start']}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": info, "values": values, "raw": raw}, indent=1))
    print(f"wrote {out}")
    return 0


def _brief(result: Any) -> str:
    if isinstance(result, dict):
        parts = []
        for k, v in result.items():
            if isinstance(v, float):
                parts.append(f"{k}={v:.3g}")
            elif isinstance(v, list) and len(v) > 12:
                continue
            elif isinstance(v, list) and all(isinstance(x, float) for x in v):
                parts.append(f"{k}=[{', '.join(f'{x:.3g}' for x in v)}]")
            else:
                parts.append(f"{k}={v}")
        return " ".join(parts)
    return str(result)


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller payloads, 3 runs (~1 min)")
    parser.add_argument("--runs", type=int, default=0, help="runs per scenario (default 5)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(SCENARIOS)}")
    parser.add_argument("--redis", action="store_true", help="also two relays through Redis")
    parser.add_argument("--peers", action="store_true",
                        help="instead: ttyd 1.7.7, terminado 0.18 and both of our modes in one "
                             "run (builds ttyd from Debian's source under bench-results/peers)")
    parser.add_argument("--baseline", metavar="DIR",
                        help="with --peers: also measure the embedded run of the checkout "
                             "in DIR (e.g. a worktree of main) as embedded-base")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy profiles of relay and sidecar during each burst "
                             "(bench-results/logs/profile-*.txt; needs py-spy)")
    parser.add_argument("--out", default=str(REPO / "bench-results" / "latest.json"),
                        help="JSON results file")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 16384)), hard))
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
