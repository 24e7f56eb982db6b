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


def bundle_modules(folder: Path, modules: Iterable[str]) -> list[Path]:
    """Copy the source of each top-level module (a package folder, or a ``.py`` file) into
    ``folder``, for MLflow's ``code_paths``: the project's own code, shipped as source.

    Raises:
        KedroPipelineModelError: When a module's source is not a folder or file here.
    """
    copied = []
    # copytree makes its own folders, but a module that is one file is copied into this
    # folder, which must exist first.
    folder.mkdir(parents=True, exist_ok=True)
    for module in sorted(set(modules)):
        spec = importlib.util.find_spec(module)
        locations = list(spec.submodule_search_locations or []) if spec else []
        if len(locations) == 1:
            copied.append(
                Path(shutil.copytree(locations[0], folder / module, ignore=_BUNDLE_IGNORE))
            )
        elif spec is not None and spec.origin and spec.origin.endswith(".py"):
            copied.append(Path(shutil.copy2(spec.origin, folder / f"{module}.py")))
        else:
            raise KedroPipelineModelError(
                f"The source of module {module!r}, which inference nodes use, is not one "
                "folder or file on this machine, so it cannot travel in the model; install "
                "it from a package index where the model is deployed, or add its folder to "
                "log_model_kwargs 'code_paths'."
            )
    return copied


def code_path_modules(code_paths: Iterable[str | os.PathLike[str]]) -> set[str]:
    """Top-level modules that ``code_paths`` entries make importable from the model."""
    modules = set()
    for entry in code_paths:
        path = Path(entry)
        modules.add(path.stem if path.suffix == ".py" else path.name)
    return modules
