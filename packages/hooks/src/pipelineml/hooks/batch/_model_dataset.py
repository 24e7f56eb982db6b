"""``MlflowModelDataset``: a logged or registered MLflow model as a read-only Kedro dataset."""

from __future__ import annotations

from typing import Any

from kedro.io import AbstractDataset, DatasetError

from pipelineml.hooks._stores import effective_uris, stores
from pipelineml.hooks.batch._model_loading import load_pyfunc

__all__ = ["MlflowModelDataset"]


class MlflowModelDataset(AbstractDataset[None, Any]):
    """Loads an MLflow model (any URI) as a pyfunc model; models are never saved through it.

    Models are logged by training runs (``MlflowHook``) or ``log_pipeline_model``; this
    dataset puts one of them, typically the registered champion, in a Kedro catalog, for
    example as the model of a batch-scoring pipeline (see ``batch_predict``).

    Example (``catalog.yml``):
        ```yaml
        champion:
          type: pipelineml.hooks.MlflowModelDataset
          model_uri: models:/breast_cancer_classifier@champion
        ```

    Without ``tracking_uri``/``registry_uri`` the model is looked up where MLflow currently
    points, which in a ``kedro run`` is where ``MlflowHook`` set the session's stores.
    """

    __module__ = "pipelineml.hooks"  # its public import path

    def __init__(
        self,
        model_uri: str,
        tracking_uri: str | None = None,
        registry_uri: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset; nothing is looked up until ``load``.

        Args:
            model_uri: ``models:/<name>/<version>``, ``models:/<name>@<alias>``,
                ``models:/m-<id>``, ``runs:/<run id>/<path>`` or a local model folder.
            tracking_uri: The tracking store; defaults to MLflow's current one.
            registry_uri: The model registry; defaults to ``tracking_uri`` when that is
                given, else to MLflow's current registry.
            metadata: Free-form metadata, ignored by Kedro.

        Raises:
            DatasetError: When ``model_uri`` is empty or not a string.
        """
        if not isinstance(model_uri, str) or not model_uri.strip():
            raise DatasetError(
                f"MlflowModelDataset needs a model_uri such as 'models:/<name>@<alias>', got "
                f"{model_uri!r}."
            )
        self._model_uri = model_uri
        self._tracking_uri = tracking_uri
        self._registry_uri = registry_uri
        self.metadata = metadata

    @property
    def model_uri(self) -> str:
        """The MLflow model URI this dataset loads."""
        return self._model_uri

    def load(self) -> Any:
        """The loaded ``mlflow.pyfunc.PyFuncModel``.

        Raises:
            DatasetError: Naming the URI and the stores, when it does not resolve.
        """
        return load_pyfunc(
            self._model_uri, self._tracking_uri, self._registry_uri, error=DatasetError
        )

    def save(self, data: None) -> None:
        """Refused: this dataset is read-only.

        Raises:
            DatasetError: Always.
        """
        raise DatasetError(
            f"MlflowModelDataset({self._model_uri!r}) is read-only: models are logged by "
            "training runs (MlflowHook, with a PipelineML) or by "
            "pipelineml.hooks.log_pipeline_model, not saved through the catalog."
        )

    def _exists(self) -> bool:
        import mlflow
        from mlflow.exceptions import MlflowException

        tracking, registry = effective_uris(self._tracking_uri, self._registry_uri)
        try:
            with stores(tracking, registry):
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"{self._model_uri.rstrip('/')}/MLmodel",
                    tracking_uri=tracking,
                    registry_uri=registry,
                )
        except (MlflowException, OSError):
            return False
        return True

    def _describe(self) -> dict[str, Any]:
        return {
            "model_uri": self._model_uri,
            "tracking_uri": self._tracking_uri,
            "registry_uri": self._registry_uri,
        }
