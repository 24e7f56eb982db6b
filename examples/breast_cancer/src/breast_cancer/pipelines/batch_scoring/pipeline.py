"""Batch scoring: make a large table once, then score it with the registered champion."""

from kedro.pipeline import Pipeline, node

from breast_cancer.pipelines.batch_scoring.nodes import make_scoring_table, score_table


def create_pipeline() -> Pipeline:
    """``make_scoring_table`` (Parquet) and ``score_table`` (Parquet, on Dask)."""
    return Pipeline(
        [
            node(
                make_scoring_table,
                ["raw_data", "params:batch"],
                "scoring_table",
                name="make_scoring_table",
            ),
            node(
                score_table,
                ["champion", "scoring_table", "params:batch"],
                "batch_scores",
                name="score_table",
            ),
        ],
        tags="batch_scoring",
    )
