"""Load any MLflow model URI against given tracking and registry stores."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from pipelineml.hooks._stores import effective_uris, stores

__all__ = ["load_pyfunc"]


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
