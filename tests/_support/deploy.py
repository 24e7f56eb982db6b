"""Deployments as MLflow makes them: a venv with only mlflow and uv, a bare PATH, no Kedro.

``deploy_tools`` (a session fixture; import it into a ``conftest.py``) is such a venv; its
``environ`` gives a deployment command's environment: ``PATH`` reduced to those tools, the
machine's bare CPython and ``/usr/bin:/bin``, no ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from tests._support.process import QUIET_ENV
from tests._support.trained_project import INHERITED_VARIABLES

__all__ = [
    "INSTALL_TIMEOUT",
    "DeployTools",
    "base_python",
    "check_command",
    "deploy_environ",
    "deploy_tools",
    "make_bare_venv",
    "run_command",
    "uv_executable",
]

# Building an environment from an index takes a minute or two on 2 cores, more when the
# package cache is cold (a fresh CI machine).
INSTALL_TIMEOUT = 1200


def uv_executable() -> str:
    found = shutil.which("uv", path=os.fspath(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        pytest.fail("uv is not installed in the test environment (noxfile TEST_DEPS has it)")
    return found


def base_python() -> Path:
    """The CPython this test venv was made from: no pipelineml, no Kedro, no MLflow."""
    info = sys.version_info
    return Path(sys.base_prefix) / "bin" / f"python{info.major}.{info.minor}"


def run_command(
    args: list[str | os.PathLike[str]], env: Mapping[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [os.fspath(arg) for arg in args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )


def check_command(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert result.returncode == 0, (
        f"{what} failed ({result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-8000:]}"
    )


def make_bare_venv(where: Path, *requirements: str) -> Path:
    """A venv of the bare CPython with pip and only ``requirements``; returns its python."""
    uv = uv_executable()
    env = deploy_environ(where.parent / "no-such-bin", where.parent)
    check_command(
        run_command([uv, "venv", "--seed", "--python", base_python(), where], env, where.parent),
        "uv venv",
    )
    python = where / "bin" / "python"
    if requirements:
        check_command(
            run_command(
                [uv, "pip", "install", "--python", python, *requirements], env, where.parent
            ),
            f"installing {requirements}",
        )
    return python


def deploy_environ(bin_dir: Path, workdir: Path, **extra: str) -> dict[str, str]:
    """``os.environ`` without Python-path variables, ``PATH`` = ``bin_dir:/usr/bin:/bin``.

    The machine's network settings (proxies, certificates) stay: a deployment has its own.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", *INHERITED_VARIABLES}
    }
    env.update(QUIET_ENV)
    env["PATH"] = os.pathsep.join([os.fspath(bin_dir), "/usr/bin", "/bin"])
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env["TMPDIR"] = os.fspath(tmp)
    env.update(extra)
    return env


@dataclass(frozen=True)
class DeployTools:
    """A venv with only mlflow and uv, and a folder holding just their executables."""

    python: Path
    bin_dir: Path
    env_root: Path

    def environ(self, workdir: Path, tracking_uri: str) -> dict[str, str]:
        """The environment of a deployment command run from ``workdir``."""
        return deploy_environ(
            self.bin_dir,
            workdir,
            MLFLOW_TRACKING_URI=tracking_uri,
            MLFLOW_ENV_ROOT=os.fspath(self.env_root),
        )


@pytest.fixture(scope="session")
def deploy_tools(tmp_path_factory: pytest.TempPathFactory) -> DeployTools:
    """``mlflow`` and ``uv`` of a venv where nothing else was asked for."""
    root = tmp_path_factory.mktemp("deploy-tools")
    python = make_bare_venv(root / "venv", f"mlflow=={version('mlflow')}", f"uv=={version('uv')}")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name in ("mlflow", "uv"):
        (bin_dir / name).symlink_to(python.parent / name)
    (bin_dir / base_python().name).symlink_to(base_python())
    return DeployTools(python=python, bin_dir=bin_dir, env_root=root / "mlflow-envs")
