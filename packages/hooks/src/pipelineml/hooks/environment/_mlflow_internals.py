"""Every MLflow internal pipelineml uses, in one place: nothing of MLflow's is replaced.

* ``mlflow/utils/_capture_modules.py``: the script MLflow's requirement inference runs in
  a new interpreter to record what a model imports when it loads. ``ModuleCapture`` runs
  it the same way, with the same arguments and environment, in an interpreter started
  early (``_capture``); where the script is missing (another MLflow version), models get
  their requirements from MLflow's public ``mlflow.models.infer_pip_requirements``.
* ``mlflow.environment_variables._MLFLOW_IN_CAPTURE_MODULE_PROCESS``: the variable that
  tells the capture interpreter what it is;
* ``_skip_type_hint_validation``: the flag MLflow's own model classes set so that
  ``PythonModel`` does not wrap ``predict`` with type-hint validation;
* ``mlflow.tracking._tracking_service.utils._tracking_uri`` and
  ``mlflow.tracking._model_registry.utils._registry_uri``: whether a URI was set in this
  process (``None`` when not), which ``mlflow.get_*_uri`` hide behind their defaults, so
  that a URI changed for a while is put back exactly, "unset" included.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def capture_script() -> str | None:
    """The path of MLflow's module-capture script, if this MLflow has one we can run."""
    try:
        from mlflow.utils import _capture_modules
    except ImportError:
        return None
    if not callable(getattr(_capture_modules, "main", None)):
        return None
    return str(_capture_modules.__file__)


# Run by the waiting interpreter ``ModuleCapture`` starts: it imports the capture script
# (and with it MLflow) and scans the installed distributions while the run trains; one
# line of stdin then carries the script's arguments (or nothing: not needed, exit).
CAPTURE_SERVER = """\
import json, os, sys
sys.path[:] = json.loads(sys.argv[1])
from mlflow.utils import _capture_modules
import importlib.metadata
try:
    scan = importlib.metadata.packages_distributions()
except Exception:
    scan = None
sys.stdout.write(json.dumps(scan) + "\\n")
sys.stdout.flush()
request = sys.stdin.readline()
if not request:
    sys.exit(0)
request = json.loads(request)
os.environ.clear()
os.environ.update(request["env"])
os.chdir(request["cwd"])
sys.argv = [_capture_modules.__file__, *request["args"]]
_capture_modules.main()
"""


def capture_arguments(model_path: str, output_file: str, error_file: str) -> list[str]:
    """The arguments MLflow's inference gives the capture script for a pyfunc model."""
    return [
        "--model-path",
        model_path,
        "--flavor",
        "python_function",
        "--output-file",
        output_file,
        "--error-file",
        error_file,
        "--sys-path",
        json.dumps(sys.path),
    ]


def capture_environment() -> dict[str, str]:
    """The environment MLflow's inference gives its capture interpreter, as of now."""
    environ = os.environ.copy()
    environ["PATH"] = "/usr/sbin:/sbin:" + environ.get("PATH", "")
    # Never connect the capture to a PySpark gateway of this process (MLflow does the same).
    environ.pop("PYSPARK_GATEWAY_PORT", None)
    environ.pop("PYSPARK_GATEWAY_SECRET", None)
    # What MLflow's capture interpreter is told: some flavors check it while loading.
    from mlflow.environment_variables import _MLFLOW_IN_CAPTURE_MODULE_PROCESS

    environ[_MLFLOW_IN_CAPTURE_MODULE_PROCESS.name] = "true"
    return environ


class UnvalidatedPredict:
    """A ``PythonModel`` base whose ``predict`` MLflow does not wrap with type-hint checks.

    MLflow reads the flag when the subclass is created (``PythonModel.__init_subclass__``);
    its own model classes set it the same way.
    """

    _skip_type_hint_validation: Any = True


def uris_set_in_process() -> tuple[str | None, str | None]:
    """The tracking and registry URIs set with ``mlflow.set_*_uri`` in this process, each
    ``None`` when unset (MLflow then reads its environment variable, or its default).

    Where MLflow keeps them elsewhere (another version), the current URIs: putting them
    back then pins MLflow to what it used, as before.
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    missing = object()
    tracking = getattr(tracking_utils, "_tracking_uri", missing)
    registry = getattr(registry_utils, "_registry_uri", missing)
    return (
        mlflow.get_tracking_uri() if tracking is missing else _optional_str(tracking),
        mlflow.get_registry_uri() if registry is missing else _optional_str(registry),
    )


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)
