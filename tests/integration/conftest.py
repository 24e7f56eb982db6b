"""Fixtures of the integration tests: real servers and clusters from ``tests._support``."""

from __future__ import annotations

from tests._support.fixtures import dask_cluster, local_cluster, mlflow_server  # noqa: F401
