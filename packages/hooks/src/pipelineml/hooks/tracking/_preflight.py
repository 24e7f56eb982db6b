"""The checks run before the first node of a training run.

Everything that decides whether a PipelineML's model can be logged after training is looked
at here, so a run that could never log its model stops before it trains instead of after.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.io import MemoryDataset

from pipelineml.core import PipelineML, PipelineMLError
from pipelineml.core._kedro import catalog_names, dataset_config
from pipelineml.core._kwargs import RESERVED_LOG_MODEL_KEYS
from pipelineml.core._names import (
    did_you_mean,
    is_parameter,
    parameter_key,
    parameter_path,
    strip_transcoding,
)
from pipelineml.core.artifacts import survey_artifacts
from pipelineml.hooks.environment._code_by_value import bundled_modules
from pipelineml.hooks.environment._given_requirements import requirement_problems
from pipelineml.hooks.errors import KedroPipelineModelError
from pipelineml.hooks.model._from_code import pickled_format_reasons
from pipelineml.hooks.model._runner_choice import allowed_runner_names
from pipelineml.hooks.tracking._artifact_stores import store_problems
from pipelineml.hooks.tracking._problems import Problem
from pipelineml.runners import CopyPolicy, resolve_runner
from pipelineml.runners.errors import RunnerError

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline

    from pipelineml.hooks.tracking._conf_files import ConfFiles

__all__ = ["model_problems", "preflight_problems", "run_input_problems"]


def _problem_for(name: str, message: str, conf: ConfFiles, pipeline: str | None) -> Problem:
    if is_parameter(name):
        fix = conf.declaring("parameters", parameter_key(name) or name)
        return Problem(name, message, fix, pipeline)
    return Problem(name, message, conf.declaring("catalog", strip_transcoding(name)), pipeline)


def run_input_problems(
    run: Pipeline, catalog: CatalogProtocol[Any, Any], conf: ConfFiles
) -> list[Problem]:
    """Inputs of the run that the catalog cannot provide (Kedro would refuse them too)."""
    problems = []
    names = catalog_names(catalog)
    for name in sorted(run.inputs()):
        if name in catalog:
            continue
        if is_parameter(name):
            hint = did_you_mean(name, [n for n in names if is_parameter(n)])
            message = (
                f"Parameter '{name}' used by the training pipeline is not defined: add "
                f"'{parameter_path(name) or name}' to conf/{conf.base_env}/parameters.yml (or "
                f"pass it with kedro run --params).{hint}"
            )
        else:
            hint = did_you_mean(name, [n for n in names if not is_parameter(n)])
            message = (
                f"Training input '{name}' is not in the catalog and no node of this run "
                f"produces it, so there is no data to read.{hint}"
            )
        problems.append(_problem_for(name, message, conf, None))
    return problems


def _sample_problem(
    pml: PipelineML, run: Pipeline, catalog: CatalogProtocol[Any, Any], conf: ConfFiles, label: str
) -> Problem | None:
    """The signature is inferred from a sample of input_name: it must exist after training."""
    name = pml.input_name
    fix = conf.declaring("catalog", strip_transcoding(name))
    dataset = catalog.get(name)
    produced = {strip_transcoding(n) for n in run.all_outputs()}
    if strip_transcoding(name) in produced:
        return None
    if dataset is None or isinstance(dataset, MemoryDataset):
        where = "is not in the catalog" if dataset is None else "is a MemoryDataset"
        hint = did_you_mean(name, [n for n in catalog_names(catalog) if not is_parameter(n)])
        return Problem(
            name,
            f"input_name '{name}' {where}, so there is no sample of it to infer the model "
            "signature from. Declare it with a file holding a few rows of the data the "
            "model will score, or set log_model_kwargs signature=None."
            f"{hint}",
            fix,
            label,
        )
    if _written_by_run(name, run, catalog):
        return None
    try:
        exists = bool(catalog.exists(name))
    except Exception:  # a dataset that cannot tell: the sample is tried after training
        return None
    if exists:
        return None
    filepath = _filepath(catalog, name)
    at = f" at '{conf.relative(Path(filepath))}'" if filepath else ""
    return Problem(
        name,
        f"No sample of input_name '{name}' exists{at} and no node of this run writes it, "
        "so the model signature cannot be inferred. Create it with a few rows of the data "
        f"the model will score, point '{name}' in {fix} at such a file, or set "
        "log_model_kwargs signature=None.",
        None,
        label,
    )


def _filepath(catalog: CatalogProtocol[Any, Any], name: str) -> str | None:
    filepath = dataset_config(catalog, name).get("filepath")
    return str(filepath) if filepath else None


def _written_by_run(name: str, run: Pipeline, catalog: CatalogProtocol[Any, Any]) -> bool:
    """Whether a dataset the run writes is persisted to the same file as ``name``."""
    target = _filepath(catalog, name)
    if target is None:
        return False
    resolved = Path(target).resolve()
    for output in run.all_outputs():
        path = _filepath(catalog, output)
        if path is not None and Path(path).resolve() == resolved:
            return True
    return False


# Read by mlflow.models.Model.log from its **kwargs without being log_model arguments
# (run_id is how log_pipeline_model targets a run).
_MODEL_LOG_EXTRAS = frozenset({"run_id", "serialization_format", "validate_serving_input"})


def _log_model_kwargs_problems(pml: PipelineML, label: str) -> list[Problem]:
    """Keys MLflow's log_model does not take: a typo would be refused, or silently unused."""
    import mlflow.pyfunc

    accepted = (
        set(inspect.signature(mlflow.pyfunc.log_model).parameters) | _MODEL_LOG_EXTRAS
    ) - RESERVED_LOG_MODEL_KEYS
    problems = []
    for key in sorted(set(pml.log_model_kwargs) - accepted):
        problems.append(
            Problem(
                f"log_model_kwargs {key!r}",
                f"log_model_kwargs has '{key}', which mlflow.pyfunc.log_model does not take. "
                f"Change it where the PipelineML is built (pipeline_ml_factory(..., "
                f"log_model_kwargs=...)).{did_you_mean(key, accepted)}",
                None,
                label,
            )
        )
    return problems


def model_problems(
    label: str, pml: PipelineML, run: Pipeline, catalog: CatalogProtocol[Any, Any], conf: ConfFiles
) -> list[Problem]:
    """Every reason why ``pml``'s model could not be logged after ``run``.

    Args:
        label: The PipelineML's name in the project's registry.
        pml: The PipelineML.
        run: The pipeline this Kedro run executes.
        catalog: The run's catalog.
        conf: The project's configuration folders.
    """
    # What the run writes need not exist yet; a versioned one is this run's version.
    saved = {*run.all_outputs(), *(strip_transcoding(n) for n in run.all_outputs())}
    described, found = survey_artifacts(catalog, pml.inference, pml.input_name, saved)
    found.update(store_problems(catalog, described, saved))
    problems = [_problem_for(name, message, conf, label) for name, message in found.items()]
    kwargs = pml.kpm_kwargs
    runner = kwargs.get("runner")
    if isinstance(runner, str):
        try:
            resolve_runner(runner)
        except RunnerError as exc:
            problems.append(Problem(f"kpm_kwargs runner {runner!r}", str(exc), None, label))
    try:
        CopyPolicy.from_spec(kwargs.get("copy_mode", "assign"))
    except (RunnerError, PipelineMLError) as exc:
        problems.append(Problem("kpm_kwargs copy_mode", str(exc), None, label))
    if "allowed_runners" in kwargs:
        try:
            allowed_runner_names(kwargs["allowed_runners"], "SequentialRunner")
        except KedroPipelineModelError as exc:
            problems.append(Problem("kpm_kwargs allowed_runners", str(exc), None, label))
    problems.extend(_log_model_kwargs_problems(pml, label))
    # Requirements a deployment could not install would only be refused after training.
    bundled = bundled_modules(pml.inference, pml.log_model_kwargs)
    problems.extend(
        Problem("log_model_kwargs requirements", message, None, label)
        for message in requirement_problems(pml.log_model_kwargs, bundled)
    )
    signature = pml.log_model_kwargs.get("signature", "auto")
    if isinstance(signature, str) and signature == "auto":
        sample = _sample_problem(pml, run, catalog, conf, label)
        if sample is not None:
            problems.append(sample)
    return problems


def preflight_problems(
    to_log: list[tuple[str, PipelineML]],
    run: Pipeline,
    catalog: CatalogProtocol[Any, Any],
    conf: ConfFiles,
) -> list[Problem]:
    """Everything that would stop a requested model from being logged after ``run``.

    One problem per subject: two PipelineMLs missing the same dataset report it once.
    """
    if not to_log:
        return []
    problems = run_input_problems(run, catalog, conf)
    for name, pml in to_log:
        problems.extend(model_problems(name, pml, run, catalog, conf))
    unique: dict[str, Problem] = {}
    for problem in problems:
        unique.setdefault(problem.subject, problem)
    return list(unique.values())


def pickled_format_notes(
    to_log: list[tuple[str, PipelineML]], catalog: CatalogProtocol[Any, Any]
) -> list[str]:
    """One line per PipelineML whose model will be logged in the pickled format, and why
    (said before training: the format never changes silently)."""
    notes = []
    for name, pml in to_log:
        runner = pml.kpm_kwargs.get("runner")
        try:
            resolved = None if runner is None else resolve_runner(runner)
            parameters = {n: catalog.load(n) for n in pml.inference.inputs() if is_parameter(n)}
        except Exception:  # reported by the pre-flight problems, or when logging
            continue
        reasons = pickled_format_reasons(pml.inference, resolved, parameters)
        if reasons:
            notes.append(
                f"The model of PipelineML '{name}' will be logged in the pickled format "
                "(python_model.pkl, which loads only where MLflow allows pickle "
                f"deserialization), not from code, because {'; '.join(reasons)}."
            )
    return notes
