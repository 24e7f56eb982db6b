"""Figure 7: batch scoring, Parquet to Parquet, one process vs Dask on 2 workers.

Run from ``run_all.py``; ``python batch.py one-process <mode> <model> <source> <dest>`` is
the one-process contender, run in a fresh interpreter per sample so that its peak RSS is
its own (it prints one JSON line).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import Contender, env_int, log, ratio, run_json, stats

TARGET = 0.6  # batch_predict / one process (whole frame)


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _one_process(mode: str, model_dir: str, source: str, dest: str) -> dict[str, Any]:
    import mlflow
    import pandas as pd
    import pyarrow.parquet as pq

    model = mlflow.pyfunc.load_model(model_dir)
    files = sorted(Path(source).glob("*.parquet"))
    out = Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows = 0
    if mode == "whole":
        frame = pd.read_parquet(source)
        scores = model.predict(frame)
        scores.to_parquet(out / "part.0.parquet")
        rows = len(scores)
    else:  # one Parquet file at a time: what a careful one-process job does
        for index, path in enumerate(files):
            frame = pq.read_table(path).to_pandas()
            scores = model.predict(frame)
            scores.to_parquet(out / f"part.{index}.parquet")
            rows += len(scores)
    return {"seconds": time.perf_counter() - start, "rows": rows, "peak_rss_mb": _peak_rss_mb()}


def _make_table(path: Path, rows: int, partitions: int) -> None:
    import dask
    from breast_cancer.pipelines.batch_scoring.nodes import make_scoring_table
    from breast_cancer.pipelines.classifier.nodes import load_raw_data

    table = make_scoring_table(load_raw_data(), {"rows": rows, "partitions": partitions})
    with dask.config.set(scheduler="threads"):
        table.to_parquet(path, write_index=True)


def _workers_peak_mb(client: Any) -> list[float]:
    def peak() -> float:
        import resource as res

        return res.getrusage(res.RUSAGE_SELF).ru_maxrss / 1024

    return sorted(client.run(peak).values())


def _peaks_after(client: Any, runs: dict[str, Callable[[], object]]) -> dict[str, list[float]]:
    """Each run on freshly restarted workers, then the peak RSS of every worker (MB)."""
    peaks: dict[str, list[float]] = {}
    for label, run in runs.items():
        client.restart()
        run()
        peaks[label] = _workers_peak_mb(client)
    return peaks


def _rows_written(path: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in path.glob("*.parquet"))


def figure_batch(ours: Contender, workdir: Path) -> dict[str, Any]:
    """Figure 7: the example's model over N rows of Parquet, four ways, side by side."""
    import dask.dataframe as dd
    import mlflow
    import pandas as pd
    from distributed import Client, LocalCluster

    from pipelineml.hooks import batch_predict

    total = env_int("BENCH_BATCH_ROWS", 5_000_000)
    partitions = env_int("BENCH_BATCH_PARTITIONS", 40)
    rounds = env_int("BENCH_BATCH_ROUNDS", 3)
    # The small table has the same partition size: only N changes between the two.
    small_partitions = max(1, partitions // 5)
    small = total // partitions * small_partitions
    source, source_small = workdir / "batch-table", workdir / "batch-table-small"
    log(f"figure 7: writing {total:,} rows in {partitions} Parquet files")
    _make_table(source, total, partitions)
    _make_table(source_small, small, small_partitions)
    model = mlflow.pyfunc.load_model(str(ours.model))
    out = workdir / "batch-out"

    def fresh(name: str) -> Path:
        target = out / name
        shutil.rmtree(target, ignore_errors=True)
        return target

    def one_process(mode: str) -> dict[str, Any]:
        measured: dict[str, Any] = run_json(
            ours.python,
            [__file__, "one-process", mode, str(ours.model), str(source), str(fresh(mode))],
            env=ours.env,
            timeout=1800,
        )
        return measured

    samples: dict[str, list[float]] = {
        "whole": [],
        "chunked": [],
        "map_partitions": [],
        "batch_predict": [],
    }
    one_process_rss: dict[str, list[float]] = {"whole": [], "chunked": []}
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            local_directory=str(workdir / "dask"),
        ) as cluster,
        Client(cluster) as client,
    ):
        # What a Dask user passes as meta: the answer for a couple of real rows, emptied.
        first = next(iter(sorted(source.glob("*.parquet"))))
        meta = model.predict(pd.read_parquet(first).head(2)).iloc[:0]

        def hand_written() -> float:
            start = time.perf_counter()
            scored = dd.read_parquet(source).map_partitions(model.predict, meta=meta)
            scored.to_parquet(fresh("map_partitions"), write_index=True)
            return time.perf_counter() - start

        def ours_dask(path: Path = source, name: str = "batch_predict") -> float:
            start = time.perf_counter()
            scored = batch_predict(model, dd.read_parquet(path), progress=False)
            scored.to_parquet(fresh(name), write_index=True)
            return time.perf_counter() - start

        # Peak RSS of the workers after scoring N/5 rows and then N rows, each on fresh
        # worker processes: bounded by partition + model, it does not grow with N.
        worker_rss = _peaks_after(
            client,
            {
                "batch_predict_small": lambda: ours_dask(source_small, "batch_predict_small"),
                "batch_predict": ours_dask,
                "map_partitions": hand_written,
            },
        )
        log("figure 7: warm-up done")
        contenders = {
            "whole": lambda: one_process("whole"),
            "chunked": lambda: one_process("chunked"),
            "map_partitions": hand_written,
            "batch_predict": ours_dask,
        }
        for index in range(rounds):
            log(f"figure 7: round {index + 1}/{rounds}")
            order = list(contenders.items())
            for name, run in order if index % 2 == 0 else order[::-1]:
                result = run()
                if isinstance(result, dict):
                    samples[name].append(result["seconds"])
                    one_process_rss[name].append(result["peak_rss_mb"])
                else:
                    samples[name].append(result)
        written = {name: _rows_written(out / name) for name in samples}
    return _summary(total, partitions, rounds, small, samples, one_process_rss, worker_rss, written)


def _summary(
    total: int,
    partitions: int,
    rounds: int,
    small: int,
    samples: dict[str, list[float]],
    one_process_rss: dict[str, list[float]],
    worker_rss: dict[str, list[float]],
    written: dict[str, int],
) -> dict[str, Any]:
    """The figure's JSON from what was measured."""
    medians = {name: stats(values) for name, values in samples.items()}
    base = medians["whole"]["median"]
    # The one-process time the target is held to is the faster of the two one-process
    # jobs: two workers can at best halve that.
    best = min(base, medians["chunked"]["median"])
    ours_ratio = ratio(medians["batch_predict"]["median"], best)
    vs_hand = ratio(medians["batch_predict"]["median"], medians["map_partitions"]["median"])
    met = (
        ours_ratio is not None
        and ours_ratio <= TARGET
        and vs_hand is not None
        and vs_hand <= 1.0
        and all(count == total for count in written.values())
    )
    return {
        "id": "batch",
        "title": "Batch scoring, Parquet to Parquet",
        "target": f"batch_predict on a 2-worker LocalCluster <= {TARGET:g}x the faster "
        "one-process job, no "
        "slower than the hand-written map_partitions; peak RSS per worker bounded by the "
        "partition, not by N",
        "method": (
            f"{total:,} synthetic rows of the example's 30 features "
            f"(make_scoring_table) in {partitions} Parquet files ({total // partitions:,} rows "
            "each), scored by the example's logged model and written back as Parquet. One "
            "process: a fresh interpreter per sample, the model loaded before the clock "
            "starts; 'whole' reads the table into one frame and calls model.predict once, "
            "'chunked' reads, scores and writes one file at a time. Dask: a LocalCluster "
            "of 2 worker processes (1 thread each), started once; 'map_partitions' is "
            "dd.read_parquet(...).map_partitions(loaded_model.predict, meta=...).to_parquet"
            "(...), what a Dask user writes; 'batch_predict' is batch_predict(loaded_model, "
            "dd.read_parquet(...)).to_parquet(...). The Dask clocks include building and "
            "submitting the graph. Warm-up: one run of each Dask contender on fresh workers "
            f"(the model is then cached on the workers); {rounds} rounds, the order reversed "
            "every other round. Peak RSS per worker: ru_maxrss of each worker process after "
            f"scoring {small:,} rows and then {total:,} rows (same partition size), each on "
            "freshly restarted workers."
        ),
        "rows": total,
        "partitions": partitions,
        "seconds": medians,
        "ratios": {
            "batch_predict_vs_best_one_process": ours_ratio,
            "batch_predict_vs_whole": ratio(medians["batch_predict"]["median"], base),
            "batch_predict_vs_chunked": ratio(
                medians["batch_predict"]["median"], medians["chunked"]["median"]
            ),
            "batch_predict_vs_map_partitions": vs_hand,
            "map_partitions_vs_whole": ratio(medians["map_partitions"]["median"], base),
        },
        "rows_per_second": {
            name: (total / value["median"]) if value["median"] else None
            for name, value in medians.items()
        },
        "peak_rss_mb": {
            "one_process": {name: stats(values, "MB") for name, values in one_process_rss.items()},
            "workers": worker_rss,
            "small_rows": small,
        },
        "rows_written": written,
        "met": met,
    }


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "one-process":
        os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
        print(json.dumps(_one_process(*sys.argv[2:6])))
    else:
        raise SystemExit("usage: batch.py one-process whole|chunked MODEL SOURCE DEST")
