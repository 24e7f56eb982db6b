"""Figure 8: serving at the native limit, an ``mlflow.sklearn`` Pipeline vs a PipelineML.

The same fitted imputer, scaler and logistic regression are logged twice: as a native
``mlflow.sklearn`` model of an ``sklearn.pipeline.Pipeline`` (pyfunc ``predict_proba``),
and as a PipelineML whose inference nodes do exactly that work (numpy in, numpy out,
``native_nodes.py``). Both carry the same tensor signature and are served at once by
``mlflow models serve`` from our environment; the load generator is figure 4's.
"""

from __future__ import annotations

import json
import math
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from _common import BENCH_DIR, Contender, env_float, log, percentile, ratio, stats
from serving import SLICES, WARMUP_SECONDS, Server, load_slice

TARGET = 0.95  # ours / native requests per second
SCENARIOS = (1, 8)  # concurrency, 1-row requests
BREAKDOWN_CALLS = 2000


class ArrayChecker:
    """Accepts a response whose predictions equal ``expected`` (rows of probabilities)."""

    def __init__(self, expected: list[list[float]]) -> None:
        """Expect these rows."""
        self.expected = expected
        self.known_good: set[bytes] = set()

    def __call__(self, body: bytes) -> bool:
        if body in self.known_good:
            return True
        try:
            rows = json.loads(body)["predictions"]
            good = len(rows) == len(self.expected) and all(
                math.isclose(a, b, rel_tol=0, abs_tol=1e-9)
                for row, want in zip(rows, self.expected, strict=True)
                for a, b in zip(row, want, strict=True)
            )
        except (ValueError, KeyError, TypeError):
            return False
        if good:
            self.known_good.add(body)
        return good


def make_models(folder: Path) -> tuple[Path, Path, Any, Any]:
    """Train once, log both models; returns (native dir, ours dir, native pipeline, data)."""
    import mlflow
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.pipeline import Pipeline, node
    from kedro_datasets.pickle import PickleDataset
    from mlflow.models import infer_signature
    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import Pipeline as SklearnPipeline

    import native_nodes as nodes
    from pipelineml.core import pipeline_ml_factory
    from pipelineml.hooks import log_pipeline_model
    from pipelineml.runners import SequentialRunner

    features, labels = load_breast_cancer(return_X_y=True)
    training = Pipeline(
        [
            node(nodes.fit_imputer, "features", "imputer", name="fit_imputer"),
            node(nodes.fit_scaler, ["features", "imputer"], "scaler", name="fit_scaler"),
            node(
                nodes.fit_model,
                ["features", "labels", "imputer", "scaler"],
                "model",
                name="fit_model",
            ),
        ]
    )
    inference = Pipeline(
        [
            node(nodes.impute, ["instances", "imputer"], "imputed", name="impute"),
            node(nodes.scale, ["imputed", "scaler"], "scaled", name="scale"),
            node(nodes.predict, ["scaled", "model"], "probabilities", name="predict"),
        ]
    )
    pipeline_ml = pipeline_ml_factory(
        training=training, inference=inference, input_name="instances"
    )
    catalog = DataCatalog(
        {
            "features": MemoryDataset(features),
            "labels": MemoryDataset(labels),
            **{
                name: PickleDataset(filepath=(folder / f"{name}.pkl").as_posix())
                for name in ("imputer", "scaler", "model")
            },
        }
    )
    SequentialRunner().run(pipeline_ml, catalog)
    native = SklearnPipeline(
        [(name, catalog.load(name)) for name in ("imputer", "scaler", "model")]
    )
    sample = features[:5]
    signature = infer_signature(sample, native.predict_proba(sample))
    requirements = [f"{name}=={version(name)}" for name in ("scikit-learn", "numpy")]
    native_dir = folder / "native-model"
    mlflow.sklearn.save_model(
        native,
        native_dir,
        signature=signature,
        pyfunc_predict_fn="predict_proba",
        pip_requirements=requirements,
        # MLflow's default (skops) format asks for the numpy types the steps hold.
        skops_trusted_types=["numpy.dtype"],
    )
    mlflow.set_tracking_uri(f"sqlite:///{(folder / 'mlflow.db').as_posix()}")
    with mlflow.start_run():
        info = log_pipeline_model(
            pipeline_ml, catalog, signature=signature, pip_requirements=requirements
        )
    ours_dir = Path(
        mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(folder / "ours-model"))
    )
    return native_dir, ours_dir, native, features


def _breakdown(native_dir: Path, ours_dir: Path, steps: Any, row: Any) -> dict[str, Any]:
    """Per-call time in this process: the two pyfunc models and what ours is made of."""
    import mlflow

    native = mlflow.pyfunc.load_model(str(native_dir))
    ours = mlflow.pyfunc.load_model(str(ours_dir))
    python_model = ours.unwrap_python_model()
    calls = {
        "native pyfunc predict": lambda: native.predict(row),
        "ours pyfunc predict": lambda: ours.predict(row),
        "ours KedroPipelineModel.predict (no schema check)": lambda: python_model.predict(
            None, row
        ),
        "sklearn Pipeline.predict_proba (no MLflow)": lambda: steps.predict_proba(row),
    }
    for call in calls.values():  # warm-up
        for _ in range(50):
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    block = 50
    for index in range(BREAKDOWN_CALLS // block):
        order = list(calls.items())
        for name, call in order if index % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            for _ in range(block):
                call()
            samples[name].append((time.perf_counter() - start) / block)
    return {name: stats(values) for name, values in samples.items()}


def figure_native(ours_env: Contender, workdir: Path) -> dict[str, Any]:
    """Figure 8: requests/s of both models served side by side, 1-row requests."""
    folder = workdir / "native"
    folder.mkdir(parents=True, exist_ok=True)
    log("figure 8: fitting once, logging the native and the PipelineML model")
    native_dir, ours_dir, native_pipeline, features = make_models(folder)
    seconds = env_float("BENCH_NATIVE_SECONDS", 20.0)
    row = features[7:8]
    body = json.dumps({"inputs": row.tolist()}).encode()
    checker = ArrayChecker(native_pipeline.predict_proba(row).tolist())
    contenders = {
        "native": Contender(
            "native", "mlflow.sklearn", ours_env.python, folder, {"PYTHONPATH": str(BENCH_DIR)}
        ),
        "ours": Contender(
            "ours", "pipelineml", ours_env.python, folder, {"PYTHONPATH": str(BENCH_DIR)}
        ),
    }
    contenders["native"].model_dir = native_dir
    contenders["ours"].model_dir = ours_dir
    servers = [Server(c, folder) for c in contenders.values()]
    rows_out: list[dict[str, Any]] = []
    try:
        for server in servers:
            server.wait_ready()
        log(f"figure 8: both servers ready; {seconds:g} s per contender per scenario")
        for concurrency in SCENARIOS:
            log(f"figure 8: concurrency {concurrency}, 1 row per request")
            errors = dict.fromkeys(contenders, 0)
            for server in servers:
                warm = load_slice(server.port, body, checker, concurrency, WARMUP_SECONDS)
                errors[server.contender.name] += warm["errors"]
            slices: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders}
            for index in range(SLICES):
                for server in servers if index % 2 == 0 else servers[::-1]:
                    part = load_slice(server.port, body, checker, concurrency, seconds / SLICES)
                    slices[server.contender.name].append(part)
            result: dict[str, Any] = {"concurrency": concurrency, "rows": 1}
            for name, parts in slices.items():
                latencies = sorted(v for part in parts for v in part["latencies"])
                result[name] = {
                    "requests_per_s": stats([p["requests"] / p["seconds"] for p in parts], "1/s"),
                    "requests": sum(p["requests"] for p in parts),
                    "p50_ms": percentile(latencies, 0.50) * 1e3,
                    "p99_ms": percentile(latencies, 0.99) * 1e3,
                    "errors": errors[name] + sum(p["errors"] for p in parts),
                    "first_error": next((p["first_error"] for p in parts if p["first_error"]), ""),
                }
            share = ratio(
                result["ours"]["requests_per_s"]["median"],
                result["native"]["requests_per_s"]["median"],
            )
            result["ratio"] = share
            result["met"] = (
                share is not None
                and share >= TARGET
                and result["ours"]["errors"] == 0
                and result["native"]["errors"] == 0
            )
            rows_out.append(result)
    finally:
        for server in servers:
            server.stop()
    log("figure 8: per-call breakdown in process")
    breakdown = _breakdown(native_dir, ours_dir, native_pipeline, row)
    native_call = breakdown["native pyfunc predict"]["median"]
    ours_call = breakdown["ours pyfunc predict"]["median"]
    return {
        "id": "native",
        "title": "Serving at the native limit: mlflow.sklearn vs PipelineML",
        "target": f"ours >= {TARGET:g}x the native model's requests/s at 1 row, "
        "concurrency 1 and 8, 0 errors",
        "method": (
            "One imputer + scaler + logistic regression fitted once (numpy, scikit-learn's "
            "breast-cancer data) and logged twice with the same tensor signature: "
            "mlflow.sklearn.save_model of an sklearn Pipeline (pyfunc predict_proba), and "
            "log_pipeline_model of a PipelineML whose three inference nodes call the same "
            "transform/predict_proba (benchmarks/native_nodes.py). Both served at once by "
            "`mlflow models serve --env-manager local` from our environment; figure 4's "
            f'closed-loop load generator posting {{"inputs": [[30 floats]]}}: '
            f"{WARMUP_SECONDS:g} s warm-up, then {seconds:g} s per contender in {SLICES} "
            "slices alternating ABBA; every response checked against predict_proba. "
            f"Breakdown: per-call medians in the orchestrator over {BREAKDOWN_CALLS} calls "
            "each, in alternating blocks of 50."
        ),
        "rows": rows_out,
        "breakdown": breakdown,
        "per_call_difference": None
        if native_call is None or ours_call is None
        else ours_call - native_call,
        "met": all(row["met"] for row in rows_out),
    }
