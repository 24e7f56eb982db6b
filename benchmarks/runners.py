"""Figures 1, 6 and 10: runner overhead against Kedro's runners, and the DaskRunner.

Both contenders live in our environment (Kedro is a dependency of ours), so they run in
one process, alternating batch by batch. Run alone with ``python benchmarks/runners.py``
(in an environment with ``pipelineml-runners[dask]``) to print the three figures as JSON.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from _common import env_int, log, profile_text, ratio, stats

# Figure 1: the data flowing through the identity chains. Small and cheap to copy, so that
# what is measured is the runner, not the copying.
DATA = {"row": 1}
CHAIN_LENGTHS = (3, 50)
# Per-call target of figure 1: ours at least this many times faster than Kedro's.
OVERHEAD_TARGET = 10.0
# Calls profiled (ours only) when a row misses its target.
PROFILE_CALLS = 3000
# Figure 6: the length of one CPU-bound node, and the DaskRunner / Sequential target.
NODE_SECONDS = 0.5
PARALLEL_NODES = 8
DASK_TARGET = 0.6
# Figure 10: the chain's length, and DaskRunner / (one task + SequentialRunner) target.
FUSED_CHAIN_LENGTH = 50
FUSED_TARGET = 1.5


def identity(value: Any) -> Any:
    """A node that hands its input on."""
    return value


def spin(loops: int) -> float:
    """A pure-Python CPU-bound node (holds the GIL); returns the seconds it ran for.

    Measured inside the node, wherever it runs, so that a slow run can be told apart: nodes
    slowed down by other work on the machine, or time spent around them by the runner.
    """
    start = time.perf_counter()
    total = 0
    for i in range(loops):
        total += i & 7
    return time.perf_counter() - start


def chain(length: int) -> Any:
    """``x0 -> x1 -> ... -> x<length>`` through identity nodes."""
    from kedro.pipeline import Pipeline, node

    return Pipeline(
        [node(identity, f"x{i}", f"x{i + 1}", name=f"identity_{i}") for i in range(length)]
    )


def _quiet_kedro() -> None:
    # Kedro configures its loggers when kedro.framework.project is imported; the level is
    # set afterwards so that it sticks, for both contenders alike.
    import kedro.framework.project  # noqa: F401

    for name in ("kedro", "pipelineml"):
        logging.getLogger(name).setLevel(logging.WARNING)


#: Figure 1's logging configurations, each applied to both contenders alike: the named
#: loggers at WARNING (what the other figures use); everything off; only the root logger
#: set, the libraries' loggers inheriting it (what a user who configures root gets).
LOGGING_CONFIGS = (
    "kedro and pipelineml at WARNING",
    "logging.disable(CRITICAL)",
    "root at WARNING",
)


@contextlib.contextmanager
def _logging_as(config: str) -> Iterator[None]:
    """Apply one of ``LOGGING_CONFIGS`` for the block; restore the levels after it."""
    _quiet_kedro()
    named = [logging.getLogger(name) for name in ("kedro", "pipelineml")]
    root = logging.getLogger()
    saved = [(logger, logger.level) for logger in (*named, root)]
    try:
        if config == "logging.disable(CRITICAL)":
            logging.disable(logging.CRITICAL)
        elif config == "root at WARNING":
            root.setLevel(logging.WARNING)
            for logger in named:
                logger.setLevel(logging.NOTSET)
        yield
    finally:
        logging.disable(logging.NOTSET)
        for logger, level in saved:
            logger.setLevel(level)


# ---------------------------------------------------------------------------- figure 1
def _catalog_factories() -> dict[str, Callable[[], Any]]:
    from kedro.io import DataCatalog, MemoryDataset

    return {
        "MemoryDataset(x)": lambda: DataCatalog({"x0": MemoryDataset(DATA)}),
        'MemoryDataset(x, copy_mode="assign")': lambda: DataCatalog(
            {"x0": MemoryDataset(DATA, copy_mode="assign")}
        ),
    }


def _timed_runs(runner: Any, pipeline: Any, make_catalog: Callable[[], Any], calls: int) -> float:
    # A fresh catalog per call (as a served model builds one per request); building it is
    # not timed.
    catalogs = [make_catalog() for _ in range(calls)]
    start = time.perf_counter()
    for catalog in catalogs:
        runner.run(pipeline, catalog)
    return (time.perf_counter() - start) / calls


def _timed_in_memory(runner: Any, pipeline: Any, calls: int) -> float:
    data = {"x0": DATA}
    start = time.perf_counter()
    for _ in range(calls):
        runner.run_in_memory(pipeline, data)
    return (time.perf_counter() - start) / calls


def figure_runner_overhead() -> dict[str, Any]:
    """Figure 1: seconds per ``runner.run(pipeline, catalog)``, ours vs Kedro 1.x."""
    _quiet_kedro()
    from kedro.runner import SequentialRunner as KedroSequential
    from kedro.runner import ThreadRunner as KedroThread

    from pipelineml.runners import SequentialRunner, ThreadRunner

    rounds = env_int("BENCH_RUNNER_ROUNDS", 15)
    pairs = {
        "SequentialRunner": (KedroSequential(), SequentialRunner()),
        "ThreadRunner": (KedroThread(), ThreadRunner()),
    }
    rows: list[dict[str, Any]] = []
    for config, length, catalog_name, runner_name in _overhead_cases(pairs):
        pipeline = chain(length)
        # About 50 ms of Kedro per batch.
        calls = 60 if length <= 3 else 4
        make_catalog = _catalog_factories()[catalog_name]
        kedro_runner, our_runner = pairs[runner_name]
        with _logging_as(config):
            log(f"figure 1: {config}, {length}-node chain, {catalog_name}, {runner_name}")
            samples: dict[str, list[float]] = {"kedro": [], "ours": [], "in_memory": []}
            with_in_memory = runner_name == "SequentialRunner" and catalog_name.endswith("(x)")
            contenders: list[tuple[str, Callable[[], float]]] = [
                ("kedro", partial(_timed_runs, kedro_runner, pipeline, make_catalog, calls)),
                ("ours", partial(_timed_runs, our_runner, pipeline, make_catalog, calls)),
            ]
            if with_in_memory:
                contenders.append(
                    ("in_memory", partial(_timed_in_memory, our_runner, pipeline, calls))
                )
            for _, measure in contenders:  # warm-up: plans, thread pools, caches
                measure()
            for index in range(rounds):
                order = contenders if index % 2 == 0 else contenders[::-1]
                for name, measure in order:
                    samples[name].append(measure())
            base = {
                "logging": config,
                "pipeline": f"{length}-node chain",
                "catalog": catalog_name,
                "calls_per_sample": calls,
            }
            kedro_stats = stats(samples["kedro"])
            row = _overhead_row(base, runner_name, kedro_stats, stats(samples["ours"]))
            if not row["met"]:
                catalogs = iter([make_catalog() for _ in range(PROFILE_CALLS)])
                row["profile"] = profile_text(
                    lambda r=our_runner, p=pipeline, c=catalogs: r.run(p, next(c)),
                    PROFILE_CALLS,
                )
            rows.append(row)
            if with_in_memory:
                rows.append(
                    _overhead_row(
                        {**base, "catalog": "none (run_in_memory)"},
                        "SequentialRunner.run_in_memory",
                        kedro_stats,
                        stats(samples["in_memory"]),
                        extra=True,
                    )
                )
    return {
        "id": "runner_overhead",
        "title": "Runner overhead per run (identity chains, in memory)",
        "target": f"ours >= {OVERHEAD_TARGET:g}x faster per run than Kedro's runner",
        "method": (
            f"Per `runner.run(pipeline, catalog)` call on chains of identity nodes passing "
            f"{DATA!r}; a fresh catalog per call, built outside the timed loop; one runner "
            "object per contender, reused. Both contenders run under each logging "
            "configuration alike: Kedro's and pipelineml's loggers at WARNING (every catalog); "
            "`logging.disable(logging.CRITICAL)`, and the root logger at WARNING with the "
            "libraries' loggers unset (the first catalog). "
            f"{rounds} samples per contender after a warm-up, alternating contenders; each "
            "sample is the mean of a batch of calls. The run_in_memory row is an extra, "
            "compared with Kedro's SequentialRunner on `MemoryDataset(x)`."
        ),
        "rows": rows,
        "met": all(row["met"] for row in rows if not row.get("extra")),
    }


def _overhead_cases(pairs: dict[str, Any]) -> list[tuple[str, int, str, str]]:
    """(logging, chain length, catalog, runner) of each row of figure 1, in table order."""
    catalogs = list(_catalog_factories())
    cases = []
    for config in LOGGING_CONFIGS:
        # The other configurations on the first catalog only: what they change is the
        # logging, which costs the same whichever way the catalog copies.
        for_config = catalogs if config == LOGGING_CONFIGS[0] else catalogs[:1]
        for length in CHAIN_LENGTHS:
            for catalog_name in for_config:
                for runner_name in pairs:
                    cases.append((config, length, catalog_name, runner_name))
    return cases


def _overhead_row(
    base: dict[str, Any],
    runner: str,
    kedro: dict[str, Any],
    ours: dict[str, Any],
    *,
    extra: bool = False,
) -> dict[str, Any]:
    speedup = ratio(kedro["median"], ours["median"])
    return {
        **base,
        "runner": runner,
        "kedro": kedro,
        "ours": ours,
        "ratio": speedup,
        "target": OVERHEAD_TARGET,
        "met": speedup is not None and speedup >= OVERHEAD_TARGET,
        "extra": extra,
    }


# ---------------------------------------------------------------------------- figure 6
def calibrate(seconds: float = NODE_SECONDS) -> int:
    """The loop count that makes ``spin`` last about ``seconds`` here, now."""
    loops = 200_000
    while True:
        start = time.perf_counter()
        spin(loops)
        elapsed = time.perf_counter() - start
        if elapsed > 0.05:
            break
        loops *= 4
    # The best of three, so that a busy moment does not shorten the nodes.
    best = min(_spin_time(loops) for _ in range(3))
    return max(1, int(loops * seconds / best))


def _spin_time(loops: int) -> float:
    return spin(loops)


def _chain_overhead(sequential: Any, dask: Any, rounds: int, length: int = 50) -> dict[str, Any]:
    """Per-run times of an identity chain with both runners, and Dask's extra per node."""
    from kedro.io import DataCatalog, MemoryDataset

    pipeline = chain(length)

    def run_chain(runner: Any, calls: int = 3) -> float:
        catalogs = [DataCatalog({"x0": MemoryDataset(DATA)}) for _ in range(calls)]
        start = time.perf_counter()
        for catalog in catalogs:
            runner.run(pipeline, catalog)
        return (time.perf_counter() - start) / calls

    run_chain(dask)  # warm-up
    run_chain(sequential)
    per_run: dict[str, list[float]] = {"sequential": [], "dask": []}
    overhead: list[float] = []
    for index in range(rounds):
        order = [("sequential", sequential), ("dask", dask)]
        times = {}
        for name, runner in order if index % 2 == 0 else order[::-1]:
            times[name] = run_chain(runner)
            per_run[name].append(times[name])
        overhead.append((times["dask"] - times["sequential"]) / length)
    return {
        "sequential": stats(per_run["sequential"]),
        "dask": stats(per_run["dask"]),
        "overhead_per_node": stats(overhead),
    }


def figure_dask() -> dict[str, Any]:
    """Figure 6: 8 parallel CPU-bound nodes, and per-node overhead on a 50-node chain."""
    import cloudpickle
    from distributed import Client, LocalCluster
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.pipeline import Pipeline, node

    _quiet_kedro()
    from pipelineml.runners import DaskRunner, SequentialRunner

    # The workers cannot import this script: its functions travel by value.
    if __name__ != "__main__":
        cloudpickle.register_pickle_by_value(sys.modules[__name__])

    rounds = env_int("BENCH_DASK_ROUNDS", 5)
    chain_rounds = env_int("BENCH_DASK_CHAIN_ROUNDS", 7)
    loops = calibrate()
    node_time = stats([_spin_time(loops) for _ in range(3)])
    log(f"figure 6: {loops} loops per node ({node_time['median']:.3f} s)")
    parallel = Pipeline(
        [node(spin, "loops", f"spun_{i}", name=f"spin_{i}") for i in range(PARALLEL_NODES)]
    )
    sequential = SequentialRunner()
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        # Logging at WARNING on the workers too, where the nodes run.
        client.run(_quiet_kedro)
        dask = DaskRunner(client=client)

        def run_parallel(runner: Any) -> tuple[float, list[float]]:
            catalog = DataCatalog({"loops": MemoryDataset(loops)})
            start = time.perf_counter()
            outputs = runner.run(parallel, catalog)
            elapsed = time.perf_counter() - start
            return elapsed, [dataset.load() for dataset in outputs.values()]

        log("figure 6: warm-up (cluster started, imports on the workers)")
        run_parallel(dask)
        run_parallel(sequential)
        wall: dict[str, list[float]] = {"sequential": [], "dask": []}
        inside: dict[str, list[float]] = {"sequential": [], "dask": []}
        # Wall time in units of the run's own mean node time: how many nodes' worth of
        # time a run took, whatever the load of the machine made a node cost.
        in_nodes: dict[str, list[float]] = {"sequential": [], "dask": []}
        ideal: list[float] = []
        for index in range(rounds):
            log(f"figure 6: round {index + 1}/{rounds}")
            order = [("sequential", sequential), ("dask", dask)]
            for name, runner in order if index % 2 == 0 else order[::-1]:
                elapsed, node_times = run_parallel(runner)
                wall[name].append(elapsed)
                inside[name].extend(node_times)
                in_nodes[name].append(elapsed / (sum(node_times) / len(node_times)))
                if name == "dask":
                    # 8 equal nodes on 2 single-threaded workers: 4 after one another.
                    ideal.append(sum(node_times) / 2)
        chain50 = _chain_overhead(sequential, dask, chain_rounds)
    seq_stats, dask_stats = stats(wall["sequential"]), stats(wall["dask"])
    speed = ratio(dask_stats["median"], seq_stats["median"])
    return {
        "id": "dask",
        "title": "DaskRunner on a 2-worker LocalCluster",
        "target": f"8 parallel ~{NODE_SECONDS:g} s nodes: DaskRunner <= {DASK_TARGET:g}x "
        "the time of our SequentialRunner; per-node overhead reported",
        "method": (
            f"{PARALLEL_NODES} independent pure-Python nodes calibrated to ~{NODE_SECONDS:g} s "
            f"each ({loops} loops; measured {node_time['median']:.3f} s), run with our "
            "SequentialRunner and with DaskRunner(client=...) on a LocalCluster of 2 worker "
            "processes with 1 thread each, started once and warmed up; Kedro's and "
            f"pipelineml's loggers at WARNING in the client and on the workers; "
            f"{rounds} runs each, alternating. Each node also reports how long it ran "
            "(inside the node); 'ideal' is the sum of a Dask run's node times / 2 workers, "
            "and the load-normalized ratio compares wall times counted in each run's own "
            "mean node time (not the target, a diagnostic for a busy machine). "
            "Per-node overhead: a 50-node identity chain, "
            f"(DaskRunner time - SequentialRunner time) / 50, {chain_rounds} paired samples "
            "of 3 runs each."
        ),
        "node_seconds": node_time,
        "parallel": {
            "sequential": seq_stats,
            "dask": dask_stats,
            # How long the nodes ran, measured inside them: longer on the workers than in
            # the sequential run means the cores were shared with other work.
            "node_seconds_inside": {
                "sequential": stats(inside["sequential"]),
                "dask": stats(inside["dask"]),
            },
            "dask_ideal": stats(ideal),
            "dask_minus_ideal": stats([w - i for w, i in zip(wall["dask"], ideal, strict=True)]),
            "wall_in_node_times": {
                "sequential": stats(in_nodes["sequential"], "nodes"),
                "dask": stats(in_nodes["dask"], "nodes"),
            },
            "load_normalized_ratio": ratio(
                stats(in_nodes["dask"])["median"], stats(in_nodes["sequential"])["median"]
            ),
            "ratio": speed,
            "target": DASK_TARGET,
            "met": speed is not None and speed <= DASK_TARGET,
        },
        "chain50": chain50,
        "met": speed is not None and speed <= DASK_TARGET,
    }


# ---------------------------------------------------------------------------- figure 10
def call_all(functions: list[Callable[[Any], Any]], value: Any) -> Any:
    """One task running a chain's functions one after the other."""
    for function in functions:
        value = function(value)
    return value


def figure_fused_chain() -> dict[str, Any]:
    """Figure 10: a 50-node in-memory chain, DaskRunner against what Dask itself costs."""
    import cloudpickle
    from distributed import Client, LocalCluster
    from kedro.io import DataCatalog, MemoryDataset

    _quiet_kedro()
    from pipelineml.runners import DaskRunner, SequentialRunner

    if __name__ != "__main__":
        cloudpickle.register_pickle_by_value(sys.modules[__name__])

    rounds = env_int("BENCH_FUSED_ROUNDS", 11)
    pipeline = chain(FUSED_CHAIN_LENGTH)
    functions = [n.func for n in pipeline.nodes]
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        # Logging at WARNING on the workers too, where the nodes run.
        client.run(_quiet_kedro)
        fused, unfused = DaskRunner(client=client), DaskRunner(client=client, fuse=False)
        sequential = SequentialRunner()

        def runs(run: Callable[[], Any], calls: int) -> Callable[[], float]:
            def measure() -> float:
                start = time.perf_counter()
                for _ in range(calls):
                    run()
                return (time.perf_counter() - start) / calls

            return measure

        def runner_runs(runner: Any, calls: int) -> Callable[[], float]:
            # A fresh catalog per run, built outside the timed loop (as in figure 1).
            def measure() -> float:
                catalogs = [DataCatalog({"x0": MemoryDataset(DATA)}) for _ in range(calls)]
                start = time.perf_counter()
                for catalog in catalogs:
                    runner.run(pipeline, catalog)
                return (time.perf_counter() - start) / calls

            return measure

        def submit_chain() -> Any:
            future = client.submit(identity, DATA, pure=False)
            for _ in range(FUSED_CHAIN_LENGTH - 1):
                future = client.submit(identity, future, pure=False)
            return future.result()

        def one_task() -> Any:
            return client.submit(call_all, functions, DATA, pure=False).result()

        contenders = {
            "ours": runner_runs(fused, 5),
            "submit_chain": runs(submit_chain, 2),
            "one_task": runs(one_task, 5),
            "sequential": runner_runs(sequential, 50),
            "ours_fuse_false": runner_runs(unfused, 1),
        }
        log("figure 10: warm-up")
        for measure in contenders.values():
            measure()
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        ratios: list[float] = []
        for index in range(rounds):
            log(f"figure 10: round {index + 1}/{rounds}")
            order = list(contenders.items())
            times = {}
            for name, measure in order if index % 2 == 0 else order[::-1]:
                times[name] = measure()
                samples[name].append(times[name])
            ratios.append(times["ours"] / (times["one_task"] + times["sequential"]))
    seconds = {name: stats(values) for name, values in samples.items()}
    medians = {name: stat["median"] for name, stat in seconds.items()}
    floor = medians["one_task"] + medians["sequential"]
    result = ratio(medians["ours"], floor)
    return {
        "id": "fused_chain",
        "title": "DaskRunner on a chain of in-memory nodes",
        "target": f"{FUSED_CHAIN_LENGTH}-node in-memory chain: DaskRunner <= {FUSED_TARGET:g}x "
        "(one Dask task running the chain's functions + SequentialRunner)",
        "method": (
            f"A {FUSED_CHAIN_LENGTH}-node chain of identity nodes passing {DATA!r}, all "
            "intermediates in memory, on a LocalCluster of 2 worker processes with 1 thread "
            "each, started once and warmed up; Kedro's and pipelineml's loggers at WARNING "
            "in the client and on the workers. Per run: `DaskRunner(client=...).run(pipeline, "
            "catalog)` (the chain fused into one task); a raw chain of "
            f"{FUSED_CHAIN_LENGTH} `client.submit(identity, previous_future)` calls and "
            "`.result()`; one `client.submit` of a function calling the chain's "
            f"{FUSED_CHAIN_LENGTH} node functions, and `.result()`; our SequentialRunner; "
            "and, for reference, `DaskRunner(fuse=False)` (a task per node). A fresh "
            f"catalog per run, built outside the timed loop. {rounds} rounds, the order reversed every other round; each "
            "sample is the mean of a batch of runs (5 ours and one task, 2 submit chain, 50 "
            "sequential, 1 fuse=False). The ratio is of the medians; the median of each "
            "round's own ratio is reported beside it."
        ),
        "seconds": seconds,
        "floor": floor,
        "ratio": result,
        "round_ratio": stats(ratios, "x"),
        "vs_submit_chain": ratio(medians["ours"], medians["submit_chain"]),
        "fuse_false_vs_ours": ratio(medians["ours_fuse_false"], medians["ours"]),
        "target_ratio": FUSED_TARGET,
        "met": result is not None and result <= FUSED_TARGET,
    }


if __name__ == "__main__":
    print(json.dumps([figure_runner_overhead(), figure_dask(), figure_fused_chain()], indent=1))
