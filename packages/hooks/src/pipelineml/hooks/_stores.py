"""MLflow's process-wide tracking and registry URIs: the one module that changes them.

A tracked ``kedro run`` points MLflow at its stores for the rest of the process
(``export_uris``), as ``mlflow.set_tracking_uri`` does; loading a model against given stores
points MLflow there for the load only (``stores``), then puts everything back.

``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI`` (and the registry
likewise), so a value found there later may be the one a previous run of this process set,
not the user's: the user's values are kept from before the first export.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import mlflow

from pipelineml.hooks.environment._mlflow_internals import uris_set_in_process

_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
_user_environ: dict[str, str | None] = {}
_exported_environ: dict[str, str | None] = {}
_stores_lock = threading.Lock()


def user_uri_environ() -> dict[str, str | None]:
    """The URI variables as the user set them, not as an earlier run exported them."""
    environ: dict[str, str | None] = {}
    for variable in _URI_VARIABLES:
        current = os.environ.get(variable)
        if variable in _exported_environ and current == _exported_environ[variable]:
            environ[variable] = _user_environ.get(variable)
        else:
            environ[variable] = current
    return environ


def export_uris(tracking_uri: str, registry_uri: str) -> None:
    """Point MLflow at these stores for the rest of the process, remembering the user's."""
    for variable in _URI_VARIABLES:
        current = os.environ.get(variable)
        if variable not in _exported_environ or current != _exported_environ[variable]:
            _user_environ[variable] = current
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(registry_uri)
    for variable in _URI_VARIABLES:
        _exported_environ[variable] = os.environ.get(variable)


def effective_uris(tracking_uri: str | None, registry_uri: str | None) -> tuple[str, str]:
    """The stores a load uses: the given ones, else MLflow's current ones (the hook's)."""
    tracking = tracking_uri or mlflow.get_tracking_uri()
    registry = registry_uri or (tracking_uri if tracking_uri else mlflow.get_registry_uri())
    return tracking, registry


@contextlib.contextmanager
def stores(tracking: str, registry: str) -> Iterator[None]:
    """MLflow's current stores are ``tracking`` and ``registry`` inside the block."""
    # MLflow resolves the source of a model version (models:/m-...) against its current
    # tracking store whatever URIs a call passes, so the stores are set for the load and put
    # back afterwards, environment variables included (mlflow.set_*_uri exports them).
    if (tracking, registry) == (mlflow.get_tracking_uri(), mlflow.get_registry_uri()):
        yield
        return
    with _stores_lock:
        saved_environ = {name: os.environ.get(name) for name in _URI_VARIABLES}
        # What was set, not what MLflow resolves: putting back a resolved default would pin
        # it (a registry left at ./mlflow.db after the tracking store moves).
        saved = uris_set_in_process()
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(registry)
        try:
            yield
        finally:
            # None is MLflow's "unset": back to its environment variable, or its default.
            mlflow.set_tracking_uri(saved[0])  # type: ignore[arg-type]
            mlflow.set_registry_uri(saved[1])  # type: ignore[arg-type]
            for name, value in saved_environ.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
