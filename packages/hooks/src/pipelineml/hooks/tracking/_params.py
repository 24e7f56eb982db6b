"""Kedro parameters to MLflow parameters: names, flattening and over-long values."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pipelineml.core._names import parameter_path
from pipelineml.hooks.errors import MlflowConfigError
from pipelineml.hooks.tracking._config import MlflowConfig

logger = logging.getLogger(__name__)

# MLflow's limits (mlflow.utils.validation): parameter values 6000 characters, tags 8000.
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 8000


def _flatten(prefix: str, value: Any, sep: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key, inner in value.items():
            _flatten(f"{prefix}{sep}{key}" if prefix else str(key), inner, sep, out)
    else:
        out[prefix] = value


def mlflow_params(values: Mapping[str, Any], config: MlflowConfig) -> dict[str, str]:
    """``{MLflow name: value}`` from ``{"params:x": ..., "parameters": {...}}``.

    ``params:model.alpha`` becomes ``model.alpha``; ``parameters`` contributes one entry per
    top-level key. Dicts are kept whole (as text) unless flattening is on.
    """
    named: dict[str, Any] = {}
    for dataset, value in sorted(values.items()):
        if dataset == "parameters" and isinstance(value, Mapping):
            named.update({str(key): inner for key, inner in value.items()})
        else:
            named[parameter_path(dataset) or dataset] = value
    if config.flatten_params:
        flat: dict[str, Any] = {}
        for name, value in named.items():
            _flatten(name, value, config.params_sep, flat)
        named = flat
    return {name: str(value) for name, value in named.items()}


def split_long_params(
    params: Mapping[str, str], config: MlflowConfig
) -> tuple[dict[str, str], dict[str, str]]:
    """Apply ``long_params_strategy``: returns (params, tags).

    Raises:
        MlflowConfigError: With the ``fail`` strategy, naming the parameter and its length.
    """
    kept: dict[str, str] = {}
    tags: dict[str, str] = {}
    for name, value in params.items():
        if len(value) <= MAX_PARAM_LENGTH:
            kept[name] = value
        elif config.long_params_strategy == "fail":
            raise MlflowConfigError(
                f"Parameter '{name}' is {len(value)} characters long; MLflow accepts at most "
                f"{MAX_PARAM_LENGTH}. Set tracking.params.long_params_strategy in mlflow.yml "
                "to 'tag' (log it as a tag) or 'truncate', or flatten dict parameters with "
                "tracking.params.flatten: true."
            )
        elif config.long_params_strategy == "tag":
            if len(value) > MAX_TAG_LENGTH:
                logger.warning(
                    "Parameter '%s' (%d characters) is truncated to %d characters even as a tag",
                    name,
                    len(value),
                    MAX_TAG_LENGTH,
                )
            tags[f"param.{name}"] = value[:MAX_TAG_LENGTH]
        else:
            logger.warning(
                "Parameter '%s' (%d characters) is truncated to %d characters",
                name,
                len(value),
                MAX_PARAM_LENGTH,
            )
            kept[name] = value[:MAX_PARAM_LENGTH]
    return kept, tags
