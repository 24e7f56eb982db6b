"""After `kedro run --pipelines=training`: score with the logged model, say how to serve it,
then make the new version the registered champion and run the `batch_scoring` pipeline.

Run from the project folder with the same MLFLOW_TRACKING_URI as the training run (the
`nox -s demo` session does both). Exits non-zero if any step fails.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

PROJECT = Path(__file__).resolve().parent
EXPERIMENT = "breast_cancer"
REGISTERED_MODEL = "breast_cancer_classifier"
SAMPLE = PROJECT / "data" / "05_model_input" / "instances.csv"
REQUEST = PROJECT / "data" / "05_model_input" / "request.json"
CHAMPION = "champion"
BATCH_SCORES = PROJECT / "data" / "07_model_output" / "batch_scores"


def _latest_training_run(client: MlflowClient) -> mlflow.entities.Run:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        sys.exit(f"No MLflow experiment '{EXPERIMENT}': did `kedro run --pipelines=training` run?")
    runs = client.search_runs(
        [experiment.experiment_id],
        # The latest run whose model was logged: a later failed, interrupted or filtered
        # run (no model) must not hide it.
        filter_string=(
            "attributes.status = 'FINISHED' and tags.`pipelineml.model_uri` LIKE 'models:/%'"
        ),
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        sys.exit("No finished training run with a logged model found.")
    return runs[0]


def _predict_with_cli(model_uri: str, workdir: Path) -> pd.DataFrame:
    output = workdir / "predictions.json"
    mlflow_cli = shutil.which("mlflow") or "mlflow"
    command = [
        mlflow_cli, "models", "predict",
        "-m", model_uri,
        "-i", str(SAMPLE),
        "-t", "csv",
        "-o", str(output),
        "--env-manager", "local",
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, text=True)
    return pd.DataFrame(json.loads(output.read_text())["predictions"])


def _registered_version(client: MlflowClient) -> int | None:
    run = _latest_training_run(client)
    versions = client.search_model_versions(
        f"name='{REGISTERED_MODEL}' and run_id='{run.info.run_id}'"
    )
    return max((int(v.version) for v in versions), default=None)


def main() -> None:
    """Print the run, the model, its artifacts, predictions and the next commands."""
    tracking_uri = mlflow.get_tracking_uri()
    client = MlflowClient()
    run = _latest_training_run(client)
    model_uri = run.data.tags.get("pipelineml.model_uri")
    if not model_uri:
        reason = run.data.tags.get("pipelineml.model_not_logged", "no reason recorded")
        sys.exit(f"Run {run.info.run_id} logged no model: {reason}")

    info = mlflow.models.get_model_info(model_uri)
    artifacts = info.flavors["python_function"].get("artifacts", {})
    versions = client.search_model_versions(
        f"name='{REGISTERED_MODEL}' and run_id='{run.info.run_id}'"
    )
    version = max((int(v.version) for v in versions), default=None)

    sample = pd.read_csv(SAMPLE)
    model = mlflow.pyfunc.load_model(model_uri)
    in_process = model.predict(sample)
    with tempfile.TemporaryDirectory() as workdir:
        from_cli = _predict_with_cli(model_uri, Path(workdir))
    if not np.allclose(in_process["probability"], from_cli["probability"]):
        sys.exit("`mlflow models predict` and mlflow.pyfunc.load_model disagree.")
    stricter = model.predict(sample, params={"threshold": 0.9})

    registered = f"models:/{REGISTERED_MODEL}/{version}" if version is not None else None
    # What matters first: which model was trained and that it scores; details after.
    print("\n=== pipelineml demo ===")
    print(f"model        : {registered or model_uri}  (trained by run {run.info.run_id})")
    print(
        f"scored       : {len(sample)} rows of {SAMPLE.relative_to(PROJECT)}; "
        "mlflow models predict and mlflow.pyfunc.load_model agree"
    )
    print(f"\npredictions for {len(sample)} rows (malignant_at_0_9: with params threshold=0.9)")
    shown = in_process.assign(malignant_at_0_9=stricter["malignant"])
    print(shown.to_string(float_format=lambda v: f"{v:.4f}"))

    print("\ndetails")
    print(f"  tracking URI : {tracking_uri}")
    print(f"  model URI    : {model_uri}")
    metrics = ", ".join(f"{k}={v:.3f}" for k, v in sorted(run.data.metrics.items()))
    print(f"  metrics      : {metrics}")
    print("  artifacts    :")
    for name, spec in sorted(artifacts.items()):
        print(f"    {name:18} -> {spec['path']}")

    registry_uri = registered or model_uri
    bin_dir = Path(sys.executable).parent
    # Every path is absolute: the user stands where they ran `nox -s demo` (the clone's
    # root), not in this folder, and serving takes a second terminal.
    print(
        "\nnext steps (from any folder; `mlflow models serve` and `mlflow ui` keep running:"
        "\ngive each its own terminal, and run the export line in every terminal first):"
    )
    print(f"  export PATH={bin_dir}:$PATH MLFLOW_TRACKING_URI={tracking_uri}")
    print(
        f"  mlflow models serve -m {registry_uri} --env-manager uv --host 127.0.0.1 --port 5001"
        "   # builds the model's own environment"
    )
    request = {
        "dataframe_split": json.loads(sample.head(2).to_json(orient="split", index=False)),
        "params": {"threshold": 0.3},
    }
    REQUEST.write_text(json.dumps(request, indent=1))
    print(
        "  curl -s http://127.0.0.1:5001/invocations -H 'Content-Type: application/json' "
        f"-d @{REQUEST}"
    )
    print(f"  mlflow ui --backend-store-uri {tracking_uri} --host 127.0.0.1 --port 5000")
    print(f"  cd {PROJECT}   # kedro runs from its project's folder")
    print("  kedro run --pipelines=training --runner=pipelineml.runners.DaskRunner")
    print(
        "  DASK_SCHEDULER_ADDRESS=tcp://127.0.0.1:8786 kedro run --pipelines=training "
        "--runner=pipelineml.runners.DaskRunner   # an existing `dask scheduler`"
    )


def _batch_scoring(client: MlflowClient, version: int | None) -> None:
    """Alias the run's version as the champion, run `batch_scoring`, show its output."""
    if version is None:
        sys.exit("The training run registered no model version: nothing to alias.")
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION, str(version))
    kedro = shutil.which("kedro") or "kedro"
    started = time.monotonic()
    subprocess.run([kedro, "run", "--pipelines=batch_scoring"], check=True, cwd=PROJECT)
    elapsed = time.monotonic() - started
    import pyarrow.parquet as pq

    files = sorted(BATCH_SCORES.glob("*.parquet"))
    rows = sum(pq.ParquetFile(path).metadata.num_rows for path in files)
    head = pq.read_table(files[0]).to_pandas().head(3)
    print("\n=== batch scoring ===")
    print(f"champion     : models:/{REGISTERED_MODEL}@{CHAMPION} -> version {version}")
    print(
        f"scores       : {BATCH_SCORES.relative_to(PROJECT)}/ ({rows:,} rows in {len(files)} "
        f"Parquet files, kedro run took {elapsed:.1f} s on a LocalCluster)"
    )
    print(head.to_string(float_format=lambda v: f"{v:.4f}"))
    print("\nthe same pipeline on an existing Dask cluster (its workers need this project's")
    print("environment: run the export line above in each terminal):")
    print(f"  cd {PROJECT}")
    print("  dask scheduler --host 127.0.0.1 --port 8786 &")
    print("  dask worker tcp://127.0.0.1:8786 --nworkers 2 --nthreads 1 &")
    print("  DASK_SCHEDULER_ADDRESS=tcp://127.0.0.1:8786 kedro run --pipelines=batch_scoring")


if __name__ == "__main__":
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    main()
    _batch_scoring(MlflowClient(), _registered_version(MlflowClient()))
