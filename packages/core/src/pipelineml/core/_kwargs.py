"""Normalisation of ``kpm_kwargs`` and ``log_model_kwargs``."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from pipelineml.core._names import did_you_mean
from pipelineml.core.errors import PipelineMLError

# Keyword arguments of KedroPipelineModel that a PipelineML may carry; the pipeline,
# catalog and input name come from the PipelineML and the run itself.
KPM_KEYS = frozenset({"runner", "copy_mode", "allowed_runners"})

# mlflow.pyfunc.log_model arguments the hook computes itself.
RESERVED_LOG_MODEL_KEYS = frozenset({"python_model", "artifacts", "loader_module", "data_path"})

DEFAULT_MODEL_NAME = "model"


def normalise_kpm_kwargs(kpm_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Copy ``kpm_kwargs``, refusing keys KedroPipelineModel does not take from a PipelineML."""
    if kpm_kwargs is None:
        return {}
    if not isinstance(kpm_kwargs, Mapping):
        raise PipelineMLError(
            f"kpm_kwargs must be a dict, got {type(kpm_kwargs).__name__} {kpm_kwargs!r}."
        )
    for key in kpm_kwargs:
        if key == "input_name":
            raise PipelineMLError(
                "kpm_kwargs must not contain 'input_name': pass it to "
                "pipeline_ml_factory(input_name=...) instead."
            )
        if key not in KPM_KEYS:
            raise PipelineMLError(
                f"Unknown key '{key}' in kpm_kwargs. Accepted keys: {sorted(KPM_KEYS)}."
                + did_you_mean(str(key), KPM_KEYS)
            )
    return dict(kpm_kwargs)


def normalise_log_model_kwargs(
    log_model_kwargs: Mapping[str, Any] | None, stacklevel: int = 3
) -> dict[str, Any]:
    """Copy ``log_model_kwargs`` with MLflow 3 spellings and ``name`` defaulting to "model".

    ``artifact_path`` (MLflow 2) is accepted with a ``FutureWarning`` and renamed ``name``.
    ``stacklevel`` is the warning's: 3 points at the caller of the function calling this one
    (``pipeline_ml_factory``, ``PipelineML(...)``, ``log_pipeline_model``).
    """
    if log_model_kwargs is None:
        return {"name": DEFAULT_MODEL_NAME}
    if not isinstance(log_model_kwargs, Mapping):
        raise PipelineMLError(
            "log_model_kwargs must be a dict, got "
            f"{type(log_model_kwargs).__name__} {log_model_kwargs!r}."
        )
    kwargs = dict(log_model_kwargs)
    reserved = sorted(RESERVED_LOG_MODEL_KEYS & kwargs.keys())
    if reserved:
        raise PipelineMLError(
            f"log_model_kwargs must not contain {reserved}: pipelineml builds the python model "
            "and its artifacts from the PipelineML and the catalog."
        )
    if "artifact_path" in kwargs:
        if "name" in kwargs:
            raise PipelineMLError(
                "log_model_kwargs has both 'name' and 'artifact_path' "
                f"({kwargs['name']!r} and {kwargs['artifact_path']!r}); "
                "'artifact_path' is the MLflow 2 spelling of 'name': keep only 'name'."
            )
        warnings.warn(
            "log_model_kwargs 'artifact_path' is deprecated since MLflow 3; it is used as "
            "'name'. Write name=... instead.",
            FutureWarning,
            stacklevel=stacklevel,
        )
        kwargs["name"] = kwargs.pop("artifact_path")
    kwargs.setdefault("name", DEFAULT_MODEL_NAME)
    if not isinstance(kwargs["name"], str) or not kwargs["name"]:
        raise PipelineMLError(
            f"log_model_kwargs 'name' must be a non-empty string, got {kwargs['name']!r}."
        )
    return kwargs
