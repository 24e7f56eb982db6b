"""Shared test support: real servers, real Dask clusters and real Kedro projects on disk.

Modules:
    net: free ports, waiting for HTTP/TCP readiness, stopping process groups.
    process: the interpreter and environment of test subprocesses.
    servers: ``mlflow server``, ``mlflow models serve`` and Dask scheduler/worker processes.
    fixtures: pytest fixtures built on ``servers`` (import them into a ``conftest.py``).
    kedro_project: ``make_kedro_project``, the one generator of Kedro 1.x projects on disk,
        and running them in-process or via the CLI.
    toy_project, run_project, trained_project: the projects the hooks, run-outcome and
        end-to-end tests generate with it (their nodes, catalogs, registries).
    seed_nodes, datasets: node functions and file datasets of the core tests (Kedro only).
    toy_nodes, toy_model, observing_datasets: the in-process training/inference pair of
        the hooks tests and datasets that record how they are used.
    mlflow_store: SQLite store URIs, isolated stores, read-only queries.
    batch_frames, batch_fixtures: partitions and fixtures of the batch-scoring tests.
    local_distribution: a distribution installed from a local path.
    public_api: a package's documented public surface, read from docs/reference/.
    runners: pipelineml's and Kedro's runners side by side (factories, hook recorders,
        recording datasets, ``managed``); dask_nodes: node functions Dask workers import.

The package itself imports nothing, and the modules the core tests use (``seed_nodes``,
``datasets``) import Kedro alone, so the core tests run where only ``pipelineml-core`` is
installed.
"""

from __future__ import annotations
