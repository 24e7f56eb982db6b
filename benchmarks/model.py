"""Figures 2 and 3: ``predict`` of the loaded model, and ``mlflow.pyfunc.load_model`` time.

This file is both sides of the measurement:

* the orchestrator (``figure_predict``, ``figure_load``) runs in our environment and drives
  one process per environment, alternating between them;
* the worker (``python model.py`` with no arguments: JSON requests on stdin) and the
  one-shot modes (``load-time``, ``export``) run in either environment and import only
  what that environment has.
"""

from __future__ import annotations

import json
import pickle
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    BENCH_DIR,
    Contender,
    Worker,
    env_int,
    log,
    profile_text,
    ratio,
    run_json,
    serve_requests,
    stats,
)

SIZES = {"1": 1, "100k": 100_000}
KINDS = ("direct", "unwrapped", "pyfunc")
OVERHEAD_LIMIT_S = 1e-4  # our overhead over direct calls at 1 row
OVERHEAD_RATIO = 0.1  # ours / kedro-mlflow's
LOAD_TARGET = 1.0  # ours / kedro-mlflow's load time


# ============================================================================ worker side
class _Scorer:
    """The loaded model, the fitted objects and the request frames of one worker."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], Any] = {}

    def load(self, model_dir: str, data_path: str, threshold: float) -> dict[str, Any]:
        import mlflow.pyfunc
        import numpy as np
        from breast_cancer.pipelines.classifier import nodes

        with open(data_path, "rb") as stream:
            frames: dict[str, Any] = pickle.load(stream)
        model = mlflow.pyfunc.load_model(model_dir)
        python_model = model.unwrap_python_model()
        fitted = {}
        for name in ("imputer", "scaler", "model"):
            # Both plugins store each artifact under artifacts/, named after its file.
            (path,) = Path(model_dir, "artifacts").rglob(f"{name}.pkl")
            with path.open("rb") as stream:
                fitted[name] = pickle.load(stream)

        def direct(frame: Any) -> Any:
            imputed = nodes.impute(frame, fitted["imputer"])
            return nodes.predict(nodes.scale(imputed, fitted["scaler"]), fitted["model"], threshold)

        checks: dict[str, Any] = {}
        for size, frame in frames.items():
            self.calls[(size, "direct")] = lambda f=frame: direct(f)
            self.calls[(size, "unwrapped")] = lambda f=frame: python_model.predict(None, f)
            self.calls[(size, "pyfunc")] = lambda f=frame: model.predict(f)
            expected = direct(frame)
            for kind in ("unwrapped", "pyfunc"):
                got = self.calls[(size, kind)]()
                same = bool(
                    len(got) == len(expected)
                    and np.allclose(got["probability"], expected["probability"], rtol=0, atol=1e-12)
                    and (np.asarray(got["malignant"]) == np.asarray(expected["malignant"])).all()
                )
                checks[f"{size}/{kind}"] = same
        return {"checks": checks, "model_class": type(python_model).__module__}

    def round(self, size: str, calls: int) -> dict[str, dict[str, float]]:
        """Time ``calls`` calls of each kind, interleaved call by call.

        Interleaving pairs every contender call with a direct call made a moment before
        or after, so that the overhead (the median of the paired differences) does not
        drift with the load of the machine.
        """
        kinds = [(kind, self.calls[(size, kind)]) for kind in KINDS]
        seconds: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for index in range(calls):
            for kind, function in kinds if index % 2 == 0 else kinds[::-1]:
                start = time.perf_counter()
                function()
                seconds[kind].append(time.perf_counter() - start)

        def paired(kind: str, base: str) -> float:
            pairs = zip(seconds[kind], seconds[base], strict=True)
            return statistics.median([a - b for a, b in pairs])

        result = {
            kind: {"time": statistics.median(seconds[kind]), "overhead": paired(kind, "direct")}
            for kind in KINDS
        }
        # MLflow's pyfunc layer around the plugin's predict (input schema enforcement,
        # params), the same code for both plugins.
        result["pyfunc"]["mlflow_layer"] = paired("pyfunc", "unwrapped")
        return result

    def profile(self, size: str, kind: str, calls: int) -> str:
        return profile_text(self.calls[(size, kind)], calls)


def _load_time(model_dir: str) -> dict[str, float]:
    """In a fresh interpreter: import MLflow, then time ``load_model`` alone."""
    start = time.perf_counter()
    import mlflow.pyfunc

    imported = time.perf_counter()
    mlflow.pyfunc.load_model(model_dir)
    loaded = time.perf_counter()
    return {"import_mlflow_s": imported - start, "load_model_s": loaded - imported}


def _export(tracking_uri: str, registered_name: str, destination: str) -> dict[str, Any]:
    """Download the latest registered version of the model to a local folder."""
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient()
    versions = client.search_model_versions(f"name='{registered_name}'")
    if not versions:
        raise SystemExit(f"no version of {registered_name!r} in {tracking_uri}")
    version = max(int(v.version) for v in versions)
    path = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{registered_name}/{version}", dst_path=destination
    )
    return {"path": path, "version": version}


def _worker_main(argv: list[str]) -> None:
    if not argv:
        scorer = _Scorer()
        serve_requests({"load": scorer.load, "round": scorer.round, "profile": scorer.profile})
    elif argv[0] == "load-time":
        print(json.dumps(_load_time(argv[1])))
    elif argv[0] == "export":
        print(json.dumps(_export(argv[1], argv[2], argv[3])))
    else:
        raise SystemExit(f"unknown mode {argv[0]!r}: use load-time, export or no argument")


# ============================================================================ orchestrator
def make_request_frames(path: Path, seed: int = 0) -> dict[str, Any]:
    """1 row and 100k rows sampled with replacement from the dataset's feature rows."""
    from breast_cancer.pipelines.classifier import nodes

    features = nodes.load_raw_data().drop(columns=nodes.TARGET)
    frames = {
        "1": features.sample(n=1, random_state=seed).reset_index(drop=True),
        "100k": features.sample(n=100_000, replace=True, random_state=seed).reset_index(drop=True),
    }
    with path.open("wb") as stream:
        pickle.dump(frames, stream, protocol=pickle.HIGHEST_PROTOCOL)
    return frames


def start_workers(contenders: list[Contender], data_path: Path, workdir: Path) -> list[Worker]:
    """One scoring worker per contender, its model loaded and its predictions checked."""
    workers = []
    for contender in contenders:
        worker = Worker(
            contender.python,
            BENCH_DIR / "model.py",
            env=contender.env,
            cwd=workdir,
            log_path=workdir / f"predict-worker-{contender.name}.log",
        )
        workers.append(worker)
        answer = worker.call(
            "load", model_dir=str(contender.model), data_path=str(data_path), threshold=0.5
        )
        if not all(answer["checks"].values()):
            raise RuntimeError(f"{contender.name}: predictions differ from direct calls: {answer}")
        log(f"figure 2: {contender.name} loaded {answer['model_class']}; predictions checked")
    return workers


def figure_predict(contenders: list[Contender], data_path: Path, workdir: Path) -> dict[str, Any]:
    """Figure 2: seconds per predict call, and the overhead over direct node calls."""
    ours, peer = contenders
    calls = {"1": env_int("BENCH_PREDICT_CALLS_1", 100), "100k": 5}
    rounds = {
        "1": env_int("BENCH_PREDICT_ROUNDS_1", 11),
        "100k": env_int("BENCH_PREDICT_ROUNDS_100K", 11),
    }
    workers = start_workers(contenders, data_path, workdir)
    rows: list[dict[str, Any]] = []
    profiles: dict[str, str] = {}
    try:
        for size in SIZES:
            log(f"figure 2: {size} row(s), {rounds[size]} rounds")
            pairs = list(zip(contenders, workers, strict=True))
            for _, worker in pairs:  # warm-up
                worker.call("round", size=size, calls=max(2, calls[size] // 4))
            times: dict[tuple[str, str], list[float]] = {}
            overheads: dict[tuple[str, str], list[float]] = {}
            layers: dict[str, list[float]] = {}
            for index in range(rounds[size]):
                for contender, worker in pairs if index % 2 == 0 else pairs[::-1]:
                    sample = worker.call("round", size=size, calls=calls[size])
                    for kind in KINDS:
                        key = (contender.name, kind)
                        times.setdefault(key, []).append(sample[kind]["time"])
                        overheads.setdefault(key, []).append(sample[kind]["overhead"])
                    layers.setdefault(contender.name, []).append(sample["pyfunc"]["mlflow_layer"])
            for kind in ("unwrapped", "pyfunc"):
                ours_over = stats(overheads[(ours.name, kind)])
                peer_over = stats(overheads[(peer.name, kind)])
                share = ratio(ours_over["median"], peer_over["median"])
                # The 0.1 ms limit holds at 1 row for both calls, pyfunc included.
                limit_met = size != "1" or ours_over["median"] <= OVERHEAD_LIMIT_S
                met = share is not None and share <= OVERHEAD_RATIO and limit_met
                rows.append(
                    {
                        "rows": size,
                        "call": kind,
                        "calls_per_sample": calls[size],
                        "direct": {
                            ours.name: stats(times[(ours.name, "direct")]),
                            peer.name: stats(times[(peer.name, "direct")]),
                        },
                        "time": {
                            ours.name: stats(times[(ours.name, kind)]),
                            peer.name: stats(times[(peer.name, kind)]),
                        },
                        "overhead": {ours.name: ours_over, peer.name: peer_over},
                        # pyfunc - unwrapped, paired: MLflow's own layer, not the plugin's.
                        "mlflow_layer": (
                            {
                                ours.name: stats(layers[ours.name]),
                                peer.name: stats(layers[peer.name]),
                            }
                            if kind == "pyfunc"
                            else None
                        ),
                        "ratio": share,
                        "target": (
                            f"ours <= {OVERHEAD_LIMIT_S * 1e3:g} ms and <= {OVERHEAD_RATIO:g}x "
                            "kedro-mlflow's"
                            if size == "1"
                            else f"ours <= {OVERHEAD_RATIO:g}x kedro-mlflow's"
                        ),
                        "met": met,
                    }
                )
                if not met:
                    for contender, worker in pairs:
                        profiles[f"{contender.name} {size} {kind}"] = worker.call(
                            "profile", size=size, kind=kind, calls=calls[size] * 3
                        )
    finally:
        for worker in workers:
            worker.close()
    return {
        "id": "predict",
        "title": "predict of the loaded model",
        "target": (
            f"overhead over direct node calls: ours <= {OVERHEAD_LIMIT_S * 1e3:g} ms per call "
            f"at 1 row, and <= {OVERHEAD_RATIO:g}x kedro-mlflow's overhead"
        ),
        "method": (
            "Each environment loads its model once with mlflow.pyfunc.load_model(path) "
            "(the model's local folder) in a long-lived worker process. Per round, each "
            "worker times, back to back: direct calls of the inference node functions "
            "(impute -> scale -> predict with the fitted objects from the model's artifacts), "
            "`model.unwrap_python_model().predict(None, df)` and `model.predict(df)`, "
            "interleaved call by call. A sample is one round: the median time per call, and "
            "the overhead = the median of (contender call - the direct call next to it), over "
            f"{calls['1']} calls of each kind at 1 row, {calls['100k']} at 100k rows. "
            f"{rounds['1']} rounds at 1 row and {rounds['100k']} at 100k rows per "
            "environment, alternating which environment goes first, after a warm-up round. "
            "Before timing, every kind of call's output is checked against the direct calls. "
            "MLflow's pyfunc layer = the median of (pyfunc call - the unwrapped call next to "
            "it): what `model.predict(df)` adds around the plugin's own predict (input "
            "schema enforcement, params), the same MLflow code for both plugins."
        ),
        "rows": rows,
        # cProfile excerpts of the calls behind each missed target, for diagnosis.
        "profiles": profiles,
        "met": all(row["met"] for row in rows),
    }


def figure_load(contenders: list[Contender], workdir: Path) -> dict[str, Any]:
    """Figure 3: ``mlflow.pyfunc.load_model`` time, a fresh interpreter for every sample."""
    ours, peer = contenders
    rounds = env_int("BENCH_LOAD_ROUNDS", 7)
    samples: dict[str, dict[str, list[float]]] = {c.name: {} for c in contenders}
    script = str(BENCH_DIR / "model.py")
    for contender in contenders:  # warm-up: the OS file cache
        run_json(contender.python, [script, "load-time", str(contender.model)], env=contender.env)
    for index in range(rounds):
        log(f"figure 3: round {index + 1}/{rounds}")
        for contender in contenders if index % 2 == 0 else contenders[::-1]:
            result = run_json(
                contender.python,
                [script, "load-time", str(contender.model)],
                env=contender.env,
                cwd=workdir,
            )
            for key, value in result.items():
                samples[contender.name].setdefault(key, []).append(value)
    ours_load = stats(samples[ours.name]["load_model_s"])
    peer_load = stats(samples[peer.name]["load_model_s"])
    share = ratio(ours_load["median"], peer_load["median"])
    return {
        "id": "load_model",
        "title": "mlflow.pyfunc.load_model time",
        "target": "ours <= kedro-mlflow's",
        "method": (
            "A fresh Python process per sample (so nothing is cached in the interpreter; the "
            "OS file cache is warm after one unrecorded load per environment): import "
            "mlflow.pyfunc (reported apart), then time mlflow.pyfunc.load_model(path) on the "
            "model's local folder, which imports the model's code and loads its artifacts. "
            f"{rounds} samples per environment, alternating."
        ),
        "load_model": {ours.name: ours_load, peer.name: peer_load},
        "import_mlflow": {
            ours.name: stats(samples[ours.name]["import_mlflow_s"]),
            peer.name: stats(samples[peer.name]["import_mlflow_s"]),
        },
        "ratio": share,
        "target_ratio": LOAD_TARGET,
        "met": share is not None and share <= LOAD_TARGET,
    }


if __name__ == "__main__":
    _worker_main(sys.argv[1:])
