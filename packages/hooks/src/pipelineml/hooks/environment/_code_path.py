"""Where processes started after a model loads find pipelineml.

MLflow puts a model's ``code/`` folder first on ``sys.path`` when it loads the model, and
leaves it there. Processes this one starts afterwards with ``spawn`` (a Dask
``LocalCluster``'s workers, ``multiprocessing``, joblib's loky) copy ``sys.path``, so they
would import pipelineml from that folder, even when this process runs an installed copy of
another version: a client and its workers would then run different code.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

_MODEL_FILE = "MLmodel"


def model_code_folder(artifact_paths: Iterable[str]) -> Path | None:
    """The ``code/`` folder of the model whose artifacts are at ``artifact_paths``."""
    for path in artifact_paths:
        for folder in Path(path).resolve().parents:
            if (folder / _MODEL_FILE).is_file():
                code = folder / "code"
                return code if (code / "pipelineml").is_dir() else None
    return None


def follow_the_running_copy(code_folder: Path | None, running_file: str) -> None:
    """Move ``code_folder`` to the end of ``sys.path`` unless pipelineml runs from it.

    Args:
        code_folder: The loaded model's ``code/`` folder.
        running_file: The file of a pipelineml module this process imported.
    """
    if code_folder is None or Path(running_file).resolve().is_relative_to(code_folder):
        return
    entries = [entry for entry in sys.path if _same(entry, code_folder)]
    if not entries:
        return
    # The user's own code_paths modules stay importable, after what is installed.
    sys.path[:] = [entry for entry in sys.path if not _same(entry, code_folder)] + entries


def _same(entry: str, folder: Path) -> bool:
    try:
        return Path(entry).resolve() == folder
    except OSError:
        return False
