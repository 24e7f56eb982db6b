"""Training and inference of the tumour classifier, in one modular pipeline."""

from breast_cancer.pipelines.classifier.pipeline import create_pipeline

__all__ = ["create_pipeline"]
