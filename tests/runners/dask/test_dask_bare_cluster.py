"""DaskRunner on a `dask scheduler` + `dask worker` whose venv has no pipelineml at all.

The venv holds only third-party libraries (pinned to this test venv's versions): the
runner sends pipelineml's own code and the project's package, and a library the cluster
lacks is named, with the `pip install` line, before any node runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="needs the [dask] extra of pipelineml-runners")

from tests._support.bare_cluster import start_bare_cluster
from tests._support.kedro_project import (
    PIPELINEML_INFO_LOGGING,
    make_kedro_project,
    run_kedro_cli,
)
from tests._support.servers import (
    DaskCluster,
    stop_dask_cluster,
)
from tests.runners.dask.test_dask_upload import REGISTRY_PY

pytestmark = [pytest.mark.slow, pytest.mark.dask]

# What pipelineml-runners[dask] declares (kedro brings fsspec), and no more.
RUNNER_LIBRARIES = ("distributed", "dask", "kedro", "cloudpickle", "cryptography", "fsspec")
# The client compresses with lz4 when it has it; distributed warns when the cluster lacks it.
COMPRESSION = ("lz4",)
# What the project's nodes import and its catalog's JSONDataset needs.
PROJECT_LIBRARIES = ("pandas", "kedro-datasets")

NODES_PY = """\
import os

import pandas as pd


def make():
    return list(range(5))


def scale(xs):
    return [x * 2 for x in xs]


def summarise(xs):
    import pipelineml.runners

    return {
        "total": int(pd.Series(xs).sum()),
        "pid": os.getpid(),
        "pipelineml": list(pipelineml.runners.__path__)[0],
    }
"""


def _cluster(root: Path, *libraries: str) -> DaskCluster:
    return start_bare_cluster(root, *libraries, *COMPRESSION)


@pytest.fixture(scope="module")
def bare_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """Scheduler and workers from a venv of third-party libraries only (pandas for the nodes)."""
    cluster = _cluster(tmp_path_factory.mktemp("bare"), *RUNNER_LIBRARIES, *PROJECT_LIBRARIES)
    try:
        yield cluster
    finally:
        stop_dask_cluster(cluster)


@pytest.fixture(scope="module")
def no_pandas_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """The same without pandas, which the project's nodes import."""
    cluster = _cluster(tmp_path_factory.mktemp("no-pandas"), *RUNNER_LIBRARIES, "kedro-datasets")
    try:
        yield cluster
    finally:
        stop_dask_cluster(cluster)


def _project(root: Path) -> Path:
    return make_kedro_project(
        root,
        nodes_py=NODES_PY,
        pipeline_registry_py=REGISTRY_PY,
        catalog={
            "summary": {"type": "json.JSONDataset", "filepath": "data/08_reporting/summary.json"}
        },
        extra_files={"conf/logging.yml": PIPELINEML_INFO_LOGGING},
    )


def _run(project: Path, cluster: DaskCluster, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.address)
    monkeypatch.setenv("COLUMNS", "200")  # Kedro's rich handler wraps to the terminal width
    done = run_kedro_cli(project, "run", "--runner=pipelineml.runners.DaskRunner")
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def test_a_cluster_without_pipelineml_runs_the_pipeline(
    bare_cluster: DaskCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pipelineml's code reaches the workers as a zip; the nodes run there."""
    project = _project(tmp_path / "project")
    code, output = _run(project, bare_cluster, monkeypatch)
    assert code == 0, output
    summary = json.loads((project / "data" / "08_reporting" / "summary.json").read_text())
    assert summary["total"] == 20
    shipped = Path(summary["pipelineml"])
    assert shipped.parts[-3].startswith("pipelineml-")
    assert shipped.parts[-3].endswith(".zip")
    assert str(bare_cluster.log_dir) in summary["pipelineml"]  # the worker's directory
    assert "Sent pipelineml's code to the Dask cluster" in output
    assert "Pipeline execution completed successfully in" in output
    # A second run on the same workers finds the code there and sends nothing.
    code, output = _run(project, bare_cluster, monkeypatch)
    assert code == 0, output
    assert "Sent pipelineml's code" not in output


def test_a_library_the_nodes_import_is_named_before_any_node(
    no_pandas_cluster: DaskCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers without pandas: the run stops first, naming pandas and what to install."""
    project = _project(tmp_path / "project")
    code, output = _run(project, no_pandas_cluster, monkeypatch)
    assert code != 0
    assert "ProjectUploadError" in output
    assert "No module named 'pandas'" in output
    assert f"pip install pandas=={version('pandas')}" in output
    assert "Running node" not in output
    assert "ModuleNotFoundError" not in output.replace("ModuleNotFoundError:", "")
    assert not (project / "data" / "08_reporting" / "summary.json").exists()


def test_a_library_pipelineml_needs_is_named_before_any_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cluster without cryptography: named for the workers and the scheduler, with a pin."""
    libraries = [name for name in RUNNER_LIBRARIES if name != "cryptography"]
    cluster = _cluster(tmp_path / "no-cryptography", *libraries, *PROJECT_LIBRARIES)
    try:
        project = _project(tmp_path / "project")
        code, output = _run(project, cluster, monkeypatch)
    finally:
        stop_dask_cluster(cluster)
    assert code != 0
    assert "The Dask cluster lacks libraries pipelineml needs" in output
    assert "the scheduler lacks cryptography" in output
    assert output.count("lacks cryptography") == 3  # the scheduler and both workers
    assert f"pip install cryptography=={version('cryptography')}" in output
    assert "Running node" not in output
