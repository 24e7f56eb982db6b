"""Every MLflow internal pipelineml calls or replaces while it logs a model.

MLflow has no public hook for a requirement policy of our own, nor for serving its module
capture from an interpreter started early, so pipelineml replaces two MLflow functions for
the logging thread only (``ThreadPatch``), seeds one private map and calls private
functions. They are all here, and each is checked before use: where one is missing (another
MLflow version), the callers fall back to MLflow's own behaviour.

- ``mlflow.models.infer_pip_requirements``: replaced by ``RequirementPolicy.infer``;
- ``requirements_utils._run_command``: replaced by ``RequirementsHelper`` for the one
  capture command it was started for;
- ``requirements_utils._MODULES_TO_PACKAGES``: built by MLflow's own initialiser, from the
  helper's scan;
- ``requirements_utils._capture_imported_modules``, ``_init_modules_to_packages_map`` and
  ``mlflow/utils/_capture_modules.py``: called as MLflow calls them.
"""

from __future__ import annotations

import os
from typing import Any

from pipelineml.hooks._thread_patch import ThreadPatch


def policy_internals() -> Any:
    """MLflow's requirements module, if it has the pieces ``RequirementPolicy.infer`` uses."""
    try:
        from mlflow.utils import requirements_utils
    except ImportError:  # pragma: no cover
        return None
    if not all(
        callable(getattr(requirements_utils, name, None))
        for name in ("_init_modules_to_packages_map", "_capture_imported_modules")
    ) or not hasattr(requirements_utils, "_MODULES_TO_PACKAGES"):
        return None
    return requirements_utils


def helper_internals() -> tuple[Any, Any] | None:
    """MLflow's requirements and capture modules, if they have what ``RequirementsHelper`` uses."""
    try:
        from mlflow.utils import _capture_modules, requirements_utils
        from mlflow.utils.databricks_utils import is_in_databricks_runtime
    except ImportError:
        return None
    metadata = getattr(requirements_utils, "importlib_metadata", None)
    if (
        is_in_databricks_runtime()  # type: ignore[no-untyped-call]  # MLflow has no hints
        or not callable(getattr(_capture_modules, "main", None))
        or not callable(getattr(requirements_utils, "_run_command", None))
        or not callable(getattr(requirements_utils, "_init_modules_to_packages_map", None))
        or not hasattr(requirements_utils, "_MODULES_TO_PACKAGES")
        or not callable(getattr(metadata, "packages_distributions", None))
    ):
        return None
    return requirements_utils, _capture_modules


def capture_environment() -> dict[str, str]:
    """The environment MLflow gives its capture subprocess, as of now."""
    from mlflow.environment_variables import _MLFLOW_IN_CAPTURE_MODULE_PROCESS

    environ = os.environ.copy()
    environ["PATH"] = "/usr/sbin:/sbin:" + environ.get("PATH", "")
    environ.pop("PYSPARK_GATEWAY_PORT", None)
    environ.pop("PYSPARK_GATEWAY_SECRET", None)
    environ[_MLFLOW_IN_CAPTURE_MODULE_PROCESS.name] = "true"
    return environ


def seed_modules_map(requirements_utils: Any, scan: dict[str, Any]) -> None:
    """Build MLflow's module-to-distribution map from ``scan``, not from a new scan."""
    if requirements_utils._MODULES_TO_PACKAGES is not None:
        return
    metadata = requirements_utils.importlib_metadata
    original = metadata.packages_distributions
    # MLflow's initialiser adds its own entries to the scan: let it run on ours.
    metadata.packages_distributions = lambda: scan
    try:
        requirements_utils._init_modules_to_packages_map()
    finally:
        metadata.packages_distributions = original


_patches: dict[int, ThreadPatch] = {}


def run_command_patch(requirements_utils: Any) -> ThreadPatch:
    """The one patch of ``requirements_utils._run_command`` this process uses."""
    return _patches.setdefault(
        id(requirements_utils), ThreadPatch(requirements_utils, "_run_command")
    )


_infer_patch: list[ThreadPatch] = []


def infer_requirements_patch() -> ThreadPatch:
    """The one patch of ``mlflow.models.infer_pip_requirements`` this process uses."""
    import mlflow.models

    if not _infer_patch:
        _infer_patch.append(ThreadPatch(mlflow.models, "infer_pip_requirements"))
    return _infer_patch[0]
