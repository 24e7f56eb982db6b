"""What ``KedroPipelineModel`` makes of its arguments: the inference pipeline, the copy policy."""

from __future__ import annotations

from collections.abc import Mapping

from kedro.pipeline import Pipeline

from pipelineml.core import PipelineML
from pipelineml.hooks.errors import KedroPipelineModelError
from pipelineml.runners import CopyPolicy


def inference_and_input(pipeline: Pipeline, input_name: str | None) -> tuple[Pipeline, str]:
    """The inference pipeline and input name of a ``PipelineML`` or of a plain Pipeline.

    Raises:
        KedroPipelineModelError: When ``input_name`` contradicts the PipelineML's, is
            missing for a plain Pipeline, or ``pipeline`` is not a Pipeline.
    """
    if isinstance(pipeline, PipelineML):
        if input_name is not None and input_name != pipeline.input_name:
            raise KedroPipelineModelError(
                f"input_name {input_name!r} differs from the PipelineML's input_name "
                f"{pipeline.input_name!r}; leave input_name out to use the PipelineML's."
            )
        inference = pipeline.inference
        input_name = pipeline.input_name
    elif isinstance(pipeline, Pipeline):
        inference = pipeline
        if input_name is None:
            raise KedroPipelineModelError(
                "input_name is required when pipeline is a plain inference Pipeline; "
                f"its inputs are {sorted(pipeline.inputs())}."
            )
    else:
        raise KedroPipelineModelError(
            "pipeline must be a PipelineML or a kedro Pipeline, got "
            f"{type(pipeline).__name__} {pipeline!r}."
        )
    return inference, input_name


def model_copy_policy(copy_mode: str | Mapping[str, str] | CopyPolicy | None) -> CopyPolicy:
    """``CopyPolicy.from_spec(copy_mode)``, with ``assign`` for the datasets no rule names.

    Raises:
        RunnerError: When ``copy_mode`` is not a copy mode, rule dict or ``CopyPolicy``.
    """
    policy = CopyPolicy.from_spec(copy_mode)
    if policy.default is None:
        # A model must never copy its artifacts per call unless told to: datasets no rule
        # names are assigned, not left to Kedro's (deep-copying) inference.
        policy = CopyPolicy(policy.rules, default="assign")
    return policy
