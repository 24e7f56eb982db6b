"""One modular pipeline; nodes are tagged "training" or "inference"."""

from kedro.pipeline import Pipeline, node

from breast_cancer.pipelines.classifier.nodes import (
    evaluate,
    evaluation_report,
    fit_imputer,
    fit_scaler,
    impute,
    load_raw_data,
    predict,
    scale,
    split_data,
    train_model,
)


def create_pipeline() -> Pipeline:
    """Training fits an imputer, a scaler and a model; inference applies all three."""
    training = Pipeline(
        [
            node(load_raw_data, None, "raw_data", name="load_raw_data"),
            node(
                split_data,
                ["raw_data", "params:split"],
                ["train_features", "test_features", "train_labels", "test_labels", "instances"],
                name="split_data",
            ),
            node(fit_imputer, "train_features", "imputer", name="fit_imputer"),
            node(fit_scaler, ["train_features", "imputer"], "scaler", name="fit_scaler"),
            node(
                train_model,
                ["train_features", "train_labels", "imputer", "scaler", "params:model"],
                "model",
                name="train_model",
            ),
            node(
                evaluate,
                ["test_features", "test_labels", "imputer", "scaler", "model", "params:threshold"],
                "metrics",
                name="evaluate",
            ),
            node(
                evaluation_report,
                ["test_features", "test_labels", "imputer", "scaler", "model", "params:threshold"],
                ["confusion_matrix", "recall_by_threshold"],
                name="evaluation_report",
            ),
        ],
        tags="training",
    )
    inference = Pipeline(
        [
            node(impute, ["instances", "imputer"], "imputed", name="impute"),
            node(scale, ["imputed", "scaler"], "scaled", name="scale"),
            node(predict, ["scaled", "model", "params:threshold"], "predictions", name="predict"),
        ],
        tags="inference",
    )
    return training + inference
