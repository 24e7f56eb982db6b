"""A pipelineml example: screen tumours with a classifier trained and served from Kedro."""

__version__ = "0.1.0"
