"""Small real pipelines shared by the core tests."""

from __future__ import annotations

import pytest
from kedro.pipeline import Pipeline, node

from tests._support.seed_nodes import fit_model, fit_scaler, postprocess, predict


@pytest.fixture
def ds_pipeline() -> Pipeline:
    """The seed's pattern: one modular pipeline with training and inference tags."""
    return Pipeline(
        [
            node(fit_scaler, "data", "scaler", name="fit_scaler", tags="training"),
            node(
                fit_model,
                ["data", "scaler", "params:alpha"],
                "model",
                name="fit_model",
                tags="training",
            ),
            node(
                predict,
                ["instances", "scaler", "model"],
                "scores",
                name="predict",
                tags="inference",
            ),
            node(
                postprocess,
                ["scores", "params:threshold"],
                "decisions",
                name="postprocess",
                tags="inference",
            ),
        ]
    )


@pytest.fixture
def training(ds_pipeline: Pipeline) -> Pipeline:
    """The training half of ds_pipeline."""
    return ds_pipeline.only_nodes_with_tags("training")


@pytest.fixture
def inference(ds_pipeline: Pipeline) -> Pipeline:
    """The inference half of ds_pipeline."""
    return ds_pipeline.only_nodes_with_tags("inference")
