"""Artifacts wherever the catalog keeps them: versioned, and on a real S3 API (moto).

A Kedro project on disk keeps its fitted ``scaler`` and its versioned ``model`` on S3, with
credentials in ``conf/local/credentials.yml``; ``kedro run --pipelines=training`` logs the
model. The model must then load and score with the store gone (in a fresh process, in
``mlflow models serve``, in a uv-built environment, with ``batch_predict``), say which
version of each artifact it holds, and carry no secret anywhere. Stores that cannot be
reached stop the run before any node, naming the dataset and the URL.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import yaml

from tests._support.deploy import DeployTools, check_command, run_command
from tests._support.kedro_project import run_kedro_cli
from tests._support.mlflow_store import all_logged_models, all_runs, sqlite_uri
from tests._support.net import free_port
from tests._support.object_store import (
    ACCESS_KEY,
    SECRET_KEY,
    S3Server,
    make_bucket,
    s3_credentials,
    start_s3_server,
    stop_s3_server,
)
from tests._support.process import interpreter, subprocess_env
from tests._support.servers import start_model_server, stop_model_server
from tests._support.toy_project import CATALOG, expected_scores, make_project
from tests._support.trained_project import invoke, tracking

pytestmark = pytest.mark.slow

BUCKET = "artifacts"
ROWS = [0.0, 5.0, 12.0]


def remote_project(root: Path, endpoint: str, *, bucket: str = BUCKET) -> Path:
    """The toy project with ``scaler`` and a versioned ``model`` on S3 (credentials ``s3``)."""
    make_project(root, log_model_kwargs={})
    catalog = {
        **CATALOG,
        "scaler": {
            "type": "pickle.PickleDataset",
            "filepath": f"s3://{bucket}/scaler.pkl",
            "credentials": "s3",
        },
        "model": {
            "type": "pickle.PickleDataset",
            "filepath": f"s3://{bucket}/model.pkl",
            "credentials": "s3",
            "versioned": True,
        },
    }
    (root / "conf" / "base" / "catalog.yml").write_text(yaml.safe_dump(catalog))
    (root / "conf" / "local" / "credentials.yml").write_text(
        yaml.safe_dump({"s3": s3_credentials(endpoint)})
    )
    return root


def train(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``kedro run --pipelines=training`` in ``root``, its output captured."""
    return run_kedro_cli(root, "run", "--pipelines=training", *args, timeout=600)


@dataclass(frozen=True)
class RemoteTrained:
    """A project trained twice against an S3 store that is now stopped."""

    root: Path
    tracking_uri: str
    outputs: list[str]
    # Oldest first; each with its run.
    models: list[Any]

    @property
    def first_uri(self) -> str:
        return f"models:/{self.models[0].model_id}"


@pytest.fixture(scope="module")
def remote_trained(tmp_path_factory: pytest.TempPathFactory) -> RemoteTrained:
    """Train twice (alpha 1, then alpha 3) with moto up, then stop moto for every test."""
    workdir = tmp_path_factory.mktemp("remote")
    server = start_s3_server(workdir / "moto")
    try:
        make_bucket(server.endpoint, BUCKET)
        root = remote_project(workdir / "project", server.endpoint)
        first = train(root)
        assert first.returncode == 0, first.stdout + first.stderr
        second = train(root, "--params=alpha=3.0")
        assert second.returncode == 0, second.stdout + second.stderr
    finally:
        stop_s3_server(server)
    tracking_uri = sqlite_uri(root / "mlflow.db")
    models = sorted(all_logged_models(tracking_uri), key=lambda m: m.creation_timestamp)
    return RemoteTrained(
        root,
        tracking_uri,
        [first.stdout + first.stderr, second.stdout + second.stderr],
        models,
    )


def _download(uri: str, tracking_uri: str, folder: Path) -> Path:
    # MLflow resolves models:/m-... against its current store, whatever URI is passed.
    with tracking(tracking_uri):
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(folder)))


def test_the_model_holds_a_copy_of_each_remote_artifact(
    remote_trained: RemoteTrained, tmp_path: Path
) -> None:
    """Both runs logged a model; each holds its own copy, and says what it is a copy of."""
    assert len(remote_trained.models) == 2
    folder = _download(remote_trained.first_uri, remote_trained.tracking_uri, tmp_path)
    assert (folder / "artifacts" / "scaler.pkl").is_file()
    assert (folder / "artifacts" / "model.pkl").is_file()
    metadata = yaml.safe_load((folder / "MLmodel").read_text())["metadata"]["pipelineml"]
    sources = metadata["artifacts"]
    assert sources["scaler"] == {"location": f"s3://{BUCKET}/scaler.pkl"}
    version = sources["model"]["version"]
    assert sources["model"]["location"] == f"s3://{BUCKET}/model.pkl/{version}/model.pkl"
    second = yaml.safe_load(
        (
            _download(
                f"models:/{remote_trained.models[1].model_id}",
                remote_trained.tracking_uri,
                tmp_path / "2",
            )
            / "MLmodel"
        ).read_text()
    )["metadata"]["pipelineml"]["artifacts"]["model"]["version"]
    assert second > version  # the second run saved a version of its own


SCORE = textwrap.dedent(
    """
    import json, sys
    import mlflow.pyfunc
    import pandas as pd
    model = mlflow.pyfunc.load_model(sys.argv[1])
    print(json.dumps(model.predict(pd.DataFrame({"x": json.loads(sys.argv[2])}))["score"].tolist()))
    """
)


def test_the_first_model_scores_with_the_store_gone_and_unchanged_by_the_second(
    remote_trained: RemoteTrained, tmp_path: Path
) -> None:
    """In a fresh process, with moto stopped: the first model scores as its own run trained
    it (alpha 1), the second as its own (alpha 3)."""
    for model, alpha in zip(remote_trained.models, (1.0, 3.0), strict=True):
        done = subprocess.run(
            [str(interpreter()), "-c", SCORE, f"models:/{model.model_id}", json.dumps(ROWS)],
            cwd=tmp_path,
            env=subprocess_env(extra={"MLFLOW_TRACKING_URI": remote_trained.tracking_uri}),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        scores = json.loads(done.stdout.strip().splitlines()[-1])
        assert scores == pytest.approx(expected_scores(ROWS, alpha=alpha))


def test_served_with_the_store_gone(remote_trained: RemoteTrained, tmp_path: Path) -> None:
    """`mlflow models serve` of the first model answers with moto stopped."""
    server = start_model_server(remote_trained.first_uri, tmp_path, remote_trained.tracking_uri)
    try:
        response = invoke(
            server.url, {"dataframe_split": {"columns": ["x"], "data": [[r] for r in ROWS]}}
        )
    finally:
        stop_model_server(server)
    assert response.status_code == 200, response.text
    scores = [row["score"] for row in response.json()["predictions"]]
    assert scores == pytest.approx(expected_scores(ROWS))


def test_batch_predict_with_the_store_gone(remote_trained: RemoteTrained) -> None:
    """batch_predict scores with the first model, moto stopped."""
    from pipelineml.hooks import batch_predict

    frame = pd.DataFrame({"x": ROWS * 4})
    scored = batch_predict(
        remote_trained.first_uri, frame, chunk_size=5, tracking_uri=remote_trained.tracking_uri
    )
    assert scored["score"].tolist() == pytest.approx(expected_scores(ROWS * 4))


def test_uv_environment_scores_with_the_store_gone(
    remote_trained: RemoteTrained, deploy_tools: DeployTools, tmp_path: Path
) -> None:
    """`mlflow models predict --env-manager uv` builds the model's environment from its own
    requirements and scores, moto stopped (no s3fs needed: the artifacts are inside)."""
    sample, output = tmp_path / "sample.csv", tmp_path / "predictions.json"
    pd.DataFrame({"x": ROWS}).to_csv(sample, index=False)
    model_dir = _download(remote_trained.first_uri, remote_trained.tracking_uri, tmp_path / "m")
    assert "s3fs" not in (model_dir / "requirements.txt").read_text()
    env = deploy_tools.environ(tmp_path, remote_trained.tracking_uri)
    result = run_command(
        [
            deploy_tools.bin_dir / "mlflow",
            "models",
            "predict",
            "-m",
            model_dir,
            "-i",
            sample,
            "-t",
            "csv",
            "-o",
            output,
            "--env-manager",
            "uv",
        ],
        env,
        tmp_path,
    )
    check_command(result, "mlflow models predict --env-manager uv")
    predictions = json.loads(output.read_text())["predictions"]
    assert [row["score"] for row in predictions] == pytest.approx(expected_scores(ROWS))


def _every_byte(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


def test_no_credential_leaves_the_project(remote_trained: RemoteTrained, tmp_path: Path) -> None:
    """The secret key is in no file of either model, of the runs' artifacts and store, in no
    param or tag, and in nothing the runs printed."""
    secret = SECRET_KEY.encode()
    for model in remote_trained.models:
        folder = _download(
            f"models:/{model.model_id}", remote_trained.tracking_uri, tmp_path / model.model_id
        )
        assert secret not in _every_byte(folder)
    assert secret not in _every_byte(remote_trained.root / "mlruns")
    assert secret not in (remote_trained.root / "mlflow.db").read_bytes()
    for run in all_runs(remote_trained.tracking_uri):
        assert SECRET_KEY not in json.dumps([run.data.params, run.data.tags])
        assert ACCESS_KEY not in json.dumps([run.data.params, run.data.tags])
    for output in remote_trained.outputs:
        assert SECRET_KEY not in output


# ----------------------------------------------------------------- stores that fail


def _refused(
    root: Path, *, url: str, reason: str
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    done = train(root)
    elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "pre-flight" in output, output
    assert "Inference input 'model'" in output, output
    assert url in output, output
    assert reason in " ".join(output.split()), output
    assert SECRET_KEY not in output
    (run,) = all_runs(sqlite_uri(root / "mlflow.db"))
    assert run.info.status == "FAILED"
    assert "pipelineml.preflight" in run.data.tags
    assert not (root / "data" / "01_raw" / "raw_data.csv").exists()  # no node ran
    return elapsed, done


def test_unreachable_endpoint_fails_before_any_node(tmp_path: Path) -> None:
    """Nothing listens at the endpoint: the pre-flight stops the run, naming the dataset and
    its URL, without the secret, with the run FAILED (well within a minute)."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    root = remote_project(tmp_path / "project", endpoint)
    elapsed, _ = _refused(root, url=f"s3://{BUCKET}/model.pkl", reason="did not answer")
    assert elapsed < 300  # a hang guard only: the figure is measured, not asserted


@pytest.fixture
def s3_server(tmp_path: Path) -> Iterator[S3Server]:
    """moto's S3 server for one test."""
    server = start_s3_server(tmp_path / "moto")
    try:
        yield server
    finally:
        stop_s3_server(server)


def test_missing_bucket_fails_before_any_node(s3_server: S3Server, tmp_path: Path) -> None:
    """The bucket the run would save into does not exist: named, with what to do."""
    root = remote_project(tmp_path / "project", s3_server.endpoint, bucket="no-such-bucket")
    _refused(root, url="s3://no-such-bucket/model.pkl", reason="'no-such-bucket' does not exist")


def test_refused_credentials_fail_before_any_node(tmp_path: Path) -> None:
    """A store that refuses the key: named, without the secret."""
    server = start_s3_server(tmp_path / "moto", auth=True)
    try:
        root = remote_project(tmp_path / "project", server.endpoint)
        _refused(root, url=f"s3://{BUCKET}/model.pkl", reason="PermissionError")
    finally:
        stop_s3_server(server)
