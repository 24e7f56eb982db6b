"""Render ``benchmarks/results/latest.json`` into ``docs/benchmarks.md``.

Only the text between the marker lines is replaced; the rest of the page belongs to the
docs. ``python benchmarks/render.py [results.json] [page.md]`` re-renders without
re-measuring.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import charts
from _common import BENCH_DIR, ROOT

START = "<!-- BENCHMARK RESULTS START -->"
END = "<!-- BENCHMARK RESULTS END -->"
INTRO = """# Benchmarks

How pipelineml compares with Kedro's own runners and with kedro-mlflow 2.0.3 on the example
project's model. The figures below are produced by `nox -s bench` (see `benchmarks/README.md`
for what each figure measures and how); each is a ratio measured side by side in one
invocation, so it stays meaningful on a busy machine even when absolute times move.

"""

OURS, PEER = "ours", "kedro-mlflow"


# ---------------------------------------------------------------------------- formatting
def duration(seconds: float | None) -> str:
    """Seconds in the unit that reads best."""
    if seconds is None:
        return "n/a"
    magnitude = abs(seconds)
    if magnitude < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if magnitude < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def spread(stat: dict[str, Any], fmt: Callable[[float | None], str] = duration) -> str:
    """``median [min, max] unit`` (the unit once when the three share it: narrower tables)."""
    parts = [fmt(stat[key]) for key in ("median", "min", "max")]
    units = {part.rpartition(" ")[2] for part in parts if " " in part}
    if len(units) == 1 and all(" " in part for part in parts):
        parts = [part.rpartition(" ")[0] for part in parts] + [f" {units.pop()}"]
        return f"{parts[0]} [{parts[1]}, {parts[2]}]{parts[3]}"
    return f"{parts[0]} [{parts[1]}, {parts[2]}]"


def number(value: float | None, digits: int = 1) -> str:
    """A plain number, or n/a."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def times(value: float | None, digits: int = 2) -> str:
    """A ratio, as ``1.23x``."""
    return "n/a" if value is None else f"{value:.{digits}f}x"


def yes(met: bool) -> str:
    """The met column."""
    return "**yes**" if met else "**no**"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- figures
def _runner_overhead(fig: dict[str, Any]) -> tuple[str, str]:
    # One table per chain length (and logging configuration, when rows carry one): the
    # page's column holds six columns of these at 1280 px, not eight.
    header = ["Catalog", "Runner", "Kedro", "Ours", "Speed-up, met"]
    tables: dict[str, list[list[str]]] = {}
    for row in fig["rows"]:
        title = row["pipeline"] + (f", logging {row['logging']}" if "logging" in row else "")
        runner, _, method = row["runner"].partition(".")
        tables.setdefault(title, []).append(
            [
                row["catalog"],  # plain text: narrower than code, in a narrow column
                runner
                + (f" .{method}" if method else "")
                + (" (extra)" if row.get("extra") else ""),
                spread(row["kedro"]),
                spread(row["ours"]),
                f"{times(row['ratio'], 1)}, {yes(row['met'])}",
            ]
        )
    body = "\n\n".join(f"{title}:\n\n{table(header, rows)}" for title, rows in tables.items())
    body += f"\n\nTarget of each row but the extra ones: >= {fig['rows'][0]['target']:g}x."
    scored = [row for row in fig["rows"] if not row.get("extra")]
    worst = min(scored, key=lambda row: row["ratio"] or 0)
    summary = (
        f"lowest speed-up {times(worst['ratio'], 1)} ({worst['pipeline']}, "
        f"`{worst['catalog']}`, {worst['runner']})"
    )
    return body, summary


def _predict(fig: dict[str, Any]) -> tuple[str, str]:
    # Two tables (time per call, then overhead over the direct calls): eleven columns do
    # not fit the page's column; the targets, one per row count, follow them.
    calls = [
        [
            row["rows"],
            row["call"],
            spread(row["direct"][OURS]),
            spread(row["time"][OURS]),
            spread(row["time"][PEER]),
        ]
        for row in fig["rows"]
    ]
    overheads = [
        [
            row["rows"],
            row["call"],
            spread(row["overhead"][OURS]),
            spread(row["overhead"][PEER]),
            spread(row["mlflow_layer"][OURS]) if row.get("mlflow_layer") else "-",
            f"{times(row['ratio'], 3)}, {yes(row['met'])}",
        ]
        for row in fig["rows"]
    ]
    targets = {row["rows"]: row["target"] for row in fig["rows"]}
    body = (
        "Time per call:\n\n"
        + table(["Rows", "Call", "Direct calls", "Ours", "kedro-mlflow"], calls)
        + "\n\nOverhead over the direct calls:\n\n"
        + table(
            [
                "Rows",
                "Call",
                "Ours",
                "kedro-mlflow",
                "Ours: of which pyfunc",
                "Ratio, met",
            ],
            overheads,
        )
        + "\n\nTargets: "
        + "; ".join(f"{rows} rows: {target}" for rows, target in targets.items())
        + "."
    )
    one = next(r for r in fig["rows"] if r["rows"] == "1" and r["call"] == "unwrapped")
    summary = (
        f"1 row, unwrapped: overhead {duration(one['overhead'][OURS]['median'])} vs "
        f"{duration(one['overhead'][PEER]['median'])} ({times(one['ratio'], 3)}); "
        + ", ".join(f"{r['rows']}/{r['call']} {times(r['ratio'], 3)}" for r in fig["rows"][1:])
    )
    return body, summary


def _load_model(fig: dict[str, Any]) -> tuple[str, str]:
    body = table(
        ["", "load_model", "import mlflow.pyfunc (not in the figure)"],
        [
            [name, spread(fig["load_model"][name]), spread(fig["import_mlflow"][name])]
            for name in (OURS, PEER)
        ],
    )
    body += f"\n\nRatio ours / kedro-mlflow: **{times(fig['ratio'])}** (target <= 1x)."
    summary = (
        f"{duration(fig['load_model'][OURS]['median'])} vs "
        f"{duration(fig['load_model'][PEER]['median'])} ({times(fig['ratio'])})"
    )
    return body, summary


def _serving(fig: dict[str, Any]) -> tuple[str, str]:
    rows = []
    for row in fig["rows"]:
        for name in (OURS, PEER):
            side = row[name]
            rows.append(
                [
                    f"{row['concurrency']} / {row['rows']}",
                    name,
                    spread(side["requests_per_s"], lambda v: number(v, 1)),
                    f"{number(side['p50_ms'], 2)} / {number(side['p99_ms'], 2)}",
                    f"{side['requests']} / {side['errors']}",
                    f"{times(row['ratio'])}, {yes(row['met'])}" if name == OURS else "",
                ]
            )
    body = table(
        [
            "Clients / rows",
            "Server",
            "Requests/s",
            "p50 / p99 ms",
            "Requests / errors",
            "Ratio, met",
        ],
        rows,
    )
    errors = sum(row[OURS]["errors"] for row in fig["rows"])
    summary = (
        "throughput ratio "
        + ", ".join(
            f"c{row['concurrency']}/{row['rows']} rows {times(row['ratio'])}" for row in fig["rows"]
        )
        + f"; {errors} errors"
    )
    return body, summary


def _training(fig: dict[str, Any]) -> tuple[str, str]:
    rows = []
    for name, stat in fig["wall"].items():
        overhead = fig["hook_overhead"].get(name)
        rows.append(
            [
                name,
                spread(stat),
                duration(overhead["median"]) if overhead else "(baseline)",
                spread(fig["cpu"][name]),
                duration(fig["warmup"].get(name)),
            ]
        )
    body = table(
        ["Project", "Wall time", "Hook overhead (wall)", "CPU time", "First run (warm-up)"], rows
    )
    body += (
        f"\n\nRatio ours / kedro-mlflow: **{times(fig['ratio'])}** of wall time (target <= 1x); "
        f"{times(fig['cpu_ratio'])} of CPU time."
    )
    summary = (
        f"{duration(fig['wall'][OURS]['median'])} vs {duration(fig['wall'][PEER]['median'])} "
        f"({times(fig['ratio'])}); hook overhead "
        f"{duration(fig['hook_overhead'][OURS]['median'])} vs "
        f"{duration(fig['hook_overhead'][PEER]['median'])}"
    )
    return body, summary


def _dask(fig: dict[str, Any]) -> tuple[str, str]:
    par, chain = fig["parallel"], fig["chain50"]
    body = table(
        ["Workload", "SequentialRunner", "DaskRunner", "Result", "Target", "Met"],
        [
            [
                "8 independent ~0.5 s nodes",
                spread(par["sequential"]),
                spread(par["dask"]),
                f"{times(par['ratio'])} of sequential",
                f"<= {par['target']:g}x",
                yes(par["met"]),
            ],
            [
                "50-node identity chain, per run",
                spread(chain["sequential"]),
                spread(chain["dask"]),
                f"{spread(chain['overhead_per_node'])} per node",
                "reported",
                "",
            ],
        ],
    )
    inside = par["node_seconds_inside"]
    body += (
        f"\n\nNode run time measured inside the nodes: {spread(inside['sequential'])} in the "
        f"sequential runs, {spread(inside['dask'])} on the Dask workers. A Dask run with "
        f"perfect scheduling would take (sum of its node times) / 2 = "
        f"{spread(par['dask_ideal'])}; the measured runs took "
        f"{spread(par['dask_minus_ideal'])} more than that. Counted in each run's own mean "
        f"node time, sequential runs took {spread(par['wall_in_node_times']['sequential'], number)} "
        f"nodes and Dask runs {spread(par['wall_in_node_times']['dask'], number)}: a "
        f"load-normalized ratio of {times(par['load_normalized_ratio'])} (a diagnostic; the "
        "target applies to the wall-time ratio)."
    )
    summary = (
        f"{times(par['ratio'])} of sequential; "
        f"{duration(chain['overhead_per_node']['median'])} overhead per node"
    )
    return body, summary


def _fused_chain(fig: dict[str, Any]) -> tuple[str, str]:
    seconds = fig["seconds"]
    labels = {
        "ours": "`DaskRunner` (the chain fused into one task)",
        "one_task": "one `client.submit` calling the 50 functions",
        "sequential": "our `SequentialRunner` (in process)",
        "submit_chain": "a raw chain of 50 `client.submit` calls",
        "ours_fuse_false": "`DaskRunner(fuse=False)` (a task per node)",
    }
    rows = [[label, spread(seconds[name])] for name, label in labels.items() if name in seconds]
    body = table(["Per run of the 50-node chain", "Time"], rows)
    body += (
        f"\n\nDaskRunner / (one task + SequentialRunner) = {times(fig['ratio'])} "
        f"(target <= {fig['target_ratio']:g}x; the median of the rounds' own ratios: "
        f"{spread(fig['round_ratio'], times)}). DaskRunner / the raw `client.submit` chain = "
        f"{times(fig['vs_submit_chain'])}; `fuse=False` takes "
        f"{times(fig['fuse_false_vs_ours'], 1)} the fused time."
    )
    summary = (
        f"{times(fig['ratio'])} of (one task + sequential); "
        f"{times(fig['vs_submit_chain'])} of a raw submit chain"
    )
    return body, summary


def _batch(fig: dict[str, Any]) -> tuple[str, str]:
    seconds, ratios, rate = fig["seconds"], fig["ratios"], fig["rows_per_second"]
    labels = {
        "whole": "one process, model.predict over the whole frame",
        "chunked": "one process, one Parquet file at a time",
        "two_processes": "floor, not a contender: two processes, half the files each",
        "map_partitions": "Dask, hand-written map_partitions(loaded_model.predict)",
        "batch_predict": "Dask, batch_predict",
        "map_partitions_dask_environ": "Dask, hand-written, workers with Dask's "
        "MALLOC_TRIM_THRESHOLD_",
        "batch_predict_dask_environ": "Dask, batch_predict, workers with Dask's "
        "MALLOC_TRIM_THRESHOLD_",
    }
    versus = {
        "whole": "1.00x",
        "chunked": times(ratio_of(seconds, "chunked", "whole")),
        "two_processes": times(ratio_of(seconds, "two_processes", "whole"))
        if "two_processes" in seconds
        else "",
        "map_partitions": times(ratios["map_partitions_vs_whole"]),
        "batch_predict": times(ratios["batch_predict_vs_whole"]),
        **{
            name: times(ratio_of(seconds, name, "whole"))
            for name in ("map_partitions_dask_environ", "batch_predict_dask_environ")
            if name in seconds
        },
    }
    rows = [
        [
            label,
            spread(seconds[name]),
            f"{rate[name]:,.0f}" if rate[name] else "",
            versus[name],
            f"{fig['rows_written'][name]:,}",
        ]
        for name, label in labels.items()
        if name in seconds  # results from before the floor and CPU columns were measured
    ]
    body = table(["Contender", "Time", "Rows/s", "vs whole frame", "Rows written"], rows)
    cpu = fig.get("cpu_seconds")
    if cpu:
        split = fig["cpu_seconds_dask"]
        body += (
            "\n\nCPU seconds (user + system, median): "
            + ", ".join(f"{name} {cpu[name]['median']:.2f} s" for name in labels if name in cpu)
            + "; of which Dask workers / client + scheduler: "
            + ", ".join(
                f"{name} {parts['workers']['median']:.2f} s / "
                f"{parts['client_scheduler']['median']:.2f} s"
                for name, parts in split.items()
            )
            + (
                "; minor page faults (thousands, median): "
                + ", ".join(
                    f"{name} {faults[name]['median'] / 1000:,.0f}"
                    for name in labels
                    if name in faults
                )
                if (faults := fig.get("minor_page_faults"))
                else ""
            )
            + f". Two processes / one process chunked: "
            f"{times(ratios.get('two_processes_vs_chunked'))} of the time; batch_predict / "
            f"two processes: {times(ratios.get('batch_predict_vs_two_processes'))}."
        )
    paired = fig.get("paired_ratios")
    if paired:
        body += "\n\nThe same ratios taken round by round (median of each round's ratio): " + (
            ", ".join(
                f"{name.replace('_vs_', ' / ')} {times(value)}" for name, value in paired.items()
            )
            + "."
        )
    rss = fig["peak_rss_mb"]
    one = rss["one_process"]
    workers = rss["workers"]
    body += (
        f"\n\nbatch_predict / hand-written map_partitions: "
        f"{times(ratios['batch_predict_vs_map_partitions'])}; batch_predict / one process "
        f"chunked: {times(ratios['batch_predict_vs_chunked'])}."
        + (
            " With Dask's MALLOC_TRIM_THRESHOLD_ on the workers: batch_predict / hand-written "
            f"{times(ratios['batch_predict_dask_environ_vs_map_partitions_dask_environ'])}; "
            "batch_predict without it / with it "
            f"{times(ratios['batch_predict_vs_batch_predict_dask_environ'])}; batch_predict on "
            "its own LocalCluster / the hand-written job on a plain LocalCluster() "
            f"{times(ratios['batch_predict_vs_map_partitions_dask_environ'])}."
            if "batch_predict_dask_environ_vs_map_partitions_dask_environ" in ratios
            else ""
        )
        + "\n\n"
        f"Peak RSS: one process whole frame {spread(one['whole'], mb)}, chunked "
        f"{spread(one['chunked'], mb)}; per Dask worker (2 workers) with batch_predict "
        f"{', '.join(mb(v) for v in workers['batch_predict_small'])} after "
        f"{rss['small_rows']:,} rows and {', '.join(mb(v) for v in workers['batch_predict'])} "
        f"after {fig['rows']:,} rows; hand-written map_partitions "
        f"{', '.join(mb(v) for v in workers['map_partitions'])}."
    )
    summary = (
        f"batch_predict {times(ratios.get('batch_predict_vs_best_one_process'))} of the faster "
        f"one-process job ({times(ratios['batch_predict_vs_whole'])} of the whole-frame one), "
        f"{times(ratios['batch_predict_vs_map_partitions'])} of map_partitions; worker peak "
        f"{mb(max(workers['batch_predict']))}"
    )
    return body, summary


def _native(fig: dict[str, Any]) -> tuple[str, str]:
    rows = []
    for row in fig["rows"]:
        native, ours = row["native"], row["ours"]
        rows.append(
            [
                f"c={row['concurrency']}, 1 row",
                spread(native["requests_per_s"], number),
                spread(ours["requests_per_s"], number),
                f"{times(row['ratio'])}, {yes(row['met'])}",
                f"{native['p50_ms']:.2f} / {ours['p50_ms']:.2f} ms",
                f"{native['errors']} / {ours['errors']}",
            ]
        )
    body = table(
        [
            "Load",
            "native req/s",
            "ours req/s",
            "ours / native, met",
            "p50 native / ours",
            "errors",
        ],
        rows,
    )
    breakdown = table(
        ["In process, per call (1 row)", "Time"],
        [[name, spread(stat)] for name, stat in fig["breakdown"].items()],
    )
    body += f"\n\nWhere the time goes (median [min, max] over blocks of 50 calls):\n\n{breakdown}"
    summary = ", ".join(
        f"c={row['concurrency']}: {times(row['ratio'])} of native" for row in fig["rows"]
    )
    return body, summary


def _soak(fig: dict[str, Any]) -> tuple[str, str]:
    rows = []
    for name, result in fig["summary"].items():
        growth = result["rss_growth"]
        rows.append(
            [
                name,
                str(result["errors"]),
                spread(result["requests_per_s"], number),
                f"{number(result['first_minute_requests_per_s']['median'])} -> "
                f"{number(result['last_minute_requests_per_s']['median'])}",
                f"{mb(result['rss_after_warmup_mb'])} -> {mb(result['rss_end_mb'])}",
                "" if growth is None else f"{growth:+.1%}",
            ]
        )
    body = table(
        [
            "Server",
            "Errors",
            "req/s per 10 s slice",
            "req/s first -> last fifth",
            "RSS after warm-up -> end",
            "Growth",
        ],
        rows,
    )
    ours = next(iter(fig["summary"].values()))
    growth = ours["rss_growth"]
    summary = f"ours: {ours['errors']} errors, RSS {'' if growth is None else f'{growth:+.1%}'}"
    return body, summary


def mb(value: float | None) -> str:
    """Megabytes, no decimals."""
    return "" if value is None else f"{value:,.0f} MB"


def ratio_of(seconds: dict[str, Any], top: str, bottom: str) -> float | None:
    """The ratio of two contenders' medians."""
    a, b = seconds[top]["median"], seconds[bottom]["median"]
    return None if a is None or not b else a / b


RENDERERS: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    "runner_overhead": _runner_overhead,
    "predict": _predict,
    "load_model": _load_model,
    "serving": _serving,
    "training": _training,
    "dask": _dask,
    "batch": _batch,
    "native": _native,
    "soak": _soak,
    "fused_chain": _fused_chain,
}


def _kept_note(results: dict[str, Any]) -> str:
    """What a subset run says of the figures it kept from earlier runs."""
    now = results.get("measured_now")
    numbers = [fig["number"] for fig in results["figures"]]
    if not now or set(numbers) <= set(now):
        return ""
    return (
        f" This run measured {'figure' if len(now) == 1 else 'figures'} "
        f"{', '.join(str(n) for n in now)}; the others are kept "
        "from earlier runs, each with its own date (and machine, where it was recorded) "
        "under its table."
    )


def render(results: dict[str, Any]) -> str:
    """The Markdown that goes between the markers."""
    machine, versions = results["machine"], results["versions"]
    ours_v, peer_v = versions["ours"], versions["peer"]
    sections: list[str] = []
    summary_rows: list[list[str]] = []
    for fig in results["figures"]:
        heading = f"### {fig['number']}. {fig.get('title', fig['id'])}"
        if "error" in fig:
            sections.append(f"{heading}\n\nThis figure failed to run:\n\n```\n{fig['error']}\n```")
            summary_rows.append([str(fig["number"]), fig["id"], "", "failed to run", yes(False)])
            continue
        body, summary = RENDERERS[fig["id"]](fig)
        load = fig.get("load_average", {})
        sections.append(
            f"{heading}\n\nTarget: {fig['target']}. Met: {yes(fig['met'])}.\n\n"
            f"{charts.embed(fig)}{body}\n\n*How:* {fig['method']} Load average (1, 5, 15 min) before "
            f"{load.get('before')}, after {load.get('after')}."
            + (f" Measured {fig['measured']}" if fig.get("measured") else "")
            + (f" on {fig['machine']}." if fig.get("machine") else ".")
        )
        summary_rows.append(
            [str(fig["number"]), fig["title"], fig["target"], summary, yes(fig["met"])]
        )
    settings = ", ".join(f"`{k}={v}`" for k, v in results["settings"].items()) or "defaults"
    header = [
        f"Measured {results['date']} on {machine['cpu_model']} ({machine['cores']} cores), "
        f"{machine['platform']}; load average before {machine['load_before']}, after "
        f"{machine['load_after']} (other work was running: ratios are measured side by "
        f"side, absolute times move with the load). `nox -s bench` took "
        f"{results['wall_seconds'] / 60:.1f} min of measuring; settings: {settings}."
        + _kept_note(results),
        "",
        f"Versions: Python {versions['python']}, Kedro {ours_v['kedro']}, MLflow "
        f"{ours_v['mlflow']}, distributed {ours_v['distributed']}, scikit-learn "
        f"{ours_v['scikit-learn']}, pandas {ours_v['pandas']}, kedro-mlflow "
        f"{peer_v['kedro-mlflow']}, pipelineml (core/runners/hooks) "
        f"{ours_v['pipelineml-core']}/{ours_v['pipelineml-runners']}/"
        f"{ours_v['pipelineml-hooks']}. The kedro-mlflow environment pins the same Kedro, "
        "MLflow, scikit-learn, pandas and serving stack as ours.",
        "",
        "## Summary",
        "",
        table(["#", "Figure", "Target", "Measured", "Met"], summary_rows),
        "",
        "## Figures",
        "",
        "Times are `median [min, max]` (the unit written once when the three share it) over "
        "the samples described under each table.",
        "",
    ]
    return "\n".join(header) + "\n" + "\n\n".join(sections) + "\n"


def render_file(results_path: Path, page: Path) -> None:
    """Replace the marked block of ``page`` (created with an intro if missing), and draw
    the charts it embeds (matplotlib: installed by ``nox -s bench``)."""
    results = json.loads(results_path.read_text(encoding="utf-8"))
    charts.draw(results)
    block = f"{START}\n\n{render(results)}\n{END}"
    text = page.read_text(encoding="utf-8") if page.exists() else f"{INTRO}{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(before + block + after, encoding="utf-8")


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else BENCH_DIR / "results" / "latest.json"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs" / "benchmarks.md"
    render_file(source, target)
