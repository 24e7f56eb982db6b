"""Load any MLflow model URI against given tracking and registry stores."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["effective_uris", "load_pyfunc", "stores"]


def effective_uris(tracking_uri: str | None, registry_uri: str | None) -> tuple[str, str]:
    """The stores a load uses: the given ones, else MLflow's current ones (the hook's)."""
    import mlflow

    tracking = tracking_uri or mlflow.get_tracking_uri()
    registry = registry_uri or (tracking_uri if tracking_uri else mlflow.get_registry_uri())
    return tracking, registry


_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
_stores_lock = threading.Lock()


@contextlib.contextmanager
def stores(tracking: str, registry: str) -> Iterator[None]:
    """MLflow's current stores are ``tracking`` and ``registry`` inside the block."""
    # MLflow resolves the source of a model version (models:/m-...) against its current
    # tracking store whatever URIs a call passes, so the stores are set for the load and put
    # back afterwards, environment variables included (mlflow.set_*_uri exports them).
    import mlflow

    if (tracking, registry) == (mlflow.get_tracking_uri(), mlflow.get_registry_uri()):
        yield
        return
    with _stores_lock:
        saved_environ = {name: os.environ.get(name) for name in _URI_VARIABLES}
        saved = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(registry)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(saved[0])
            mlflow.set_registry_uri(saved[1])
            for name, value in saved_environ.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def load_pyfunc(
    model_uri: str,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    *,
    error: type[Exception],
) -> Any:
    """``mlflow.pyfunc.load_model(model_uri)`` against the given stores.

    MLflow's process-wide stores are the given ones during the load only.

    Raises:
        error: Naming the URI and the stores it was looked up in, when it does not resolve
            or does not load.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    tracking, registry = effective_uris(tracking_uri, registry_uri)
    try:
        with stores(tracking, registry):
            if os.path.isdir(model_uri):
                local = model_uri
            else:
                # Kept after loading, as MLflow does: a flavor may read its files lazily.
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=model_uri,
                    dst_path=tempfile.mkdtemp(prefix="pipelineml-model-"),
                    tracking_uri=tracking,
                    registry_uri=registry,
                )
            return mlflow.pyfunc.load_model(local)
    except (MlflowException, OSError) as exc:
        # MLflow's own message may end with a full stop; ours follows it.
        reason = str(getattr(exc, "message", None) or exc).rstrip().rstrip(".")
        raise error(
            f"Could not load the MLflow model {model_uri!r} (tracking store {tracking!r}, "
            f"model registry {registry!r}): {reason}. Check the "
            "URI (models:/<name>/<version>, models:/<name>@<alias>, models:/m-<id>, "
            "runs:/<run id>/<path> or a local folder) and the stores."
        ) from exc
