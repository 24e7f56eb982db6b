"""``MlflowArtifactDataset``: any file-based Kedro dataset whose file is logged to the run."""

from __future__ import annotations

import copy
import posixpath
import shutil
import tempfile
import weakref
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from kedro.io import AbstractDataset, AbstractVersionedDataset, DatasetError

from pipelineml.hooks.tracking._run_binding import RunBound

__all__ = ["MlflowArtifactDataset"]

# Where Kedro's file datasets keep their location, in the order they are looked for.
_PATH_KEYS = ("filepath", "path")


class MlflowArtifactDataset(RunBound, AbstractDataset[Any, Any]):
    """Wraps a file-based Kedro dataset: its file (or folder) is logged to the run.

    ``save`` saves through the wrapped dataset, then logs what it wrote to the MLflow run
    of the ``kedro run`` under ``<artifact_path>/<file name>``, at once and from wherever
    the node runs (a thread, a Dask worker): a run that fails later keeps it. A versioned
    wrapped dataset logs the version this run saved. ``load`` reads the local file, or,
    with ``run_id``, the file that run logged (downloaded first).

    Example (``catalog.yml``):
        ```yaml
        confusion_matrix:
          type: pipelineml.hooks.MlflowArtifactDataset
          artifact_path: reports
          dataset:
            type: json.JSONDataset
            filepath: data/08_reporting/confusion_matrix.json
        ```
    """

    __module__ = "pipelineml.hooks"  # its public import path

    def __init__(
        self,
        dataset: dict[str, Any] | str,
        artifact_path: str | None = None,
        run_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            dataset: The wrapped dataset's configuration (``{"type": ..., "filepath":
                ...}``, ``versioned: true`` accepted), or its type alone when the type
                needs no other argument. Its file must be on the local filesystem.
            artifact_path: The run's folder the file is logged under (the run's root
                when omitted).
            run_id: The run whose logged file ``load`` reads; the local file when
                omitted. A save always logs into the run of the ``kedro run``.
            metadata: Free-form metadata, ignored by Kedro.

        Raises:
            DatasetError: When the wrapped dataset cannot be built or has no local path.
        """
        super().__init__()
        config: dict[str, Any] = (
            {"type": dataset} if isinstance(dataset, str) else copy.deepcopy(dict(dataset))
        )
        if not isinstance(config.get("type"), str | type):
            raise DatasetError(
                "MlflowArtifactDataset 'dataset' must be a dataset type or a configuration "
                f"with a 'type' key (e.g. {{type: json.JSONDataset, filepath: ...}}), got "
                f"{dataset!r}."
            )
        key = next((k for k in _PATH_KEYS if config.get(k)), None)
        if key is None:
            raise DatasetError(
                f"MlflowArtifactDataset wraps {config['type']!r} without a local file: give "
                f"its 'filepath' (or 'path') in 'dataset', the file that is logged to MLflow."
            )
        location = str(config[key])
        scheme = urlsplit(location).scheme
        if scheme == "file":
            location = urlsplit(location).path
        elif len(scheme) > 1:  # a Windows drive letter is no protocol
            raise DatasetError(
                f"MlflowArtifactDataset logs local files; the wrapped dataset's {key} "
                f"'{location}' is on '{scheme}'. Wrap a dataset writing to a local path."
            )
        if artifact_path is not None and (
            not isinstance(artifact_path, str) or PurePosixPath(artifact_path).is_absolute()
        ):
            raise DatasetError(
                "MlflowArtifactDataset artifact_path must be a relative folder of the run "
                f"(e.g. 'reports'), got {artifact_path!r}."
            )
        # Absolute from the session's working directory (the project's root), so the
        # file is the same wherever a copy of this dataset saves it.
        self._local = Path(location).absolute()
        config[key] = self._local.as_posix()
        self._config = config
        self._path_key = key
        self._wrapped = self._build(config)
        self._artifact_path = artifact_path or None
        self._run_id = run_id
        self._downloads: Path | None = None
        self.metadata = metadata

    @staticmethod
    def _build(config: dict[str, Any]) -> AbstractDataset[Any, Any]:
        try:
            return AbstractDataset.from_config("MlflowArtifactDataset.dataset", dict(config))
        except DatasetError as exc:
            raise DatasetError(f"MlflowArtifactDataset cannot build its dataset: {exc}") from exc

    @property
    def artifact_path(self) -> str | None:
        """The run's folder the file is logged under (``None``: the run's root)."""
        return self._artifact_path

    @property
    def run_id(self) -> str | None:
        """The run ``load`` reads from (``None``: the local file)."""
        return self._run_id

    @property
    def artifact(self) -> str:
        """The file's path in the run: ``<artifact_path>/<file name>``."""
        name = self._local.name
        return posixpath.join(self._artifact_path, name) if self._artifact_path else name

    def _saved_path(self) -> Path:
        """Where the wrapped dataset's last save wrote (a versioned one: in its version)."""
        version = (
            self._wrapped.resolve_save_version()
            if isinstance(self._wrapped, AbstractVersionedDataset)
            else None
        )
        if version is None:
            return self._local
        # Kedro's documented layout of a versioned file: <filepath>/<version>/<name>.
        return self._local / version / self._local.name

    def load(self) -> Any:
        if self._run_id is None:
            return self._wrapped.load()
        client, run_id = self._client_for(self._run_id)
        folder = self._download_folder()
        try:
            local = client.download_artifacts(run_id, self.artifact, folder.as_posix())
        except Exception as exc:
            raise DatasetError(
                f"{self._label()} cannot read '{self.artifact}' from MLflow run {run_id}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        config = {k: v for k, v in self._config.items() if k != "versioned"}
        config[self._path_key] = Path(local).as_posix()
        return self._build(config).load()

    def _download_folder(self) -> Path:
        """A folder of this dataset's own for downloads, removed with the dataset.

        Not removed after each load: a dataset that loads lazily (a PartitionedDataset's
        partitions, a Dask frame) reads the files after ``load`` returns.
        """
        folder = self._downloads
        if folder is None or not folder.is_dir():
            folder = Path(tempfile.mkdtemp(prefix="pipelineml-artifact-"))
            weakref.finalize(self, shutil.rmtree, folder, True)
            self._downloads = folder
        return folder

    def save(self, data: Any) -> None:
        self._wrapped.save(data)
        if self._binding is None:
            # Tracking is off for this pipeline (mlflow.yml), or no kedro run is tracked.
            return
        path = self._saved_path()
        client, run_id = self._binding.client(), self._binding.run_id
        try:
            if path.is_dir():
                client.log_artifacts(run_id, path.as_posix(), self.artifact)
            else:
                client.log_artifact(run_id, path.as_posix(), self._artifact_path)
        except Exception as exc:
            raise DatasetError(
                f"{self._label()} saved {path} but could not log it to MLflow run {run_id} "
                f"as '{self.artifact}': {type(exc).__name__}: {exc}"
            ) from exc

    def _exists(self) -> bool:
        if self._run_id is None:
            return bool(self._wrapped.exists())
        client, run_id = self._client_for(self._run_id)
        folder = posixpath.dirname(self.artifact) or None
        return any(info.path == self.artifact for info in client.list_artifacts(run_id, folder))

    def _describe(self) -> dict[str, Any]:
        return {
            "dataset": self._config.get("type"),
            self._path_key: self._local.as_posix(),
            "artifact_path": self._artifact_path,
            "run_id": self._run_id,
        }
