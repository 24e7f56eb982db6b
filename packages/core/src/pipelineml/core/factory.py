"""``pipeline_ml_factory``: the friendly way to build a ``PipelineML``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kedro.pipeline import Pipeline

from pipelineml.core._kwargs import normalise_log_model_kwargs
from pipelineml.core._validation import infer_input_name
from pipelineml.core.errors import PipelineMLError
from pipelineml.core.pipeline_ml import PipelineML

__all__ = ["pipeline_ml_factory"]


def pipeline_ml_factory(
    training: Pipeline,
    inference: Pipeline,
    input_name: str | None = None,
    kpm_kwargs: Mapping[str, Any] | None = None,
    log_model_kwargs: Mapping[str, Any] | None = None,
) -> PipelineML:
    """Bind a training pipeline and its inference pipeline into one ``PipelineML``.

    Example:
        ```python
        training = pipeline_ml_factory(
            training=ds_pipeline.only_nodes_with_tags("training"),
            inference=ds_pipeline.only_nodes_with_tags("inference"),
            input_name="instances",
        )
        ```

    Args:
        training: The pipeline that fits everything the inference pipeline needs.
        inference: The pipeline logged as the model; it must have exactly one output.
        input_name: The inference input that receives the data to score. When omitted it
            is inferred: the one inference input that is neither produced by training nor a
            parameter.
        kpm_kwargs: Keyword arguments for ``KedroPipelineModel``: ``runner`` (a runner or
            its registered name) and ``copy_mode``.
        log_model_kwargs: Keyword arguments for ``mlflow.pyfunc.log_model``; ``name``
            defaults to ``"model"``; MLflow 2's ``artifact_path`` is accepted with a
            ``FutureWarning``.

    Returns:
        A ``PipelineML`` whose nodes are the training nodes.

    Raises:
        PipelineMLError: When the pair breaks a rule or ``input_name`` cannot be inferred;
            the message names the datasets at fault.
    """
    for argument, value in (("training", training), ("inference", inference)):
        if not isinstance(value, Pipeline):
            raise PipelineMLError(
                f"'{argument}' must be a kedro Pipeline, got {type(value).__name__} {value!r}."
            )
    training_nodes = Pipeline(training.nodes)
    if input_name is None:
        input_name = infer_input_name(training_nodes, inference)
    return PipelineML(
        training_nodes.nodes,
        inference=inference,
        input_name=input_name,
        kpm_kwargs=kpm_kwargs,
        # Normalised here, so that a deprecation warning points at the factory's caller.
        log_model_kwargs=normalise_log_model_kwargs(log_model_kwargs),
    )


# Their public import path (pickles and tracebacks name them by it).
pipeline_ml_factory.__module__ = "pipelineml.core"
