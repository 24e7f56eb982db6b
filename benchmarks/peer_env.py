"""Create (or reuse) the kedro-mlflow environment, pinned to what ours resolved.

Run by ``nox -s bench`` with our environment's interpreter::

    python benchmarks/peer_env.py .nox/bench-peer

Every package both sides share (Kedro, MLflow and its serving stack, scikit-learn, pandas,
numpy...) is pinned to the version installed here, read with ``importlib.metadata``, so the
only difference between the environments is the plugin. The folder is reused while its
pins are unchanged.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from _common import log

PEER = "kedro-mlflow==2.0.3"
# Installed with the extras our example project uses.
KEDRO_DATASETS_EXTRAS = "pandas-csvdataset,pickle-pickledataset"
SHARED = (
    "kedro",
    "mlflow",
    "mlflow-skinny",
    "mlflow-tracing",
    "scikit-learn",
    "scipy",
    "pandas",
    "numpy",
    "cloudpickle",
    "pydantic",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "fsspec",
)


def requirements() -> list[str]:
    """kedro-mlflow plus every shared distribution pinned to our version."""
    pins = [PEER]
    for name in SHARED:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    datasets = metadata.version("kedro-datasets")
    pins.append(f"kedro-datasets[{KEDRO_DATASETS_EXTRAS}]=={datasets}")
    return pins


def ensure(folder: Path) -> Path:
    """The peer interpreter in ``folder``, (re)built when the pins changed."""
    wanted = "\n".join(requirements()) + "\n"
    marker = folder / "bench-requirements.txt"
    python = folder / "bin" / "python"
    if python.exists() and marker.exists() and marker.read_text(encoding="utf-8") == wanted:
        log(f"peer environment {folder} is up to date")
        return python
    log(f"creating the peer environment in {folder}:\n{wanted}")
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *wanted.split()],
        check=True,
    )
    marker.write_text(wanted, encoding="utf-8")
    return python


if __name__ == "__main__":
    print(ensure(Path(sys.argv[1]).absolute()))
