"""The rules a training/inference pair must follow to be logged as one model."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from pipelineml.core._names import (
    did_you_mean,
    is_parameter,
    sorted_names,
    strip_transcoding,
)
from pipelineml.core.errors import PipelineMLError


def _training_names(training: Pipeline) -> set[str]:
    # Any dataset a training node reads or writes can travel with the model.
    return {strip_transcoding(name) for name in training.datasets()}


def _training_outputs(training: Pipeline) -> set[str]:
    # Everything a training node writes, intermediate datasets included: the model logs
    # what training fitted, so none of it can be the data sent at prediction time.
    return {strip_transcoding(name) for name in training.all_outputs()}


def input_name_candidates(training: Pipeline, inference: Pipeline) -> list[str]:
    """Inference inputs that are neither produced by training nor parameters.

    A dataset training only reads (the raw features both halves load, say) is a
    candidate: it is the usual ``input_name``.
    """
    produced = _training_outputs(training)
    return sorted_names(
        name
        for name in inference.inputs()
        if not is_parameter(name) and strip_transcoding(name) not in produced
    )


def infer_input_name(training: Pipeline, inference: Pipeline) -> str:
    """Pick ``input_name`` when exactly one inference input can be it.

    Raises:
        PipelineMLError: When no input or several inputs qualify; lists the candidates.
    """
    candidates = input_name_candidates(training, inference)
    if len(candidates) == 1:
        return candidates[0]
    data_inputs = sorted_names(n for n in inference.inputs() if not is_parameter(n))
    if not candidates:
        if not data_inputs:
            raise PipelineMLError(
                "Cannot infer 'input_name': the inference pipeline reads only parameters "
                f"{sorted_names(inference.inputs())}, so no input can receive the data sent "
                "at prediction time. Add the dataset to score as an input of its first node."
            )
        raise PipelineMLError(
            "Cannot infer 'input_name': every non-parameter input of the inference pipeline "
            f"{data_inputs} is produced by the training pipeline, so none of them is the data "
            "sent at prediction time. Make the first inference node read the dataset to "
            "score (a training input, such as the features training reads, is fine), or pass "
            "input_name=... naming it."
        )
    raise PipelineMLError(
        f"Cannot infer 'input_name': {len(candidates)} inference inputs {candidates} are "
        "neither produced by training nor parameters, and only one of them can be the data "
        "sent at prediction time. Pass input_name=... with the one that is; every "
        "other one must be produced by the training pipeline."
    )


def check_inference(inference: Pipeline, input_name: str, context: str = "") -> None:
    """Rules 1 and 2: one inference output, and ``input_name`` among its inputs.

    Args:
        inference: The inference pipeline.
        input_name: The inference input that receives the data to score.
        context: Prefix for the message, e.g. the filter or the class checking.

    Raises:
        PipelineMLError: Naming the outputs or inputs at fault.
    """
    prefix = f"{context}: " if context else ""
    if not isinstance(input_name, str):
        raise PipelineMLError(
            f"{prefix}'input_name' must be a dataset name (str), got "
            f"{type(input_name).__name__} {input_name!r}."
        )

    if not inference.nodes:
        raise PipelineMLError(
            f"{prefix}The inference pipeline has no nodes: check the tag or filter that "
            "selects it (for example only_nodes_with_tags('inference') when no node carries "
            "the tag 'inference')."
        )
    outputs = sorted_names(inference.outputs())
    if len(outputs) != 1:
        raise PipelineMLError(
            f"{prefix}The inference pipeline must have exactly one output (the prediction), "
            f"but it has {len(outputs)}: {outputs}. Consume the others inside the inference "
            "pipeline or move the nodes that produce them out of it."
        )

    inputs = inference.inputs()
    if input_name not in inputs:
        raise PipelineMLError(
            f"{prefix}input_name '{input_name}' is not an input of the inference pipeline. "
            f"Its inputs are {sorted_names(inputs)}; input_name must be one of them."
        )


def validate(
    training: Pipeline,
    inference: Pipeline,
    input_name: str,
    context: str = "",
) -> None:
    """Check the rules of a PipelineML, raising on the first one broken.

    Args:
        training: The training pipeline (only its nodes matter).
        inference: The inference pipeline.
        input_name: The inference input that receives the data to score.
        context: Prefix for the message, e.g. the filter that produced ``training``.

    Raises:
        PipelineMLError: Naming the datasets at fault and what would be accepted.
    """
    check_inference(inference, input_name, context)
    prefix = f"{context}: " if context else ""
    known = _training_names(training)
    free = sorted_names(
        name
        for name in inference.inputs()
        if name != input_name and not is_parameter(name) and strip_transcoding(name) not in known
    )
    if free:
        # A free input is often a typo of a training dataset's name.
        hints = ""
        for name in free:
            hint = did_you_mean(name, known - {strip_transcoding(input_name)})
            if hint:
                hints += hint if len(free) == 1 else f" For '{name}':{hint}"
        raise PipelineMLError(
            f"{prefix}The inference pipeline has free input(s) {free}: not produced by the "
            "training pipeline, not a training input and not a parameter, so they cannot be "
            f"logged with the model. Apart from input_name '{input_name}', every inference "
            "input must be a training dataset or a parameter: produce "
            f"{'it' if len(free) == 1 else 'them'} in training, or make "
            f"{'it' if len(free) == 1 else 'one'} the input_name.{hints}"
        )


def rule_problem(training: Pipeline, inference: Pipeline, input_name: str) -> str | None:
    """The message of the first rule the pair breaks, or ``None`` when it keeps them all."""
    try:
        validate(training, inference, input_name)
    except PipelineMLError as exc:
        return str(exc)
    return None
