"""Every bad configuration raises PipelineMLError naming what is at fault."""

from __future__ import annotations

import pytest
from kedro.pipeline import Pipeline, node

from pipelineml.core import PipelineMLError, pipeline_ml_factory
from tests._support.seed_nodes import fit_scaler, identity, predict


def test_inference_with_two_outputs(training: Pipeline) -> None:
    """Rule 1: an inference pipeline with two outputs is refused, both named."""
    inference = Pipeline(
        [
            node(predict, ["instances", "scaler", "model"], "scores", name="predict"),
            node(identity, "instances", "echo", name="echo"),
        ]
    )
    with pytest.raises(PipelineMLError, match=r"exactly one output.*\['echo', 'scores'\]"):
        pipeline_ml_factory(training, inference, input_name="instances")


def test_inference_with_no_output(training: Pipeline) -> None:
    """Rule 1: an inference pipeline whose node returns nothing is refused."""
    inference = Pipeline([node(lambda i, m: None, ["instances", "model"], None, name="sink")])
    with pytest.raises(PipelineMLError, match=r"exactly one output.*has 0"):
        pipeline_ml_factory(training, inference, input_name="instances")


def test_input_name_not_an_inference_input(training: Pipeline, inference: Pipeline) -> None:
    """Rule 2: input_name must be one of the inference inputs, which are listed."""
    with pytest.raises(PipelineMLError, match=r"input_name 'rows' is not an input.*'instances'"):
        pipeline_ml_factory(training, inference, input_name="rows")


def test_input_name_is_an_intermediate_dataset(training: Pipeline, inference: Pipeline) -> None:
    """Rule 2: a dataset produced inside inference cannot receive the request data."""
    with pytest.raises(PipelineMLError, match="input_name 'scores' is not an input"):
        pipeline_ml_factory(training, inference, input_name="scores")


def test_input_name_not_a_string(training: Pipeline, inference: Pipeline) -> None:
    """input_name must be a dataset name."""
    with pytest.raises(PipelineMLError, match=r"must be a dataset name \(str\), got list"):
        pipeline_ml_factory(training, inference, input_name=["instances"])  # type: ignore[arg-type]


def test_free_input_is_named(training: Pipeline) -> None:
    """Rule 3: an inference input training does not produce is a free input, named."""
    inference = Pipeline([node(predict, ["instances", "encoder", "model"], "scores", name="p")])
    with pytest.raises(PipelineMLError, match=r"free input\(s\) \['encoder'\]"):
        pipeline_ml_factory(training, inference, input_name="instances")


def test_several_free_inputs_are_all_named(training: Pipeline) -> None:
    """Rule 3: every free input is listed, not only the first."""
    inference = Pipeline([node(predict, ["instances", "encoder", "vocab"], "scores", name="p")])
    with pytest.raises(PipelineMLError, match=r"\['encoder', 'vocab'\]"):
        pipeline_ml_factory(training, inference, input_name="instances")


def test_input_name_cannot_be_inferred_when_several_qualify(training: Pipeline) -> None:
    """input_name inference refuses to guess among several candidates and lists them."""
    inference = Pipeline([node(predict, ["instances", "encoder", "model"], "scores", name="p")])
    with pytest.raises(
        PipelineMLError, match=r"Cannot infer 'input_name'.*\['encoder', 'instances'\]"
    ):
        pipeline_ml_factory(training, inference)


def test_input_name_cannot_be_inferred_when_none_qualify(training: Pipeline) -> None:
    """When training produces every data input of inference, nothing is inferred; all named."""
    inference = Pipeline(
        [node(lambda s, m, t: m, ["scaler", "model", "params:t"], "scores", name="p")]
    )
    with pytest.raises(
        PipelineMLError,
        match=r"Cannot infer 'input_name'.*\['model', 'scaler'\] is produced by the "
        r"training pipeline.*pass input_name=",
    ):
        pipeline_ml_factory(training, inference)


def test_input_name_cannot_be_inferred_from_parameters_only(training: Pipeline) -> None:
    """An inference pipeline that reads only parameters has no slot for the request."""
    inference = Pipeline([node(lambda t: t, "params:threshold", "scores", name="p")])
    with pytest.raises(
        PipelineMLError,
        match=r"Cannot infer 'input_name'.*reads only parameters \['params:threshold'\]",
    ):
        pipeline_ml_factory(training, inference)


def test_training_input_shared_with_reference_data_is_ambiguous() -> None:
    """Two inputs training only reads are both candidates: the message lists both."""
    training = Pipeline(
        [node(lambda f, c: {"w": 1}, ["features", "country_codes"], "model", name="fit")]
    )
    inference = Pipeline(
        [node(lambda f, c, m: f, ["features", "country_codes", "model"], "scores", name="p")]
    )
    with pytest.raises(
        PipelineMLError,
        match=r"Cannot infer 'input_name': 2 inference inputs \['country_codes', 'features'\]"
        r".*Pass input_name=",
    ):
        pipeline_ml_factory(training, inference)


def test_training_must_be_a_pipeline(inference: Pipeline) -> None:
    """A non-Pipeline training argument is refused with its type."""
    with pytest.raises(PipelineMLError, match="'training' must be a kedro Pipeline, got list"):
        pipeline_ml_factory([], inference)  # type: ignore[arg-type]


def test_inference_must_be_a_pipeline(training: Pipeline) -> None:
    """A non-Pipeline inference argument is refused with its type."""
    with pytest.raises(PipelineMLError, match="'inference' must be a kedro Pipeline, got dict"):
        pipeline_ml_factory(training, {})  # type: ignore[arg-type]


def test_unknown_kpm_kwargs_key(training: Pipeline, inference: Pipeline) -> None:
    """A misspelt kpm_kwargs key is refused with a suggestion."""
    with pytest.raises(PipelineMLError, match="Unknown key 'runer'.*Did you mean 'runner'"):
        pipeline_ml_factory(training, inference, kpm_kwargs={"runer": "ThreadRunner"})


def test_input_name_in_kpm_kwargs(training: Pipeline, inference: Pipeline) -> None:
    """input_name belongs to the factory, not to kpm_kwargs."""
    with pytest.raises(PipelineMLError, match="must not contain 'input_name'"):
        pipeline_ml_factory(training, inference, kpm_kwargs={"input_name": "instances"})


def test_name_and_artifact_path_together(training: Pipeline, inference: Pipeline) -> None:
    """Both spellings of the model name at once is an error naming both values."""
    with pytest.raises(PipelineMLError, match="both 'name' and 'artifact_path'.*'a'.*'b'"):
        pipeline_ml_factory(
            training, inference, log_model_kwargs={"name": "a", "artifact_path": "b"}
        )


def test_reserved_log_model_kwargs(training: Pipeline, inference: Pipeline) -> None:
    """log_model_kwargs cannot override what the hook builds (python_model, artifacts)."""
    with pytest.raises(PipelineMLError, match=r"must not contain \['artifacts'\]"):
        pipeline_ml_factory(training, inference, log_model_kwargs={"artifacts": {}})


def test_empty_model_name(training: Pipeline, inference: Pipeline) -> None:
    """An empty model name is refused."""
    with pytest.raises(PipelineMLError, match="'name' must be a non-empty string"):
        pipeline_ml_factory(training, inference, log_model_kwargs={"name": ""})


def test_reassigned_inference_with_free_input_is_refused(
    training: Pipeline, inference: Pipeline
) -> None:
    """Assigning a bad inference raises and leaves the old one in place."""
    pml = pipeline_ml_factory(training, inference)
    bad = Pipeline([node(predict, ["instances", "encoder", "model"], "scores", name="p")])
    with pytest.raises(PipelineMLError, match=r"\['encoder'\]"):
        pml.inference = bad
    assert set(pml.inference.nodes) == set(inference.nodes)


def test_reassigned_input_name_is_refused(training: Pipeline, inference: Pipeline) -> None:
    """Assigning an input_name that is not an inference input raises; the old one stays."""
    pml = pipeline_ml_factory(training, inference)
    with pytest.raises(PipelineMLError, match="input_name 'nope'"):
        pml.input_name = "nope"
    assert pml.input_name == "instances"


def test_inference_assigned_a_non_pipeline(training: Pipeline, inference: Pipeline) -> None:
    """Assigning something that is not a Pipeline to inference is refused."""
    pml = pipeline_ml_factory(training, inference)
    with pytest.raises(PipelineMLError, match="'inference' must be a kedro Pipeline, got str"):
        pml.inference = "inference"  # type: ignore[assignment]


def test_free_input_in_namespaced_pipeline() -> None:
    """Namespaced names are reported as the user sees them."""
    training = Pipeline(
        Pipeline([node(fit_scaler, "data", "scaler", name="fit_scaler")]), namespace="ds"
    )
    inference = Pipeline(
        Pipeline([node(predict, ["instances", "scaler", "model"], "scores", name="p")]),
        namespace="ds",
    )
    with pytest.raises(PipelineMLError, match=r"\['ds.model'\]"):
        pipeline_ml_factory(training, inference, input_name="ds.instances")


def test_a_caller_catching_value_error_gets_the_pipelineml_error(
    training: Pipeline, inference: Pipeline
) -> None:
    """A broken rule caught as ValueError is the PipelineMLError with its message."""
    with pytest.raises(ValueError, match=r"input_name 'rows' is not an input") as caught:
        pipeline_ml_factory(training, inference, input_name="rows")
    assert caught.type is PipelineMLError


def test_empty_inference_pipeline_says_it_has_no_nodes(ds_pipeline: Pipeline) -> None:
    """An inference selected by a tag no node carries is named as empty, with the fix."""
    with pytest.raises(PipelineMLError, match=r"has no nodes: check the tag or filter"):
        pipeline_ml_factory(
            ds_pipeline.only_nodes_with_tags("training"),
            Pipeline([]),
            input_name="instances",
        )


def test_free_input_suggests_the_close_training_dataset(training: Pipeline) -> None:
    """A free input that is a typo of a training dataset gets a 'did you mean'."""
    inference = Pipeline([node(predict, ["instances", "scalr", "model"], "scores", name="p")])
    with pytest.raises(PipelineMLError, match=r"\['scalr'\].*Did you mean 'scaler'\?"):
        pipeline_ml_factory(training, inference, input_name="instances")


def test_several_free_inputs_get_a_suggestion_each(training: Pipeline) -> None:
    """With several free inputs, each suggestion says which input it is for."""
    inference = Pipeline([node(predict, ["instances", "scalr", "modle"], "scores", name="p")])
    with pytest.raises(
        PipelineMLError,
        match=r"For 'modle': Did you mean 'model'\? For 'scalr': Did you mean 'scaler'\?",
    ):
        pipeline_ml_factory(training, inference, input_name="instances")
