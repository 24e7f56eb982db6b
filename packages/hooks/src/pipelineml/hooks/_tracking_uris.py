"""The tracking and registry URIs a run uses, told apart from the ones an earlier run exported.

``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI`` (and the registry likewise),
so a value found there later may be the one a previous run of this process set, not the
user's. The user's values are kept from before the first export.
"""

from __future__ import annotations

import os

import mlflow

_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
_user_environ: dict[str, str | None] = {}
_exported_environ: dict[str, str | None] = {}


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
    """Point MLflow at these stores, remembering what the user had set."""
    for variable in _URI_VARIABLES:
        current = os.environ.get(variable)
        if variable not in _exported_environ or current != _exported_environ[variable]:
            _user_environ[variable] = current
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(registry_uri)
    for variable in _URI_VARIABLES:
        _exported_environ[variable] = os.environ.get(variable)
