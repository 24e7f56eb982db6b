"""The project's pipelines: ``training`` is a PipelineML bound to ``inference``."""

from kedro.pipeline import Pipeline

from breast_cancer.pipelines import batch_scoring, classifier
from pipelineml.core import pipeline_ml_factory


def register_pipelines() -> dict[str, Pipeline]:
    """Register ``training``, ``inference``, ``batch_scoring`` and ``__default__`` (= training)."""
    model_pipeline = classifier.create_pipeline()
    training = pipeline_ml_factory(
        training=model_pipeline.only_nodes_with_tags("training"),
        inference=model_pipeline.only_nodes_with_tags("inference"),
        # "instances" is also written by training (a scoring sample), so it is named here.
        input_name="instances",
        log_model_kwargs={"registered_model_name": "breast_cancer_classifier"},
    )
    return {
        "training": training,
        "inference": model_pipeline.only_nodes_with_tags("inference"),
        "batch_scoring": batch_scoring.create_pipeline(),
        "__default__": training,
    }
