"""Filters and operators on a PipelineML: what stays a PipelineML and what does not."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

import pytest
from kedro.pipeline import Pipeline, node

from pipelineml.core import PipelineML, PipelineMLWarning, pipeline_ml_factory
from tests._support.seed_nodes import identity


@pytest.fixture
def pml(training: Pipeline, inference: Pipeline) -> PipelineML:
    """A PipelineML with kwargs, so we can check they survive filters."""
    return pipeline_ml_factory(
        training,
        inference,
        kpm_kwargs={"copy_mode": "assign"},
        log_model_kwargs={"name": "clf", "registered_model_name": "m"},
    )


def _assert_same_binding(result: Pipeline, pml: PipelineML) -> None:
    assert isinstance(result, PipelineML)
    assert result.inference is pml.inference
    assert result.input_name == pml.input_name
    assert result.kpm_kwargs == pml.kpm_kwargs
    assert result.log_model_kwargs == pml.log_model_kwargs


KEEPING: dict[str, Callable[[PipelineML], Pipeline]] = {
    "filter()": lambda p: p.filter(),
    "filter(tags)": lambda p: p.filter(tags=["training"]),
    "filter(node_names)": lambda p: p.filter(node_names=["fit_scaler", "fit_model"]),
    "only_nodes_with_tags": lambda p: p.only_nodes_with_tags("training"),
    "from_nodes": lambda p: p.from_nodes("fit_scaler"),
    "to_nodes": lambda p: p.to_nodes("fit_model"),
    "from_inputs": lambda p: p.from_inputs("data"),
    "to_outputs": lambda p: p.to_outputs("model"),
    "tag": lambda p: p.tag("extra"),
    "and": lambda p: p & Pipeline(p.nodes),
    "rand": lambda p: Pipeline(p.nodes) & p,
    "and_same": lambda p: p & p,
}


@pytest.mark.parametrize("operation", sorted(KEEPING))
def test_filters_keep_a_validated_pipelineml(pml: PipelineML, operation: str) -> None:
    """These filters return a PipelineML with the same inference, input name and kwargs."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of these may warn
        result = KEEPING[operation](pml)
    _assert_same_binding(result, pml)
    assert {n.name for n in result.nodes} == {"fit_scaler", "fit_model"}


def test_tag_tags_training_nodes_only(pml: PipelineML) -> None:
    """tag() tags every training node and leaves inference nodes alone."""
    tagged = pml.tag("nightly")
    assert all("nightly" in n.tags for n in tagged.nodes)
    assert not any("nightly" in n.tags for n in tagged.inference.nodes)


FAILING: dict[str, Callable[[PipelineML], Pipeline]] = {
    "to_nodes": lambda p: p.to_nodes("fit_scaler"),
    "to_outputs": lambda p: p.to_outputs("scaler"),
    "filter(node_names)": lambda p: p.filter(node_names=["fit_scaler"]),
    "only_nodes_with_tags": lambda p: p.only_nodes_with_tags("absent"),
    "and": lambda p: p & Pipeline([n for n in p.nodes if n.name == "fit_scaler"]),
}


@pytest.mark.parametrize("operation", sorted(FAILING))
def test_filter_leaving_a_free_input_gives_a_plain_pipeline(
    pml: PipelineML, operation: str
) -> None:
    """A filter that drops the producer of an inference input returns a plain Pipeline of
    the training nodes it selects, without a warning or an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = FAILING[operation](pml)
    assert type(result) is Pipeline
    assert set(result.nodes) < set(pml.nodes)


def test_a_training_input_still_satisfies_inference(pml: PipelineML) -> None:
    """from_nodes('fit_model') keeps 'scaler' as a training input, which rule 3 accepts."""
    result = pml.from_nodes("fit_model")
    assert isinstance(result, PipelineML)
    assert "scaler" in result.inputs()


@pytest.fixture
def branches() -> PipelineML:
    """Two independent training branches, both needed by inference."""
    return pipeline_ml_factory(
        Pipeline(
            [
                node(identity, "data", "encoder", name="fit_encoder"),
                node(identity, "labels", "model", name="fit_model"),
            ]
        ),
        Pipeline([node(lambda i, e, m: i, ["rows", "encoder", "model"], "out", name="p")]),
    )


def test_from_nodes_dropping_a_branch_gives_a_plain_pipeline(branches: PipelineML) -> None:
    """from_nodes() that drops the branch producing 'encoder' returns a plain Pipeline."""
    result = branches.from_nodes("fit_model")
    assert type(result) is Pipeline
    assert [n.name for n in result.nodes] == ["fit_model"]


def test_from_inputs_dropping_a_branch_gives_a_plain_pipeline(branches: PipelineML) -> None:
    """from_inputs() that drops the branch producing 'model' returns a plain Pipeline."""
    result = branches.from_inputs("data")
    assert type(result) is Pipeline
    assert [n.name for n in result.nodes] == ["fit_encoder"]


def test_kedro_resume_hint_on_a_pipelineml_is_quiet(branches: PipelineML) -> None:
    """What Kedro's runners call on the pipeline they run after a node failed (its resume
    hint) neither warns nor raises on a PipelineML."""
    from kedro.io import DataCatalog
    from kedro.runner import SequentialRunner

    hints: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: hints.append(record.getMessage())  # type: ignore[method-assign]
    kedro_logger = logging.getLogger("kedro.runner")
    kedro_logger.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            # Kedro's runners call this with the pipeline, the nodes done and the catalog.
            # fit_model failed after fit_encoder: the hint resumes from fit_model, which
            # from_nodes() on the PipelineML selects without the encoder's branch.
            SequentialRunner()._suggest_resume_scenario(
                branches, [n for n in branches.nodes if n.name == "fit_encoder"], DataCatalog()
            )
    finally:
        kedro_logger.removeHandler(handler)
    assert any('--from-nodes "fit_model"' in hint for hint in hints)


PICKED: dict[str, tuple[str, tuple[object, ...]]] = {
    "only_nodes": ("only_nodes", ("fit_scaler", "fit_model")),
    "only_nodes_with_namespaces": ("only_nodes_with_namespaces", ([],)),
    "only_nodes_with_inputs": ("only_nodes_with_inputs", ("data",)),
    "only_nodes_with_outputs": ("only_nodes_with_outputs", ("model",)),
}


@pytest.mark.parametrize("operation", sorted(PICKED))
def test_node_pickers_return_a_plain_pipeline_quietly(pml: PipelineML, operation: str) -> None:
    """only_nodes and its kind return the plain Pipeline Kedro would, without a warning."""
    method, args = PICKED[operation]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = getattr(pml, method)(*args)
    assert type(result) is Pipeline
    assert result.nodes == getattr(Pipeline(pml.nodes), method)(*args).nodes


PLAIN: dict[str, Callable[[PipelineML], Pipeline]] = {
    "sub": lambda p: p - Pipeline([n for n in p.nodes if n.name == "fit_model"]),
    "or": lambda p: p | Pipeline([node(identity, "z", "y", name="other")]),
    "ror": lambda p: Pipeline([node(identity, "z", "y", name="other")]) | p,
    "add": lambda p: p + Pipeline([node(identity, "z", "y", name="other")]),
    "radd": lambda p: Pipeline([node(identity, "z", "y", name="other")]) + p,
}


@pytest.mark.parametrize("operation", sorted(PLAIN))
def test_other_operations_return_a_plain_pipeline_with_a_warning(
    pml: PipelineML, operation: str
) -> None:
    """These return a plain Pipeline of training nodes combined as Kedro would, and warn."""
    with pytest.warns(PipelineMLWarning, match="plain kedro Pipeline") as caught:
        result = PLAIN[operation](pml)
    assert type(result) is Pipeline
    # The warning points at the line that wrote the operation, in this file.
    assert caught[0].filename == __file__


def test_add_combines_nodes_as_kedro_does(pml: PipelineML) -> None:
    """pml + other has the union of nodes, like Kedro's Pipeline.__add__."""
    other = Pipeline([node(identity, "z", "y", name="other")])
    with pytest.warns(PipelineMLWarning):
        result = pml + other
    assert {n.name for n in result.nodes} == {"fit_scaler", "fit_model", "other"}


def test_adding_two_pipelinemls_gives_a_plain_pipeline(
    pml: PipelineML, inference: Pipeline
) -> None:
    """Two PipelineMLs added together are a plain Pipeline of both, with the warning."""
    other = pipeline_ml_factory(
        Pipeline([node(identity, "d2", "m2", name="fit2")]),
        Pipeline([node(lambda i, m: i, ["rows", "m2"], "out2", name="pred2")]),
    )
    with pytest.warns(PipelineMLWarning):
        result = pml + other
    assert type(result) is Pipeline
    assert {n.name for n in result.nodes} == {"fit_scaler", "fit_model", "fit2"}
    # Neither operand's binding changed.
    assert set(pml.inference.nodes) == set(inference.nodes)
    assert {n.name for n in other.inference.nodes} == {"pred2"}
    assert (pml.input_name, other.input_name) == ("instances", "rows")


def test_intersection_of_pipelinemls_with_different_inference(pml: PipelineML) -> None:
    """& with a PipelineML bound to another inference pipeline cannot stay a PipelineML."""
    other = pipeline_ml_factory(
        Pipeline(pml.nodes),
        Pipeline([node(lambda i, m: i, ["rows", "model"], "out2", name="pred2")]),
    )
    with pytest.warns(PipelineMLWarning):
        result = pml & other
    assert type(result) is Pipeline


def test_session_style_empty_addition_keeps_the_pipelineml(pml: PipelineML) -> None:
    """KedroSession.run does Pipeline([]) + pipelines[name], then filter(): still a PipelineML."""
    combined = Pipeline([])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        combined += pml
        filtered = combined.filter(tags=None, node_names=None)
    assert combined is pml
    _assert_same_binding(filtered, pml)


@pytest.mark.parametrize(
    "operation",
    [
        lambda p: p + Pipeline([]),
        lambda p: Pipeline([]) + p,
        lambda p: p | Pipeline([]),
        lambda p: p - Pipeline([]),
        lambda p: sum([p]),
    ],
    ids=["add", "radd", "or", "sub", "sum"],
)
def test_empty_pipeline_operations_keep_the_pipelineml(
    pml: PipelineML, operation: Callable[[PipelineML], Pipeline]
) -> None:
    """Combining with an empty pipeline (or sum()) returns the PipelineML itself."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert operation(pml) is pml


def test_filter_with_no_node_left_raises_kedro_error(pml: PipelineML) -> None:
    """Kedro's own 'no nodes after filtering' error is kept."""
    with pytest.raises(ValueError, match="no nodes after applying all provided filters"):
        pml.filter(tags=["absent"])


def test_namespaced_pipelineml_filters(ds_pipeline: Pipeline) -> None:
    """Namespace filtering with only_nodes_with_namespaces returns a plain pipeline."""
    namespaced = Pipeline(ds_pipeline, namespace="ds")
    pml = pipeline_ml_factory(
        namespaced.only_nodes_with_tags("training"),
        namespaced.only_nodes_with_tags("inference"),
    )
    result = pml.only_nodes_with_namespaces(["ds"])
    assert type(result) is Pipeline
    assert {n.name for n in result.nodes} == {"ds.fit_scaler", "ds.fit_model"}
    kept = pml.filter(node_namespaces=["ds"])
    assert isinstance(kept, PipelineML)
