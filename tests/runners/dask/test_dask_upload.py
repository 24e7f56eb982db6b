"""`kedro run` with DaskRunner on external workers that do not have the project installed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="needs the [dask] extra of pipelineml-runners")

from tests._support.kedro_project import (
    PIPELINEML_INFO_LOGGING,
    make_kedro_project,
    run_kedro_cli,
)
from tests._support.servers import (
    DaskCluster,
    start_dask_cluster,
    stop_dask_cluster,
)

pytestmark = [pytest.mark.slow, pytest.mark.dask]

NODES_PY = """\
import os
import sys

FACTOR = {factor}


def make():
    return list(range(5))


def scale(xs):
    return [x * FACTOR for x in xs]


def summarise(xs):
    package = sys.modules[__name__.rpartition(".")[0]]
    return {{"total": sum(xs), "pid": os.getpid(), "origin": package.__file__}}
"""

REGISTRY_PY = """\
from kedro.pipeline import Pipeline, node

from .nodes import make, scale, summarise


def register_pipelines():
    pipeline = Pipeline(
        [
            node(make, None, "numbers", name="make"),
            node(scale, "numbers", "scaled", name="scale"),
            node(summarise, "scaled", "summary", name="summarise"),
        ]
    )
    return {"__default__": pipeline}
"""


@pytest.fixture(scope="module")
def bare_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """`dask scheduler` + 2 `dask worker`s started where no Kedro project is importable."""
    cluster = start_dask_cluster(
        tmp_path_factory.mktemp("bare-workers"), n_workers=2, env={"PYTHONPATH": ""}
    )
    try:
        yield cluster
    finally:
        stop_dask_cluster(cluster)


def _project(root: Path, factor: int, extra_nodes: str = "") -> Path:
    return make_kedro_project(
        root,
        nodes_py=extra_nodes + NODES_PY.format(factor=factor),
        pipeline_registry_py=REGISTRY_PY,
        catalog={
            "summary": {"type": "json.JSONDataset", "filepath": "data/08_reporting/summary.json"}
        },
        # The upload and progress lines are pipelineml's INFO, shown as the docs say.
        extra_files={"conf/logging.yml": PIPELINEML_INFO_LOGGING},
    )


def _kedro_run(project: Path, cluster: DaskCluster, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.address)
    monkeypatch.setenv("COLUMNS", "200")  # Kedro's rich handler wraps to the terminal width
    done = run_kedro_cli(project, "run", "--runner=pipelineml.runners.DaskRunner")
    assert done.returncode == 0, done.stdout + done.stderr
    return " ".join((done.stdout + done.stderr).split())


def test_workers_without_the_project_run_its_nodes(
    bare_workers: DaskCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner sends the project package to the workers, which import it from the upload."""
    project = _project(tmp_path / "project", factor=2)
    package = next(p.name for p in (project / "src").iterdir() if p.is_dir())
    output = _kedro_run(project, bare_workers, monkeypatch)
    summary = json.loads((project / "data" / "08_reporting" / "summary.json").read_text())
    assert summary["total"] == 20
    origin = Path(summary["origin"])
    assert origin.parts[-2] == package
    assert origin.parts[-3].startswith(f"{package}-")
    assert origin.parts[-3].endswith(".zip")
    assert str(bare_workers.log_dir) in summary["origin"]  # the workers' local directory
    assert f"Sent the Kedro project package '{package}' to the Dask workers" in output
    assert "Completed 3 out of 3 tasks" in output
    assert "Pipeline execution completed successfully in" in output


def test_changed_project_code_replaces_the_earlier_upload(
    bare_workers: DaskCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second run after editing nodes.py runs the new code on the same workers."""
    project = _project(tmp_path / "project", factor=2)
    _kedro_run(project, bare_workers, monkeypatch)
    summary_path = project / "data" / "08_reporting" / "summary.json"
    assert json.loads(summary_path.read_text())["total"] == 20
    package_dir = next(p for p in (project / "src").iterdir() if p.is_dir())
    nodes = package_dir / "nodes.py"
    nodes.write_text(nodes.read_text().replace("FACTOR = 2", "FACTOR = 3"))
    _kedro_run(project, bare_workers, monkeypatch)
    assert json.loads(summary_path.read_text())["total"] == 30


def test_a_dependency_missing_on_the_workers_is_named(
    bare_workers: DaskCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module only the client can import fails the run with its name and what to do."""
    helpers = tmp_path / "client_only"
    helpers.mkdir()
    (helpers / "client_only_helpers.py").write_text("OFFSET = 0\n")
    project = _project(
        tmp_path / "project", factor=2, extra_nodes="import client_only_helpers  # noqa\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(helpers))
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", bare_workers.address)
    done = run_kedro_cli(project, "run", "--runner=pipelineml.runners.DaskRunner")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "No module named 'client_only_helpers'" in output
    assert "every other module a node uses must be installed in the workers' environment" in (
        " ".join(output.split())
    )
    assert not (project / "data" / "08_reporting" / "summary.json").exists()


def test_a_package_the_workers_cannot_import_fails_naming_it(
    bare_workers: DaskCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the uploaded package's own import fails on the workers, the run fails first."""
    helpers = tmp_path / "client_only"
    helpers.mkdir()
    (helpers / "client_only_settings.py").write_text("VALUE = 1\n")
    project = _project(tmp_path / "project", factor=2)
    package_dir = next(p for p in (project / "src").iterdir() if p.is_dir())
    init = package_dir / "__init__.py"
    init.write_text(init.read_text() + "import client_only_settings  # noqa\n")
    monkeypatch.setenv("PYTHONPATH", str(helpers))
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", bare_workers.address)
    monkeypatch.setenv("COLUMNS", "200")
    done = run_kedro_cli(project, "run", "--runner=pipelineml.runners.DaskRunner")
    assert done.returncode != 0
    output = " ".join((done.stdout + done.stderr).split())
    assert "ProjectUploadError" in output
    assert f"DaskRunner sent the Kedro project package '{package_dir.name}'" in output
    assert "No module named 'client_only_settings'" in output
    assert not (project / "data" / "08_reporting" / "summary.json").exists()
    assert "Running node" not in output  # it failed before the first node
