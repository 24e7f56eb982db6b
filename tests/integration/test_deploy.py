"""The model deploys from its own folder and a package index, the way MLflow deploys models.

Nothing here has pipelineml, the Kedro project or kedro installed: the tools are a venv with
only ``mlflow`` (and ``uv``), and every command runs with ``PATH`` reduced to those
executables, the machine's bare CPython (``uv`` needs an interpreter to build a venv from,
as a Docker image has one) and ``/usr/bin:/bin``, with no ``PYTHONPATH``. MLflow's env
managers then rebuild the model's environment from its ``requirements.txt``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests._support.deploy import (
    INSTALL_TIMEOUT,
    DeployTools,
    check_command,
    deploy_environ,
    make_bare_venv,
    run_command,
    uv_executable,
)
from tests._support.servers import ModelServer, start_model_server, stop_model_server
from tests._support.trained_project import (
    STRICT_THRESHOLD,
    TrainedModel,
    assert_same_predictions,
    invoke,
    served_predictions,
    split_payload,
    tracking,
)

pytestmark = pytest.mark.slow

# Run by a venv's python: what it can import, and (with a model) what the model answers.
PROBE_SCRIPT = """\
import importlib.util, json, sys
names = sys.argv[2].split(",")
report = {name: importlib.util.find_spec(name) is not None for name in names}
if len(sys.argv) > 3:
    import mlflow
    import pandas as pd
    model = mlflow.pyfunc.load_model(sys.argv[3])
    sample = pd.read_csv(sys.argv[4])
    report["predictions"] = model.predict(sample).to_dict(orient="list")
    report["strict"] = model.predict(sample, params={"threshold": float(sys.argv[5])}).to_dict(
        orient="list"
    )
    module = sys.modules["pipelineml.hooks.model._kedro_pipeline_model"]
    report["kedro_pipeline_model_file"] = module.__file__
with open(sys.argv[1], "w", encoding="utf-8") as stream:
    json.dump(report, stream)
"""


def probe(
    python: Path,
    env: Mapping[str, str],
    workdir: Path,
    names: list[str],
    model: tuple[Path, Path] | None = None,
) -> dict[str, Any]:
    """Run PROBE_SCRIPT with ``python`` from ``workdir``; ``model`` = (model dir, sample csv)."""
    script = workdir / "probe.py"
    script.write_text(PROBE_SCRIPT, encoding="utf-8")
    output = workdir / "probe.json"
    args: list[str | os.PathLike[str]] = [python, script, output, ",".join(names)]
    if model is not None:
        args += [*model, str(STRICT_THRESHOLD)]
    result = run_command(args, env, workdir)
    check_command(result, "the probe script")
    report: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    return report


def test_deploy_tools_cannot_import_pipelineml_kedro_or_the_project(
    deploy_tools: DeployTools, trained_model: TrainedModel, tmp_path: Path
) -> None:
    """The tools venv has mlflow, and none of pipelineml, kedro or the project."""
    env = deploy_tools.environ(tmp_path, trained_model.tracking_uri)

    report = probe(
        deploy_tools.python,
        env,
        tmp_path,
        ["mlflow", "pipelineml", "kedro", trained_model.package_name],
    )

    assert report == {
        "mlflow": True,
        "pipelineml": False,
        "kedro": False,
        trained_model.package_name: False,
    }


def test_requirements_name_only_what_an_index_has(
    trained_model: TrainedModel, tmp_path: Path
) -> None:
    """requirements.txt pins kedro and the nodes' libraries, never pipelineml or the project."""
    import mlflow

    with tracking(trained_model.tracking_uri):
        model_dir = Path(
            mlflow.artifacts.download_artifacts(
                trained_model.model_uri, dst_path=os.fspath(tmp_path)
            )
        )
    lines = (model_dir / "requirements.txt").read_text(encoding="utf-8").splitlines()
    pinned = dict(line.split(";")[0].split("==", 1) for line in lines)

    assert not {"pipelineml-core", "pipelineml-runners", "pipelineml-hooks"} & set(pinned)
    assert not [name for name in pinned if trained_model.package_name in name.replace("-", "_")]
    for name in (
        "kedro",
        "kedro-datasets",
        "scikit-learn",
        "pandas",
        "numpy",
        "cloudpickle",
        "mlflow",
    ):
        assert pinned.get(name) == version(name), (name, lines)
    assert (model_dir / "code" / "pipelineml" / "hooks" / "kedro_pipeline_model.py").is_file()


def test_models_predict_with_uv_scores_like_the_nodes(
    trained_model: TrainedModel, deploy_tools: DeployTools, tmp_path: Path
) -> None:
    """`mlflow models predict --env-manager uv` in the clean PATH equals the nodes' output."""
    sample = tmp_path / "sample.csv"
    trained_model.sample.to_csv(sample, index=False)
    output = tmp_path / "predictions.json"
    env = deploy_tools.environ(tmp_path, trained_model.tracking_uri)

    result = run_command(
        [
            deploy_tools.bin_dir / "mlflow",
            "models",
            "predict",
            "-m",
            trained_model.model_uri,
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
    predictions = json.loads(output.read_text(encoding="utf-8"))["predictions"]
    assert_same_predictions(pd.DataFrame(predictions), trained_model.expected())


@pytest.fixture(scope="module")
def uv_model_server(
    trained_model: TrainedModel,
    deploy_tools: DeployTools,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ModelServer]:
    """`mlflow models serve --env-manager uv` of the model, from the tools' clean PATH."""
    workdir = tmp_path_factory.mktemp("uv-model-server")
    server = start_model_server(
        trained_model.model_uri,
        workdir,
        tracking_uri=trained_model.tracking_uri,
        env=deploy_tools.environ(workdir, trained_model.tracking_uri),
        env_manager="uv",
        mlflow_command=[deploy_tools.bin_dir / "mlflow"],
        timeout=INSTALL_TIMEOUT,
    )
    try:
        yield server
    finally:
        stop_model_server(server)


def test_models_serve_with_uv_answers_split_frames_and_params(
    trained_model: TrainedModel, uv_model_server: ModelServer
) -> None:
    """`/invocations` of the uv-built server: dataframe_split with and without params."""
    split = split_payload(trained_model.sample)

    default = invoke(uv_model_server.url, split)
    strict = invoke(uv_model_server.url, {**split, "params": {"threshold": STRICT_THRESHOLD}})

    assert_same_predictions(served_predictions(default), trained_model.expected())
    assert_same_predictions(served_predictions(strict), trained_model.expected(STRICT_THRESHOLD))


def _uv_environment(server: ModelServer) -> Path:
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    match = re.search(r"(?:Creating a new environment in|Environment) (\S+)", log)
    assert match, log[-4000:]
    return Path(match.group(1))


def _frozen(python: Path, env: Mapping[str, str], cwd: Path) -> dict[str, str]:
    result = run_command([uv_executable(), "pip", "freeze", "--python", python], env, cwd)
    check_command(result, "uv pip freeze")
    pairs = (line.split("==", 1) for line in result.stdout.splitlines() if "==" in line)
    return {name.lower(): value for name, value in pairs}


def _requirements(model_dir: Path) -> dict[str, str]:
    lines = (model_dir / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split(";")[0].strip().split("==", 1) for line in lines)


@dataclass(frozen=True)
class DockerLike:
    """A model installed the way the image of `mlflow models generate-dockerfile` does it."""

    dockerfile: str
    model_dir: Path
    python: Path
    env: dict[str, str]
    before: dict[str, Any]
    after: dict[str, Any]


@pytest.fixture(scope="module")
def docker_like(
    trained_model: TrainedModel,
    deploy_tools: DeployTools,
    tmp_path_factory: pytest.TempPathFactory,
) -> DockerLike:
    """The Dockerfile's steps outside Docker (no Docker engine runs here).

    `generate-dockerfile` writes the Dockerfile and the model folder; a bare venv gets the
    Dockerfile's `pip install mlflow==...`; the model goes to `<root>/opt/ml/model`; then the
    Dockerfile's own install command (MLflow's container code, `env_manager='local'`) runs
    from `<root>/opt/mlflow`, its WORKDIR; the model is loaded and scored from there.
    """
    root = tmp_path_factory.mktemp("docker-like")
    out = root / "dockerfile"
    env = deploy_tools.environ(root, trained_model.tracking_uri)
    check_command(
        run_command(
            [
                deploy_tools.bin_dir / "mlflow",
                "models",
                "generate-dockerfile",
                "-m",
                trained_model.model_uri,
                "-d",
                out,
            ],
            env,
            root,
        ),
        "mlflow models generate-dockerfile",
    )
    dockerfile = (out / "Dockerfile").read_text(encoding="utf-8")
    copied = re.search(r"^COPY (model_dir\S*) /opt/ml/model$", dockerfile, re.MULTILINE)
    mlflow_pin = re.search(r"^RUN pip install (mlflow==\S+)$", dockerfile, re.MULTILINE)
    install = re.search(r'^RUN python -c "(.*_install_pyfunc_deps.*)"$', dockerfile, re.MULTILINE)
    assert copied, dockerfile
    assert mlflow_pin, dockerfile
    assert install, dockerfile

    python = make_bare_venv(root / "image", mlflow_pin.group(1))
    image_env = deploy_environ(python.parent, root, MLFLOW_DISABLE_ENV_CREATION="True")
    model_dir = root / "opt" / "ml" / "model"
    shutil.copytree(out / copied.group(1), model_dir)
    workdir = root / "opt" / "mlflow"
    workdir.mkdir(parents=True)
    sample = root / "sample.csv"
    trained_model.sample.to_csv(sample, index=False)
    names = ["pipelineml", "kedro", trained_model.package_name]

    before = probe(python, image_env, workdir, names)
    command = install.group(1).replace("/opt/ml/model", model_dir.as_posix())
    check_command(
        run_command([python, "-c", command], image_env, workdir), "the Dockerfile's install step"
    )
    after = probe(python, image_env, workdir, names, model=(model_dir, sample))
    return DockerLike(dockerfile, model_dir, python, image_env, before, after)


def test_image_has_neither_pipelineml_nor_the_project_before_the_install(
    docker_like: DockerLike, trained_model: TrainedModel
) -> None:
    """Before the model's dependencies: only mlflow; after: kedro, never the project."""
    assert docker_like.before == {
        "pipelineml": False,
        "kedro": False,
        trained_model.package_name: False,
    }
    assert docker_like.after["kedro"] is True
    assert docker_like.after[trained_model.package_name] is False


def test_image_scores_like_the_nodes_with_the_models_own_pipelineml(
    docker_like: DockerLike, trained_model: TrainedModel
) -> None:
    """load_model + predict in the image equal the nodes; pipelineml runs from code/."""
    assert_same_predictions(
        pd.DataFrame(docker_like.after["predictions"]), trained_model.expected()
    )
    assert_same_predictions(
        pd.DataFrame(docker_like.after["strict"]), trained_model.expected(STRICT_THRESHOLD)
    )
    code_file = Path(docker_like.after["kedro_pipeline_model_file"])
    assert code_file.is_relative_to(docker_like.model_dir / "code" / "pipelineml")


def test_virtualenv_manager_would_install_what_uv_resolved(
    docker_like: DockerLike, uv_model_server: ModelServer, tmp_path: Path
) -> None:
    """virtualenv (pip on python_env.yaml) and uv end with the same pinned versions.

    MLflow's virtualenv manager needs pyenv to download a Python, which this machine cannot
    reach; it installs ``python_env.yaml``'s dependencies with pip, which is what the image's
    install step did. The uv-built environment of the server holds the same versions.
    """
    from mlflow.utils.environment import _PythonEnv

    python_env = _PythonEnv.from_yaml(os.fspath(docker_like.model_dir / "python_env.yaml"))
    pinned = _requirements(docker_like.model_dir)
    by_uv = _frozen(_uv_environment(uv_model_server) / "bin" / "python", docker_like.env, tmp_path)
    by_pip = _frozen(docker_like.python, docker_like.env, tmp_path)

    assert python_env.dependencies == ["-r requirements.txt"]
    assert python_env.python == ".".join(map(str, sys.version_info[:3]))
    assert {name: by_uv.get(name) for name in pinned} == pinned
    assert {name: by_pip.get(name) for name in pinned} == pinned


# --- a distribution installed from a local path, in a real `kedro run` -----------------


def test_kedro_run_refuses_a_model_that_needs_a_locally_installed_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node imports a library pip installed from a folder: exit 1, named, run FAILED."""
    from mlflow.tracking import MlflowClient

    from tests._support.kedro_project import run_kedro_cli
    from tests._support.local_distribution import DISTRIBUTION, MODULE, install_local_distribution
    from tests._support.mlflow_store import sqlite_uri
    from tests._support.run_project import NODES_PY, make_run_project

    site = install_local_distribution(tmp_path / "helper")
    nodes_py = NODES_PY.replace(
        "import pandas as pd\n", f"import pandas as pd\nimport {MODULE}\n", 1
    ).replace(
        'score = (instances["x"] - scaler + model["offset"]).astype(float)',
        f'score = {MODULE}.shift(instances["x"], model["offset"] - scaler).astype(float)',
    )
    assert MODULE in nodes_py.split("def predict", 1)[1]
    root = make_run_project(tmp_path / "project", log_model_kwargs={})
    (next((root / "src").glob("*/nodes.py"))).write_text(nodes_py, encoding="utf-8")
    tracking_uri = sqlite_uri(tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.setenv("PYTHONPATH", os.fspath(site))

    completed = run_kedro_cli(root, "run")

    output = f"{completed.stdout}\n{completed.stderr}"
    assert completed.returncode == 1, output
    assert f"  - {DISTRIBUTION}: installed from file://" in output
    assert '"code_paths"' in output
    assert "Traceback" not in output
    client = MlflowClient(tracking_uri=tracking_uri)
    (run,) = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], max_results=5
    )
    assert run.info.status == "FAILED"
    assert DISTRIBUTION in run.data.tags["pipelineml.model_not_logged"]
