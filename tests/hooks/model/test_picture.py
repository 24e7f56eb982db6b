"""The picture of an inference pipeline: SVG with every node, input, artifact and output."""

from __future__ import annotations

from xml.etree import ElementTree

from kedro.pipeline import Pipeline, node

from pipelineml.core import pipeline_ml_factory
from pipelineml.hooks import pipeline_picture
from tests._support.toy_model import toy_pipeline_ml, training_pipeline

SVG = "{http://www.w3.org/2000/svg}"


def _scale(instances: object, scaler: object) -> object:
    return instances


def _finish(scaled: object) -> object:
    return scaled


def _boxes(svg: str) -> dict[str, str]:
    """``{label: outline colour}`` of every box of the picture."""
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    rects = list(root.iter(f"{SVG}rect"))
    texts = list(root.iter(f"{SVG}text"))
    return {
        str(text.text): rect.get("stroke", "") for rect, text in zip(rects, texts, strict=False)
    }


def test_picture_shows_what_the_model_runs_and_where_its_artifacts_come_from() -> None:
    """Node, request, fitted artifacts with their training nodes, parameter and answer."""
    boxes = _boxes(pipeline_picture(toy_pipeline_ml()))

    assert boxes["predict"] == "#212121"  # a node
    assert boxes["instances"] == "#2e7d32"  # the request
    assert boxes["scaler"] == boxes["model"] == "#1565c0"  # fitted artifacts
    assert boxes["trained by fit_scaler"] == boxes["trained by fit_model"] == "#9e9e9e"
    assert boxes["params:threshold"] == "#616161"
    assert boxes["predictions"] == "#ef6c00"


def test_a_chain_is_drawn_top_to_bottom_narrow_and_in_memory_data_is_not_an_artifact() -> None:
    """Two inference nodes: the data between them drawn as passed data, each row below."""
    inference = Pipeline(
        [
            node(_scale, ["instances", "scaler"], "scaled", name="scale"),
            node(_finish, "scaled", "predictions", name="finish"),
        ]
    )
    pml = pipeline_ml_factory(training_pipeline(), inference, input_name="instances")
    svg = pipeline_picture(pml)
    root = ElementTree.fromstring(svg)
    y = {str(text.text): float(text.get("y", "0")) for text in root.iter(f"{SVG}text")}
    boxes = _boxes(svg)

    assert y["scale"] < y["scaled"] < y["finish"] < y["predictions"]
    assert boxes["scaled"] == "#9e9e9e"  # data passed between nodes, in memory
    assert boxes["scaler"] == "#1565c0"  # an artifact
    assert int(root.get("width", "0")) <= 800  # fits MLflow's viewer and the docs' column
