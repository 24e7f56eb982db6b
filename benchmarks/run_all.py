"""Run every benchmark figure, write ``benchmarks/results/latest.json`` and the docs page.

Run it through nox (``nox -s bench``), which builds both environments. By hand, from the
repository root, in an environment with ours installed::

    python benchmarks/run_all.py --peer-python .nox/bench-peer/bin/python

``BENCH_FIGURES=1,6`` runs a subset; the other ``BENCH_*`` variables are in README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    BENCH_DIR,
    ROOT,
    Contender,
    distribution_versions,
    load_average,
    log,
    machine_info,
    now_iso,
    run_json,
    venv_env,
)

# What the results record of each environment.
DISTRIBUTIONS = (
    "kedro",
    "kedro-datasets",
    "mlflow",
    "distributed",
    "dask",
    "scikit-learn",
    "pandas",
    "numpy",
    "cloudpickle",
    "uvicorn",
    "fastapi",
    "pyarrow",
    "pipelineml-core",
    "pipelineml-runners",
    "pipelineml-hooks",
    "kedro-mlflow",
)
ALL_FIGURES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
DEFAULT_OUT = BENCH_DIR / "results" / "latest.json"
DOCS_PAGE = ROOT / "docs" / "benchmarks.md"


def _peer_versions(python: Path) -> dict[str, str | None]:
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(BENCH_DIR)!r})\n"
        "from _common import distribution_versions\n"
        f"print(json.dumps(distribution_versions({list(DISTRIBUTIONS)!r})))\n"
    )
    versions: dict[str, str | None] = run_json(python, ["-c", code], env=venv_env(python))
    return versions


def _selected() -> list[int]:
    raw = os.environ.get("BENCH_FIGURES", "").strip()
    if not raw:
        return list(ALL_FIGURES)
    return sorted({int(part) for part in raw.split(",") if part.strip()})


def _attempt(number: int, title: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    log(f"figure {number}: {title}")
    load_before = load_average()
    start = time.perf_counter()
    try:
        figure = run()
    except Exception:
        log(f"figure {number} FAILED:\n{traceback.format_exc()}")
        figure = {"id": title, "title": title, "error": traceback.format_exc(), "met": False}
    figure["number"] = number
    figure["bench_seconds"] = round(time.perf_counter() - start, 1)
    figure["load_average"] = {"before": load_before, "after": load_average()}
    log(f"figure {number}: done in {figure['bench_seconds']} s, met={figure.get('met')}")
    return figure


def _contenders(workdir: Path, peer_python: Path) -> tuple[Contender, Contender, Contender]:
    ours = Contender("ours", "pipelineml", Path(sys.executable), workdir / "ours")
    peer = Contender(
        "kedro-mlflow",
        "kedro-mlflow 2.0.3",
        peer_python,
        workdir / "kedro-mlflow",
        # kedro-mlflow pickles node functions by reference: the project must be importable
        # wherever its model loads.
        {"PYTHONPATH": str(workdir / "kedro-mlflow" / "src")},
    )
    baseline = Contender(
        "no-hook", "no hook (plain Kedro)", Path(sys.executable), workdir / "no-hook"
    )
    return ours, peer, baseline


def _prepare_models(
    contenders: list[Contender], baseline: Contender, workdir: Path
) -> dict[str, float]:
    """Make the three projects, train each once (the warm-up of figure 5), export models."""
    import training

    ours, peer = contenders
    log("projects: copying the example, generating its kedro-mlflow twin")
    training.copy_example(ours.project)
    training.make_peer_project(peer.project, peer.python)
    training.make_no_hook_project(baseline.project)
    warmup: dict[str, float] = {}
    for contender in (ours, peer, baseline):
        log(f"training {contender.name} (warm-up run, makes the model)")
        warmup[contender.name] = training.train(contender, workdir)
    for contender in contenders:
        exported = run_json(
            contender.python,
            [
                str(BENCH_DIR / "model.py"),
                "export",
                training.tracking_uri(contender.project),
                training.REGISTERED_MODEL,
                str(workdir / "models" / contender.name),
            ],
            env=contender.env,
        )
        contender.model_dir = Path(exported["path"])
        log(f"{contender.name}: model version {exported['version']} at {exported['path']}")
    return warmup


def _prepare_ours(ours: Contender, workdir: Path) -> None:
    """Our project alone, trained once, its model exported (figure 7 without 2-5)."""
    import training

    training.copy_example(ours.project)
    log("training ours (makes the model)")
    training.train(ours, workdir)
    exported = run_json(
        ours.python,
        [
            str(BENCH_DIR / "model.py"),
            "export",
            training.tracking_uri(ours.project),
            training.REGISTERED_MODEL,
            str(workdir / "models" / ours.name),
        ],
        env=ours.env,
    )
    ours.model_dir = Path(exported["path"])


def _run_figures(wanted: list[int], workdir: Path, peer_python: Path) -> list[dict[str, Any]]:
    """Run the wanted figures, cheapest first; a figure that fails is recorded as such."""
    import batch
    import model
    import native
    import runners
    import serving
    import soak
    import training

    ours, peer, baseline = _contenders(workdir, peer_python)
    contenders = [ours, peer]
    figures: list[dict[str, Any]] = []
    if 1 in wanted:
        figures.append(_attempt(1, "runner_overhead", runners.figure_runner_overhead))
    if 6 in wanted:
        figures.append(_attempt(6, "dask", runners.figure_dask))
    if 10 in wanted:
        figures.append(_attempt(10, "fused_chain", runners.figure_fused_chain))
    warmup: dict[str, float] = {}
    if {2, 3, 4, 5, 9} & set(wanted):
        warmup = _prepare_models(contenders, baseline, workdir)
    data_path = workdir / "request-frames.pkl"
    later: dict[int, tuple[str, Callable[[], dict[str, Any]]]] = {
        2: ("predict", lambda: model.figure_predict(contenders, data_path, workdir)),
        3: ("load_model", lambda: model.figure_load(contenders, workdir)),
        4: ("serving", lambda: serving.figure_serving(contenders, workdir)),
        5: (
            "training",
            lambda: training.figure_training(contenders, baseline, workdir, warmup),
        ),
    }
    if 2 in wanted:
        model.make_request_frames(data_path)
    for number, (title, run) in later.items():
        if number in wanted:
            figures.append(_attempt(number, title, run))
    if 7 in wanted:
        if ours.model_dir is None:
            _prepare_ours(ours, workdir)
        figures.append(_attempt(7, "batch", lambda: batch.figure_batch(ours, workdir)))
    if 8 in wanted:
        figures.append(_attempt(8, "native", lambda: native.figure_native(ours, workdir)))
    if 9 in wanted:
        figures.append(_attempt(9, "soak", lambda: soak.figure_soak(contenders, workdir)))
    return sorted(figures, key=lambda figure: figure["number"])


def main() -> int:
    """Parse arguments, run the selected figures, write the results and the docs page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--docs", type=Path, default=DOCS_PAGE)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()

    started = time.perf_counter()
    wanted = _selected()
    peer_python = args.peer_python.absolute()
    load_before = load_average()
    workdir = Path(tempfile.mkdtemp(prefix="pipelineml-bench-"))
    log(f"work folder {workdir}; figures {wanted}; load average {load_before}")
    try:
        figures = _run_figures(wanted, workdir, peer_python)
    finally:
        if args.keep:
            log(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    for figure in figures:
        figure["measured"] = now_iso()
        figure["machine"] = f"{machine_info()['cpu_model']} ({machine_info()['cores']} cores)"
    if set(wanted) != set(ALL_FIGURES) and args.out.exists():
        # A subset run keeps the other figures of the previous results, each with its date.
        previous = json.loads(args.out.read_text(encoding="utf-8"))
        kept = [
            {**f, "measured": f.get("measured", previous.get("date"))}
            for f in previous.get("figures", [])
            if f.get("number") not in wanted
        ]
        figures = sorted([*kept, *figures], key=lambda figure: figure["number"])
    results = {
        "date": now_iso(),
        "measured_now": sorted(wanted),
        "machine": {**machine_info(), "load_before": load_before, "load_after": load_average()},
        "versions": {
            "python": machine_info()["python"],
            "ours": distribution_versions(DISTRIBUTIONS),
            "peer": _peer_versions(peer_python),
        },
        "settings": {k: v for k, v in sorted(os.environ.items()) if k.startswith("BENCH_")},
        "wall_seconds": round(time.perf_counter() - started, 1),
        "figures": figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    log(f"results written to {args.out}")

    import render

    render.render_file(args.out, args.docs)
    log(f"docs written to {args.docs}")
    failed = [f["number"] for f in figures if "error" in f]
    if failed:
        log(f"figures {failed} failed to run")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
