"""Nightly-style batch scoring: the registered champion scores a large Parquet table."""

from breast_cancer.pipelines.batch_scoring.pipeline import create_pipeline

__all__ = ["create_pipeline"]
