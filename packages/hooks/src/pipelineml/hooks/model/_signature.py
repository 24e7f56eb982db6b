"""The signature a logged model gets: a sample of ``input_name``, its scored output, params."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kedro.io import AbstractDataset, MemoryDataset
from mlflow.models import infer_signature

from pipelineml.core._kedro import dataset_config
from pipelineml.hooks.errors import KedroPipelineModelError
from pipelineml.hooks.model._request_params import RUNNER_PARAM

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from mlflow.models import ModelSignature

    from pipelineml.hooks.model._kedro_pipeline_model import KedroPipelineModel

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


def sample_input(catalog: CatalogProtocol[Any, Any], name: str, rows: int = SAMPLE_ROWS) -> Any:
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
        config = dataset_config(catalog, name)
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
    model: KedroPipelineModel, catalog: CatalogProtocol[Any, Any], artifacts: Mapping[str, str]
) -> ModelSignature:
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
