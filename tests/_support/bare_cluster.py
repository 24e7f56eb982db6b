"""A Dask cluster whose processes have third-party libraries only: no pipelineml."""

from __future__ import annotations

import os
import subprocess
from importlib.metadata import version
from pathlib import Path

from tests._support.deploy import make_bare_venv
from tests._support.servers import DaskCluster, start_dask_cluster

__all__ = ["start_bare_cluster"]


def start_bare_cluster(root: Path, *libraries: str, n_workers: int = 2) -> DaskCluster:
    """`dask scheduler` and workers from a uv venv of ``libraries`` at this venv's versions.

    Fails unless pipelineml really cannot be imported there (nothing on ``PYTHONPATH``).
    """
    python = make_bare_venv(root / "venv", *(f"{name}=={version(name)}" for name in libraries))
    found = subprocess.run(
        [python, "-c", "import importlib.util as u; print(u.find_spec('pipelineml'))"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
        check=True,
    )
    assert found.stdout.strip() == "None", "the bare venv can import pipelineml"
    return start_dask_cluster(
        root / "cluster", n_workers=n_workers, python=python, env={"PYTHONPATH": ""}
    )
