"""Charts of figures 1, 4, 7 and 9, drawn from the results as SVG into docs/images/bench/.

``CHARTS`` says which figure has a chart, its file and its text alternative; it needs no
plotting library, so the page (``render.py``) and the tests can name the charts without
matplotlib. ``draw`` imports matplotlib (installed by ``nox -s bench`` only) and writes the
files. The SVGs are deterministic: a fixed ``svg.hashsalt`` for the ids matplotlib makes,
no date in the metadata, text as text (diffs show what changed, not a random id).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import ROOT

IMAGES = ROOT / "docs" / "images" / "bench"
# Relative to docs/benchmarks.md, where the charts are embedded.
LINK_DIR = "images/bench"
OURS, PEER = "ours", "kedro-mlflow"
COLOURS = {OURS: "#1565c0", PEER: "#ef6c00", "kedro": "#9e9e9e"}
WIDTH_IN = 7.5  # at matplotlib's 100 dpi: 750 px, inside the content column at 1280 px

CHARTS: dict[int, tuple[str, str]] = {
    1: (
        "figure-1-runner-overhead.svg",
        "Runner overhead per run by chain length: Kedro's runner and ours, per runner and "
        "catalog, log scale",
    ),
    4: (
        "figure-4-serving.svg",
        "Serving: requests per second and p50/p99 latency, ours and kedro-mlflow, per "
        "concurrency and rows per request",
    ),
    7: (
        "figure-7-batch.svg",
        "Batch scoring: time per contender, and peak RSS of each process or Dask worker",
    ),
    9: (
        "figure-9-soak.svg",
        "Soak: server RSS and requests per second over five minutes, ours and kedro-mlflow",
    ),
}


def embed(fig: dict[str, Any]) -> str:
    """The Markdown image of ``fig``'s chart, or "" when it has none (or failed to run)."""
    if fig.get("number") not in CHARTS or "error" in fig:
        return ""
    name, alt = CHARTS[fig["number"]]
    return f"![{alt}]({LINK_DIR}/{name})\n\n"


# ---------------------------------------------------------------------------- drawing
def _overhead_label(row: dict[str, Any]) -> str:
    """``3-node, Sequential, MD(x, assign)``: short enough for the chart's axis."""
    runner = row["runner"].replace("SequentialRunner", "Sequential").replace("Runner", "")
    catalog = row["catalog"].replace("MemoryDataset", "MD").replace('copy_mode="', "")
    catalog = catalog.replace('")', ")")
    where = "" if catalog.startswith("none") else f", {catalog}"
    return f"{row['pipeline'].replace(' chain', '')}, {runner}{where}"


def overhead_groups(rows: list[dict[str, Any]]) -> dict[str | None, list[dict[str, Any]]]:
    """Figure 1's rows per logging configuration (one panel each), or all under ``None``.

    Rows gain a ``logging`` field when figure 1 measures logging variants; results from
    before that have none and are one panel, as they were.
    """
    if not any("logging" in row for row in rows):
        return {None: rows}
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row.get("logging")), []).append(row)
    return groups


def _runner_overhead(plt: Any, fig: dict[str, Any]) -> Any:
    groups = overhead_groups(fig["rows"])
    chart, axes = plt.subplots(
        len(groups), 1, figsize=(WIDTH_IN, 3.6 * len(groups)), squeeze=False, sharex=True
    )
    for ax, (group, rows) in zip(axes[:, 0], groups.items(), strict=True):
        labels = [_overhead_label(row) for row in rows]
        places = range(len(rows))
        ax.barh(
            [p + 0.2 for p in places],
            [row["kedro"]["median"] * 1e3 for row in rows],
            0.4,
            color=COLOURS["kedro"],
            label="Kedro",
        )
        ax.barh(
            [p - 0.2 for p in places],
            [row["ours"]["median"] * 1e3 for row in rows],
            0.4,
            color=COLOURS[OURS],
            label="ours",
        )
        ax.set_yticks(list(places), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_title(f"logging: {group}" if group is not None else fig["title"], fontsize=10)
        for place, row in zip(places, rows, strict=True):
            ax.annotate(
                f"{row['ratio']:.0f}x",
                (row["kedro"]["median"] * 1e3, place + 0.2),
                xytext=(3, -3),
                textcoords="offset points",
                fontsize=7,
            )
        ax.set_xlim(right=max(row["kedro"]["max"] for row in rows) * 1e3 * 4)  # room for "55x"
    axes[0, 0].legend(fontsize=8, loc="upper right")
    axes[-1, 0].set_xlabel("ms per run (median, log scale)")
    return chart


def _serving(plt: Any, fig: dict[str, Any]) -> Any:
    chart, (rate, latency) = plt.subplots(1, 2, figsize=(WIDTH_IN, 3.4))
    rows = fig["rows"]
    labels = [f"c={row['concurrency']}\n{row['rows']} row(s)" for row in rows]
    places = range(len(rows))
    for offset, who in ((-0.2, OURS), (0.2, PEER)):
        rate.bar(
            [p + offset for p in places],
            [row[who]["requests_per_s"]["median"] for row in rows],
            0.4,
            color=COLOURS[who],
            label=who,
        )
        latency.bar(
            [p + offset for p in places],
            [row[who]["p99_ms"] for row in rows],
            0.4,
            color=COLOURS[who],
            alpha=0.35,
        )
        latency.bar(
            [p + offset for p in places],
            [row[who]["p50_ms"] for row in rows],
            0.4,
            color=COLOURS[who],
            label=f"{who} p50 (pale: p99)",
        )
    rate.set_title("requests/s (median)", fontsize=10)
    latency.set_title("latency, ms", fontsize=10)
    for ax in (rate, latency):
        ax.set_xticks(list(places), labels, fontsize=7)
    rate.legend(fontsize=8)
    latency.legend(fontsize=7)
    return chart


_BATCH = {
    "whole": "1 process, whole",
    "chunked": "1 process, chunked",
    "two_processes": "2 processes (floor)",
    "map_partitions": "Dask map_partitions",
    "batch_predict": "Dask batch_predict",
    "map_partitions_dask_environ": "map_partitions, trim",
    "batch_predict_dask_environ": "batch_predict, trim",
}


def _batch(plt: Any, fig: dict[str, Any]) -> Any:
    chart, (time, memory) = plt.subplots(1, 2, figsize=(WIDTH_IN, 3.6))
    names = [name for name in _BATCH if name in fig["seconds"]]
    colour = [COLOURS[OURS] if "batch_predict" in n else COLOURS["kedro"] for n in names]
    time.barh(range(len(names)), [fig["seconds"][n]["median"] for n in names], color=colour)
    time.set_yticks(range(len(names)), [_BATCH[n] for n in names], fontsize=8)
    time.invert_yaxis()
    time.set_title(f"seconds for {fig['rows']:,} rows (median)", fontsize=10)
    rss = fig["peak_rss_mb"]
    bars = [
        ("1 process, whole", rss["one_process"]["whole"]["median"]),
        ("1 process, chunked", rss["one_process"]["chunked"]["median"]),
        *((f"batch_predict w{i}", v) for i, v in enumerate(rss["workers"]["batch_predict"])),
        *((f"map_partitions w{i}", v) for i, v in enumerate(rss["workers"]["map_partitions"])),
    ]
    memory.barh(
        range(len(bars)),
        [value for _, value in bars],
        color=[COLOURS[OURS] if "batch" in n else COLOURS["kedro"] for n, _ in bars],
    )
    memory.set_yticks(range(len(bars)), [name for name, _ in bars], fontsize=8)
    memory.invert_yaxis()
    memory.set_title("peak RSS, MB (Dask: per worker)", fontsize=10)
    return chart


def _soak(plt: Any, fig: dict[str, Any]) -> Any:
    chart, (memory, rate) = plt.subplots(2, 1, figsize=(WIDTH_IN, 4.6), sharex=True)
    for who, points in fig["timeline"].items():
        seconds = [point["t"] for point in points]
        memory.plot(seconds, [p["rss_mb"] for p in points], color=COLOURS[who], label=who)
        rate.plot(seconds, [p["requests_per_s"] for p in points], color=COLOURS[who])
    # From zero: a flat line is the finding, a zoomed axis would make noise look like growth.
    memory.set_ylim(0, max(p["rss_mb"] for ps in fig["timeline"].values() for p in ps) * 1.15)
    memory.set_ylabel("server RSS, MB", fontsize=9)
    rate.set_ylabel("requests/s", fontsize=9)
    rate.set_xlabel("seconds since start")
    memory.legend(fontsize=8, loc="lower right")
    return chart


DRAWERS: dict[int, Callable[[Any, dict[str, Any]], Any]] = {
    1: _runner_overhead,
    4: _serving,
    7: _batch,
    9: _soak,
}


def draw(results: dict[str, Any], directory: Path = IMAGES) -> list[Path]:
    """Write the chart of every charted figure of ``results`` that ran; the files written."""
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams.update(
        {"svg.hashsalt": "pipelineml-bench", "svg.fonttype": "none", "font.size": 9}
    )
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for fig in results["figures"]:
        if not embed(fig):
            continue
        chart = DRAWERS[fig["number"]](plt, fig)
        chart.tight_layout()
        path = directory / CHARTS[fig["number"]][0]
        chart.savefig(path, format="svg", metadata={"Date": None})
        plt.close(chart)
        written.append(path)
    return written
