"""pipelineml's own code, copied into a model (MLflow's ``code_paths``)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from pipelineml.hooks.errors import KedroPipelineModelError

PIPELINEML_PACKAGES = ("core", "runners", "hooks")
_BUNDLE_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def bundle_pipelineml(folder: Path) -> Path:
    """Copy pipelineml's packages, as this process imported them, into ``folder/pipelineml``.

    The copy is made from the files Python imports (an editable checkout's sources, or an
    installed wheel's), so the model carries exactly the code that logged it.

    Returns:
        The ``pipelineml`` folder, for MLflow's ``code_paths``.
    """
    target = folder / "pipelineml"
    for name in PIPELINEML_PACKAGES:
        spec = importlib.util.find_spec(f"pipelineml.{name}")
        locations = list(spec.submodule_search_locations or []) if spec else []
        if not locations:
            raise KedroPipelineModelError(
                f"pipelineml.{name} is not importable here, so its code cannot be put in the "
                "model; install pipelineml-core, pipelineml-runners and pipelineml-hooks."
            )
        shutil.copytree(locations[0], target / name, ignore=_BUNDLE_IGNORE)
    return target


def code_path_modules(code_paths: Iterable[str | os.PathLike[str]]) -> set[str]:
    """Top-level modules that ``code_paths`` entries make importable from the model."""
    modules = set()
    for entry in code_paths:
        path = Path(entry)
        modules.add(path.stem if path.suffix == ".py" else path.name)
    return modules
