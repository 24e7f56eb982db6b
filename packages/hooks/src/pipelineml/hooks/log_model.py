"""``log_pipeline_model``: log an inference pipeline as one MLflow model in one call."""

from __future__ import annotations

import contextlib
import logging
import os
import site
import sys
import sysconfig
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
from kedro.io import AbstractDataset, MemoryDataset
from kedro.pipeline import Pipeline
from mlflow.models import Model, infer_signature

from pipelineml.core import PipelineML, PipelineMLError
from pipelineml.core._kwargs import normalise_log_model_kwargs
from pipelineml.hooks._code_bundle import bundle_pipelineml, code_path_modules
from pipelineml.hooks._given_requirements import check_explicit_requirements
from pipelineml.hooks._kedro import package_name
from pipelineml.hooks._requirement_policy import RequirementPolicy, requirement_policy
from pipelineml.hooks.errors import KedroPipelineModelError
from pipelineml.hooks.kedro_pipeline_model import RUNNER_PARAM, KedroPipelineModel

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from mlflow.models.model import ModelInfo

__all__ = ["log_pipeline_model"]

logger = logging.getLogger(__name__)

SAMPLE_ROWS = 100
_SCALARS = (bool, int, float, str)


def _head(data: Any, rows: int) -> Any:
    head = getattr(data, "head", None)
    if callable(head):
        return head(rows)
    if isinstance(data, list | tuple):
        return data[:rows]
    try:
        return data[:rows]
    except Exception:
        return data


def sample_input(catalog: Any, name: str, rows: int = SAMPLE_ROWS) -> Any:
    """A few rows of ``name`` from the catalog, without loading a large file whole.

    CSV and Excel datasets are read with ``nrows``; other datasets are loaded and cut.
    Returns ``None`` when the dataset is not in the catalog or holds no data.
    """
    dataset = catalog.get(name) if name in catalog else None
    if dataset is None:
        return None
    try:
        if isinstance(dataset, MemoryDataset):
            return _head(dataset.load(), rows)
        config = catalog.to_config()[0].get(name)
        dataset_type = str((config or {}).get("type", ""))
        if (
            config
            and not config.get("versioned")
            and dataset_type.endswith(("CSVDataset", "ExcelDataset"))
        ):
            limited = dict(config)
            limited["load_args"] = {**(limited.get("load_args") or {}), "nrows": rows}
            return _head(AbstractDataset.from_config(name, limited).load(), rows)
        return _head(catalog.load(name), rows)
    except Exception as exc:
        logger.warning(
            "Could not load a sample of '%s' to infer the model signature: %s", name, exc
        )
        return None


def _schema_params(defaults: Mapping[str, Any]) -> dict[str, Any]:
    # MLflow parameter schemas hold scalars and flat lists of scalars only.
    accepted: dict[str, Any] = {}
    for key, value in defaults.items():
        if isinstance(value, _SCALARS) or (
            isinstance(value, list)
            and value
            and all(
                isinstance(item, type(value[0])) and isinstance(item, _SCALARS) for item in value
            )
        ):
            accepted[key] = value
        else:
            logger.info(
                "Parameter '%s' (%s) is not a scalar or a list of scalars, so it is not in "
                "the model signature and cannot be overridden when the model is served.",
                key,
                type(value).__name__,
            )
    return accepted


def infer_model_signature(
    model: KedroPipelineModel, catalog: Any, artifacts: Mapping[str, str]
) -> Any:
    """Infer the signature: inputs from a sample of ``input_name``, outputs by scoring it,
    params from the inference parameters plus ``runner``.

    Raises:
        KedroPipelineModelError: When the inference pipeline fails on the sample.
    """
    params = _schema_params(model.parameter_defaults)
    params[RUNNER_PARAM] = model.runner_name
    sample = sample_input(catalog, model.input_name)
    if sample is None:
        logger.warning(
            "No sample of '%s' is available, so the model signature has no input schema "
            "and served requests are not validated.",
            model.input_name,
        )
        return infer_signature(params=params)
    try:
        output = model.predict_sample(artifacts, sample)
    except Exception as exc:
        raise KedroPipelineModelError(
            f"The inference pipeline failed on a sample of '{model.input_name}' "
            f"({type(exc).__name__}: {exc}); the model would not work, so it is not logged."
        ) from exc
    return infer_signature(model_input=sample, model_output=output, params=params)


def _site_directories() -> tuple[Path, ...]:
    paths = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    paths.update(site.getsitepackages())
    return tuple(Path(p).resolve() for p in paths)


def _is_installed(module: Any) -> bool:
    """Whether a top-level module lives in site-packages (a dependency, not project code).

    Decided from where its files are: importlib.metadata.packages_distributions() would
    tell too, but scanning every installed distribution costs about half a second.
    """
    locations = [getattr(module, "__file__", None), *list(getattr(module, "__path__", []))]
    sites = _site_directories()
    for location in filter(None, locations):
        path = Path(location).resolve()
        if any(path.is_relative_to(site_dir) for site_dir in sites):
            return True
    return False


def _node_modules(pipeline: Pipeline) -> set[str]:
    tops = set()
    for node in pipeline.nodes:
        func = node.func
        while hasattr(func, "func"):  # functools.partial
            func = func.func
        module = getattr(func, "__module__", None)
        if module:
            tops.add(module.split(".", 1)[0])
    return tops


def by_value_modules(pipeline: Pipeline) -> list[str]:
    """The top-level modules ``code_by_value`` pickles by value for ``pipeline``.

    The Kedro project's package, and any node module that is not part of an installed
    distribution.
    """
    project_package = package_name()
    chosen = []
    for top in sorted(_node_modules(pipeline) | ({project_package} if project_package else set())):
        if top in sys.stdlib_module_names or top in {"__main__", "builtins"}:
            continue
        module = sys.modules.get(top)
        if module is None:
            continue
        if top != project_package and _is_installed(module):
            continue
        chosen.append(top)
    return chosen


def bundled_modules(pipeline: Pipeline, log_model_kwargs: Mapping[str, Any]) -> set[str]:
    """Top-level modules whose code the model of ``pipeline`` carries: by value, or in the
    ``code_paths`` of ``log_model_kwargs``."""
    code_paths = log_model_kwargs.get("code_paths") or []
    return {*by_value_modules(pipeline), *code_path_modules(code_paths)}


@contextlib.contextmanager
def code_by_value(pipeline: Pipeline) -> Iterator[list[str]]:
    """Pickle the project's own code into the model, so it loads where it is not installed.

    The modules of ``by_value_modules`` are registered with cloudpickle "by value" while
    the model is saved (those a caller registered already stay registered).
    """
    import cloudpickle

    already = set(cloudpickle.list_registry_pickle_by_value())
    chosen = [top for top in by_value_modules(pipeline) if top not in already]
    for top in chosen:
        cloudpickle.register_pickle_by_value(sys.modules[top])
    try:
        yield chosen
    finally:
        for top in chosen:
            cloudpickle.unregister_pickle_by_value(sys.modules[top])


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
    model_kwargs: dict[str, Any] = {}
    logged: dict[str, Any] = {}
    if isinstance(pipeline, PipelineML):
        model_kwargs.update(pipeline.kpm_kwargs)
        logged.update(pipeline.log_model_kwargs)
        if {"name", "artifact_path"} & log_model_kwargs.keys():
            logged.pop("name", None)  # the call names the model; the default yields
    model_kwargs.update(kpm_kwargs or {})
    try:
        logged = normalise_log_model_kwargs({**logged, **log_model_kwargs})
    except PipelineMLError as exc:
        raise KedroPipelineModelError(str(exc)) from exc
    model = KedroPipelineModel(pipeline, catalog, input_name=input_name, **model_kwargs)
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
    ):
        artifacts = model.extract_pipeline_artifacts(folder)
        if isinstance(signature, str) and signature == "auto":
            signature = infer_model_signature(model, catalog, artifacts)
        run_id = logged.get("run_id")
        if run_id is not None and logged.get("model_id") is None:
            logged["model_id"] = _new_logged_model(name, run_id, logged)
        code_paths = [os.fspath(bundle_pipelineml(Path(code_folder))), *user_code_paths]
        with code_by_value(model.pipeline) as by_value, warnings.catch_warnings():
            if by_value:
                logger.debug("Pickling %s by value into the model", by_value)
            # The signature already describes the input; MLflow's nag for an example is noise.
            warnings.filterwarnings(
                "ignore", message=r".*input example was not provided", category=UserWarning
            )
            with requirement_policy(policy):
                info: ModelInfo = Model.log(
                    artifact_path=None,
                    name=name,
                    flavor=mlflow.pyfunc,
                    python_model=model,
                    artifacts=artifacts,
                    signature=signature,
                    code_paths=code_paths,
                    **logged,
                )
            return info
