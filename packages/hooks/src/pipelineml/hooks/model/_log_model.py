"""``log_pipeline_model``: log an inference pipeline as one MLflow model in one call."""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
from mlflow.models import Model

from pipelineml.core import PipelineML, PipelineMLError
from pipelineml.core._kwargs import normalise_log_model_kwargs
from pipelineml.hooks.environment._code_bundle import (
    bundle_modules,
    bundle_pipelineml,
    code_path_modules,
)
from pipelineml.hooks.environment._code_by_value import (
    bundled_modules,
    by_value_modules,
    code_by_value,
)
from pipelineml.hooks.environment._given_requirements import (
    check_explicit_requirements,
    explicit_requirements,
    infers_requirements,
)
from pipelineml.hooks.environment._requirement_policy import RequirementPolicy
from pipelineml.hooks.errors import KedroPipelineModelError
from pipelineml.hooks.model._from_code import (
    SPEC_ARTIFACT,
    pickled_format_reasons,
    write_model_files,
)
from pipelineml.hooks.model._kedro_pipeline_model import KedroPipelineModel
from pipelineml.hooks.model._signature import infer_model_signature

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from mlflow.models.model import ModelInfo

    from pipelineml.hooks.environment._capture import ModuleCapture

__all__ = ["log_pipeline_model"]

logger = logging.getLogger(__name__)


def _new_logged_model(name: str, run_id: str, logged: dict[str, Any]) -> str:
    # Given only a run id (no active run), MLflow files the LoggedModel under the default
    # experiment; create it in the run's own experiment, as it would for an active run.
    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    params = {key: str(value) for key, value in (logged.pop("params", None) or {}).items()}
    tags = {key: str(value) for key, value in (logged.pop("tags", None) or {}).items()}
    model = mlflow.initialize_logged_model(
        name=name,
        source_run_id=run_id,
        experiment_id=run.info.experiment_id,
        params={**params, **run.data.params},
        tags=tags or None,
        model_type=logged.pop("model_type", None),
    )
    return str(model.model_id)


def log_pipeline_model(
    pipeline: Pipeline,
    catalog: CatalogProtocol[Any, Any],
    *,
    input_name: str | None = None,
    kpm_kwargs: Mapping[str, Any] | None = None,
    **log_model_kwargs: Any,
) -> ModelInfo:
    """Log an inference pipeline and everything it needs as one MLflow model.

    The seed's "log it programmatically" recipe in one call: build the
    ``KedroPipelineModel``, extract its artifacts (parameters pickled to a temporary
    folder), infer the signature, and log, with the project's code inside the model.

    Example:
        ```python
        with mlflow.start_run():
            info = log_pipeline_model(pipeline_ml, catalog, registered_model_name="wine")
        ```

    Args:
        pipeline: A ``PipelineML`` (its ``kpm_kwargs`` and ``log_model_kwargs`` are the
            defaults) or a plain inference ``Pipeline`` with ``input_name``.
        catalog: The catalog training used.
        input_name: Required for a plain Pipeline.
        kpm_kwargs: ``runner`` and ``copy_mode`` for ``KedroPipelineModel``.
        **log_model_kwargs: Passed to MLflow (``name`` defaults to ``"model"``,
            ``signature`` to ``"auto"``, ``run_id`` to the active run, plus
            ``registered_model_name``, ``pip_requirements``, ``input_example``...).

    Returns:
        MLflow's ``ModelInfo`` of the logged model.

    Raises:
        KedroPipelineModelError: When the pipeline cannot be logged; the message names the
            dataset at fault.
    """
    return log_model(
        pipeline,
        catalog,
        input_name=input_name,
        kpm_kwargs=kpm_kwargs,
        log_model_kwargs=log_model_kwargs,
    )


# What the capture interpreter needs of log_model's arguments to load the model as a
# deployment would (the rest, registration and run records, only matter to the logged copy).
_PROBE_KEYS = ("input_example", "model_config", "streamable")


def log_model(
    pipeline: Pipeline,
    catalog: CatalogProtocol[Any, Any],
    *,
    input_name: str | None = None,
    kpm_kwargs: Mapping[str, Any] | None = None,
    log_model_kwargs: Mapping[str, Any],
    capture: ModuleCapture | None = None,
    saved_by_training: Iterable[str] = (),
) -> ModelInfo:
    """``log_pipeline_model``, with what the training run knows: its ``ModuleCapture`` and
    the datasets it saved (see ``KedroPipelineModel``)."""
    model_kwargs: dict[str, Any] = {}
    logged: dict[str, Any] = {}
    if isinstance(pipeline, PipelineML):
        model_kwargs.update(pipeline.kpm_kwargs)
        logged.update(pipeline.log_model_kwargs)
        if {"name", "artifact_path"} & log_model_kwargs.keys():
            logged.pop("name", None)  # the call names the model; the default yields
    model_kwargs.update(kpm_kwargs or {})
    log_model_kwargs = dict(log_model_kwargs)
    try:
        logged = normalise_log_model_kwargs({**logged, **log_model_kwargs})
    except PipelineMLError as exc:
        raise KedroPipelineModelError(str(exc)) from exc
    model = KedroPipelineModel(
        pipeline,
        catalog,
        input_name=input_name,
        saved_by_training=saved_by_training,
        **model_kwargs,
    )
    name = logged.pop("name")
    signature = logged.pop("signature", "auto")
    # Modules whose code travels inside the model, so that no requirement names them.
    bundled = bundled_modules(model.pipeline, logged)
    check_explicit_requirements(logged, bundled)
    user_code_paths = [os.fspath(path) for path in logged.pop("code_paths", None) or []]
    policy = RequirementPolicy.for_model(bundled, model.runner_name == "DaskRunner", logged)
    with (
        tempfile.TemporaryDirectory(prefix="pipelineml-artifacts-") as folder,
        tempfile.TemporaryDirectory(prefix="pipelineml-code-") as code_folder,
        tempfile.TemporaryDirectory(prefix="pipelineml-probe-") as probe_folder,
    ):
        artifacts = model.extract_pipeline_artifacts(folder)
        if isinstance(signature, str) and signature == "auto":
            signature = infer_model_signature(model, catalog, artifacts)
        if model.artifact_sources:
            # Which file, and which version, each artifact is a copy of.
            metadata = dict(logged.get("metadata") or {})
            metadata["pipelineml"] = {"artifacts": model.artifact_sources}
            logged["metadata"] = metadata
        run_id = logged.get("run_id")
        if run_id is not None and logged.get("model_id") is None:
            logged["model_id"] = _new_logged_model(name, run_id, logged)
        contents = _contents(
            model, catalog, artifacts, signature, Path(code_folder), user_code_paths, logged
        )
        with warnings.catch_warnings():
            # The signature already describes the input; MLflow's nag for an example is noise.
            warnings.filterwarnings(
                "ignore", message=r".*input example was not provided", category=UserWarning
            )
            with code_by_value(contents.pop("by_value")):
                if infers_requirements(logged):
                    logged["pip_requirements"] = _requirements(
                        Path(probe_folder) / "model", contents, policy, capture, logged
                    )
                info: ModelInfo = Model.log(
                    artifact_path=None, name=name, flavor=mlflow.pyfunc, **contents, **logged
                )
            return info


def _contents(
    model: KedroPipelineModel,
    catalog: CatalogProtocol[Any, Any],
    artifacts: dict[str, str],
    signature: Any,
    folder: Path,
    user_code_paths: list[str],
    logged: dict[str, Any],
) -> dict[str, Any]:
    """What MLflow saves: from code (a loader, the spec and the code as source) whenever
    the pipeline can be data; otherwise the pickled ``python_model``, said in a warning.

    The returned ``by_value`` lists the modules to pickle by value while MLflow saves.
    """
    parameters = {name: catalog.load(name) for name in model._parameters.values()}
    project_modules = [
        module
        for module in by_value_modules(model.pipeline)
        if module not in code_path_modules(user_code_paths)
    ]
    pipelineml_code = os.fspath(bundle_pipelineml(folder / "pipelineml-code"))
    reasons = pickled_format_reasons(model.pipeline, model._runner, parameters)
    metadata = dict(logged.get("metadata") or {})
    metadata.setdefault("pipelineml", {})["format"] = "pickle" if reasons else "code"
    logged["metadata"] = metadata
    if reasons:
        logger.warning(
            "The model is logged in the pickled format (python_model.pkl), which needs "
            "MLflow's pickle deserialization when it loads, because %s.",
            "; ".join(reasons),
        )
        return {
            "python_model": model,
            "artifacts": artifacts,
            "signature": signature,
            "code_paths": [pipelineml_code, *user_code_paths],
            "by_value": project_modules,
        }
    project_code = bundle_modules(folder / "project-code", project_modules)
    code_paths = [pipelineml_code, *map(os.fspath, project_code), *user_code_paths]
    spec_folder = folder / "spec"
    spec_folder.mkdir()
    loader, spec = write_model_files(
        spec_folder,
        pipeline=model.pipeline,
        input_name=model.input_name,
        output_name=model.output_name,
        artifacts=model._artifacts,
        parameters=parameters,
        digests=model.digests,
        runner=model._runner,
        policy=model.copy_policy,
        code_paths=code_paths,
        code_modules=project_modules,
        allowed_runners=model._allowed_runners,
    )
    datasets = {name: path for name, path in artifacts.items() if name not in parameters}
    return {
        "python_model": os.fspath(loader),
        "artifacts": {**datasets, SPEC_ARTIFACT: os.fspath(spec)},
        "signature": signature,
        "code_paths": code_paths,
        "by_value": [],
    }


def _requirements(
    probe: Path,
    contents: dict[str, Any],
    policy: RequirementPolicy,
    capture: ModuleCapture | None,
    logged: dict[str, Any],
) -> list[str]:
    """The model's pinned requirements, then the user's ``extra_pip_requirements``.

    A copy of the model is saved to ``probe`` (without requirements: nothing is inferred
    for it) for the capture to load, as MLflow itself saves one before it infers.
    """
    extra = explicit_requirements(logged).get("extra_pip_requirements", [])
    logged.pop("extra_pip_requirements", None)
    probe_kwargs = {key: logged[key] for key in _PROBE_KEYS if key in logged}
    mlflow.pyfunc.save_model(os.fspath(probe), pip_requirements=[], **contents, **probe_kwargs)
    pinned = policy.requirements(probe, capture)
    return [*pinned, *(line for line in extra if line and not line.startswith("#"))]


# Their public import path (pickles and tracebacks name them by it).
log_pipeline_model.__module__ = "pipelineml.hooks"
