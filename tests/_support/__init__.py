"""Shared test support: real servers, real Dask clusters and real Kedro projects on disk.

Modules:
    net: free ports, waiting for HTTP/TCP readiness, stopping process groups.
    servers: ``mlflow server``, ``mlflow models serve`` and Dask scheduler/worker processes.
    fixtures: pytest fixtures built on ``servers`` (import them into a ``conftest.py``).
    kedro_project: generate a Kedro 1.x project on disk and run it in-process or via the CLI.
    public_api: a package's documented public surface, read from docs/reference/.

Nothing here imports mlflow, dask or distributed at module level, so the package can be
imported where only ``pipelineml-core`` is installed.
"""

from __future__ import annotations
