"""pipeline_ml_factory and the rules a PipelineML follows."""

from __future__ import annotations

import pytest
from kedro.pipeline import Pipeline, node

from pipelineml.core import PipelineML, pipeline_ml_factory
from tests._support.seed_nodes import fit_scaler, identity, predict


def test_seed_example_infers_input_name(ds_pipeline: Pipeline) -> None:
    """The seed's own example (no input_name) builds a PipelineML of the training nodes."""
    pml = pipeline_ml_factory(
        training=ds_pipeline.only_nodes_with_tags("training"),
        inference=ds_pipeline.only_nodes_with_tags("inference"),
    )
    assert isinstance(pml, PipelineML)
    assert pml.input_name == "instances"
    assert {n.name for n in pml.nodes} == {"fit_scaler", "fit_model"}
    assert {n.name for n in pml.inference.nodes} == {"predict", "postprocess"}
    assert type(pml.training) is Pipeline
    assert set(pml.training.nodes) == set(pml.nodes)
    assert pml.kpm_kwargs == {}
    assert pml.log_model_kwargs == {"name": "model"}


def test_seed_pattern_data_node_reads_the_same_dataset_in_both_halves() -> None:
    """Without input_name, the features both halves read become input_name (the seed's case)."""
    ds_pipeline = Pipeline(
        [
            node(fit_scaler, "features", "scaler", name="fit_scaler", tags="training"),
            node(
                lambda f, s, a: {"offset": a},
                ["features", "scaler", "params:alpha"],
                "model",
                name="fit_model",
                tags="training",
            ),
            node(
                predict,
                ["features", "scaler", "model"],
                "scores",
                name="predict",
                tags="inference",
            ),
        ]
    )
    pml = pipeline_ml_factory(
        training=ds_pipeline.only_nodes_with_tags("training"),
        inference=ds_pipeline.only_nodes_with_tags("inference"),
    )
    assert pml.input_name == "features"
    assert "features" in pml.training.inputs()


def test_transcoded_training_input_can_be_inferred() -> None:
    """A training input read as 'features@pandas' is still a candidate as 'features'."""
    training = Pipeline([node(fit_scaler, "features@pandas", "scaler", name="fit")])
    inference = Pipeline([node(lambda f, s: f, ["features", "scaler"], "scores", name="p")])
    assert pipeline_ml_factory(training, inference).input_name == "features"


def test_separately_built_pipelines_with_explicit_input_name() -> None:
    """Training and inference built as two pipelines bind with an explicit input_name."""
    training = Pipeline([node(fit_scaler, "data", "scaler", name="fit")])
    inference = Pipeline([node(identity, "scaler", "out", name="use")])
    # Training produces every inference input here, so input_name must be given.
    pml = pipeline_ml_factory(training, inference, input_name="scaler")
    assert pml.input_name == "scaler"


def test_input_name_may_be_a_training_dataset(training: Pipeline) -> None:
    """input_name can be a dataset training also reads (scoring the raw data's shape)."""
    inference = Pipeline([node(predict, ["data", "scaler", "model"], "scores", name="p")])
    pml = pipeline_ml_factory(training, inference, input_name="data")
    assert pml.input_name == "data"


def test_parameters_are_accepted_inference_inputs(training: Pipeline) -> None:
    """params:... and parameters used only by inference are not free inputs."""
    inference = Pipeline(
        [
            node(predict, ["instances", "scaler", "model"], "scores", name="predict"),
            node(lambda s, t, p: s, ["scores", "params:threshold", "parameters"], "out", name="x"),
        ]
    )
    pml = pipeline_ml_factory(training, inference)
    assert pml.input_name == "instances"
    assert {"params:threshold", "parameters"} <= pml.inference.inputs()


def test_namespaced_pipelines(ds_pipeline: Pipeline) -> None:
    """A namespaced modular pipeline keeps its prefixed names in the PipelineML."""
    namespaced = Pipeline(ds_pipeline, namespace="ds")
    pml = pipeline_ml_factory(
        namespaced.only_nodes_with_tags("training"),
        namespaced.only_nodes_with_tags("inference"),
    )
    assert pml.input_name == "ds.instances"
    assert "ds.scaler" in pml.inference.inputs()
    assert "params:ds.threshold" in pml.inference.inputs()


def test_transcoded_training_output_feeds_inference() -> None:
    """A training output saved as 'model@pickle' satisfies an inference input 'model'."""
    training = Pipeline([node(identity, "data", "model@pickle", name="fit")])
    inference = Pipeline([node(lambda i, m: i, ["instances", "model"], "pred", name="p")])
    pml = pipeline_ml_factory(training, inference)
    assert pml.input_name == "instances"


def test_training_may_be_a_pipelineml(training: Pipeline, inference: Pipeline) -> None:
    """Passing a PipelineML as training reuses its nodes."""
    first = pipeline_ml_factory(training, inference)
    second = pipeline_ml_factory(first, inference, input_name="instances")
    assert set(second.nodes) == set(first.nodes)


def test_repr_shows_counts_and_input_name(training: Pipeline, inference: Pipeline) -> None:
    """repr() gives training and inference node counts and the input name."""
    pml = pipeline_ml_factory(training, inference)
    assert repr(pml) == "PipelineML(training=2 nodes, inference=2 nodes, input_name='instances')"


def test_kpm_kwargs_are_kept(training: Pipeline, inference: Pipeline) -> None:
    """kpm_kwargs are stored and returned as a copy."""
    pml = pipeline_ml_factory(training, inference, kpm_kwargs={"copy_mode": "assign"})
    pml.kpm_kwargs["copy_mode"] = "deepcopy"
    assert pml.kpm_kwargs == {"copy_mode": "assign"}


def test_log_model_kwargs_name_defaults_to_model(training: Pipeline, inference: Pipeline) -> None:
    """name defaults to 'model' and other keys are kept."""
    pml = pipeline_ml_factory(
        training, inference, log_model_kwargs={"registered_model_name": "wine"}
    )
    assert pml.log_model_kwargs == {"registered_model_name": "wine", "name": "model"}


def test_artifact_path_is_mapped_to_name(training: Pipeline, inference: Pipeline) -> None:
    """MLflow 2's artifact_path is renamed name, with a FutureWarning pointing at the call."""
    with pytest.warns(FutureWarning, match="artifact_path") as caught:
        pml = pipeline_ml_factory(training, inference, log_model_kwargs={"artifact_path": "clf"})
    assert pml.log_model_kwargs == {"name": "clf"}
    assert [w.filename for w in caught] == [__file__]
    with pytest.warns(FutureWarning, match="artifact_path") as caught:
        direct = PipelineML(
            training.nodes,
            inference=inference,
            input_name=pml.input_name,
            log_model_kwargs={"artifact_path": "clf"},
        )
    assert [w.filename for w in caught] == [__file__]
    with pytest.warns(FutureWarning, match="artifact_path") as caught:
        direct.log_model_kwargs = {"artifact_path": "other"}
    assert direct.log_model_kwargs == {"name": "other"}
    assert [w.filename for w in caught] == [__file__]


def test_reassigning_inference_and_input_name_revalidates(
    training: Pipeline, inference: Pipeline
) -> None:
    """Valid re-assignments are accepted and visible."""
    pml = pipeline_ml_factory(training, inference)
    smaller = Pipeline([node(predict, ["instances", "scaler", "model"], "scores", name="predict")])
    pml.inference = smaller
    assert pml.inference.outputs() == {"scores"}
    pml.input_name = "instances"
    assert pml.input_name == "instances"
