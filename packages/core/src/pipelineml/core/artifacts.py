"""What an inference pipeline needs from the catalog to travel as one model.

Every inference input other than ``input_name`` is an *artifact*: either a parameter (its
value is pickled) or a dataset persisted to a file or folder, local or on any filesystem
fsspec reaches, versioned or not (its data travels, and a configuration of the same
dataset type, without credentials, loads the copy).

``PipelineML.extract_pipeline_artifacts`` and the hooks package's ``KedroPipelineModel``
both build on :func:`describe_artifacts`.
"""

from __future__ import annotations

import copy
import pickle
import re
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kedro.io import AbstractVersionedDataset, MemoryDataset
from kedro.io.core import DatasetError, get_protocol_and_path

from pipelineml.core._artifact_files import (
    Location,
    copy_to,
    filesystem,
    locate,
    location_key,
    portable_config,
    scrub,
    secret_values,
)
from pipelineml.core._kedro import catalog_config, catalog_names
from pipelineml.core._names import did_you_mean, is_parameter, parameter_path, sorted_names
from pipelineml.core._validation import check_inference
from pipelineml.core.errors import PipelineMLError

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline

__all__ = [
    "InferenceArtifact",
    "artifact_names",
    "artifact_paths",
    "artifact_problems",
    "artifact_store",
    "check_inference",
    "dataset_location",
    "describe_artifacts",
    "extract_artifacts",
    "fetch_remote",
    "parameter_file_name",
    "repoint_config",
    "survey_artifacts",
]


@dataclass(frozen=True)
class InferenceArtifact:
    """One inference input that travels with the model.

    Attributes:
        name: The dataset name in the inference pipeline.
        kind: ``"parameter"`` (value pickled) or ``"dataset"`` (a file or folder).
        path: For a dataset on the local filesystem, the file or folder holding the data
            (the version's, for a versioned dataset).
        config: For datasets, how the model loads its copy: the catalog configuration of the
            dataset (``type``, load/save arguments...) without credentials, versioning or the
            store's filesystem arguments.
        location: For datasets, where the catalog keeps the data (a local path or a URL,
            without credentials), the version's for a versioned dataset.
        version: For a versioned dataset, the version the model holds.
    """

    name: str
    kind: Literal["parameter", "dataset"]
    path: Path | None = None
    config: dict[str, Any] = field(default_factory=dict)
    location: str | None = None
    version: str | None = None


def artifact_names(inference: Pipeline, input_name: str) -> list[str]:
    """The inference inputs other than ``input_name``, sorted."""
    return sorted_names(name for name in inference.inputs() if name != input_name)


def parameter_file_name(name: str) -> str:
    """A portable file name for a parameter: ``"params:model.alpha"`` -> ``params_model.alpha.pkl``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".pkl"


_FILE_DATASET = (
    "persist it to a file or folder in the catalog (for example pickle.PickleDataset with a "
    "filepath, local or on s3://, gs://, abfs://...), or make it a parameter"
)


class _CatalogView:
    """What describing artifacts reads from a catalog, read once: its configuration."""

    def __init__(self, catalog: CatalogProtocol[Any, Any]) -> None:
        self.catalog = catalog
        self._config: dict[str, dict[str, Any]] | None = None

    def config(self) -> dict[str, dict[str, Any]]:
        if self._config is None:
            config = catalog_config(self.catalog)
            if config is None:
                raise PipelineMLError(
                    f"The catalog ({type(self.catalog).__name__}) has no to_config(): "
                    "pipelineml needs a kedro DataCatalog to find where inference inputs "
                    "are persisted."
                )
            self._config = config
        return self._config


def _describe(view: _CatalogView, name: str, saved: Collection[str]) -> InferenceArtifact:
    """Where one artifact input's data lives, or a PipelineMLError saying why it cannot travel."""
    catalog = view.catalog
    if is_parameter(name):
        if name not in catalog:
            known = [n for n in catalog_names(catalog) if n.startswith("params:")]
            raise PipelineMLError(
                f"Parameter '{name}' used by the inference pipeline is not defined: add "
                f"'{parameter_path(name) or name}' to conf/base/parameters.yml (or pass it with "
                f"kedro run --params).{did_you_mean(name, known)}"
            )
        return InferenceArtifact(name=name, kind="parameter")
    dataset = catalog.get(name)  # resolves dataset factory patterns
    if dataset is None:
        known = [n for n in catalog_names(catalog) if not is_parameter(n)]
        raise PipelineMLError(
            f"Inference input '{name}' is not in the catalog (neither declared nor "
            "matched by a dataset factory pattern), so Kedro would keep it in memory and "
            f"it could not be logged with the model: {_FILE_DATASET}."
            f"{did_you_mean(name, known)}"
        )
    if isinstance(dataset, MemoryDataset):
        raise PipelineMLError(
            f"Inference input '{name}' is a MemoryDataset, so it cannot be logged with the "
            f"model: {_FILE_DATASET}."
        )
    config = copy.deepcopy(view.config().get(name, {}))
    dataset_type = config.get("type", type(dataset).__name__)
    if location_key(config) is None:
        # A table in a database, say: pipelineml copies an artifact's files into the model,
        # and a table has none (see the "Where artifacts may live" docs).
        raise PipelineMLError(
            f"Inference input '{name}' ({dataset_type}) has no 'filepath' (or 'path') in its "
            "catalog configuration, so there is no file to carry in the model: "
            f"{_FILE_DATASET}."
        )
    if config.get("versioned") and not isinstance(dataset, AbstractVersionedDataset):
        raise PipelineMLError(
            f"Inference input '{name}' is configured as versioned but its dataset "
            f"({dataset_type}) does not support versions."
        )
    try:
        location = locate(dataset, config, saved=name in saved)
    except DatasetError as exc:
        raise PipelineMLError(
            f"Inference input '{name}' is versioned but {exc}: run the training pipeline "
            "(which saves it) first, or pin a version that exists with "
            f"kedro run --load-versions={name}:<version>."
        ) from exc
    return InferenceArtifact(
        name=name,
        kind="dataset",
        path=Path(location.path) if location.is_local else None,
        config=portable_config(config),
        location=location.url,
        version=location.version,
    )


def describe_artifacts(
    catalog: CatalogProtocol[Any, Any],
    inference: Pipeline,
    input_name: str,
    saved: Collection[str] = (),
) -> dict[str, InferenceArtifact]:
    """Check every artifact input against the catalog and say where its data lives.

    Dataset factory patterns are resolved, so a dataset that exists only through a
    ``{name}`` pattern counts. Files are not required to exist yet.

    Args:
        catalog: The catalog training used.
        inference: The inference pipeline.
        input_name: Its input that receives the data to score.
        saved: The datasets the training run saves: a versioned one is the version this
            run saved (the catalog's save version), not the latest there is.

    Raises:
        PipelineMLError: When an input is not in the catalog, is a ``MemoryDataset``, has
            no file, is versioned without a version, or is a parameter that is not
            defined; the message names it.
    """
    view = _CatalogView(catalog)
    return {name: _describe(view, name, saved) for name in artifact_names(inference, input_name)}


def survey_artifacts(
    catalog: CatalogProtocol[Any, Any],
    inference: Pipeline,
    input_name: str,
    saved: Collection[str] = (),
) -> tuple[dict[str, InferenceArtifact], dict[str, str]]:
    """``describe_artifacts`` for every input at once: the ones that can travel, described,
    and ``{input name: the message of its problem}`` for the others."""
    view = _CatalogView(catalog)
    described: dict[str, InferenceArtifact] = {}
    problems: dict[str, str] = {}
    for name in artifact_names(inference, input_name):
        try:
            described[name] = _describe(view, name, saved)
        except PipelineMLError as exc:
            problems[name] = str(exc)
    return described, problems


def artifact_problems(
    catalog: CatalogProtocol[Any, Any],
    inference: Pipeline,
    input_name: str,
    saved: Collection[str] = (),
) -> dict[str, str]:
    """What ``describe_artifacts`` would refuse, for every artifact input at once.

    Returns:
        ``{input name: the message of its problem}``; empty when every input can travel.
    """
    return survey_artifacts(catalog, inference, input_name, saved)[1]


def extract_artifacts(
    catalog: CatalogProtocol[Any, Any],
    inference: Pipeline,
    input_name: str,
    parameters_saving_folder: str | Path | None = None,
) -> dict[str, str]:
    """``{name: local path}`` for ``mlflow.pyfunc.log_model(artifacts=...)``.

    Parameters are pickled, and remote data copied, into ``parameters_saving_folder`` (a new
    temporary folder when omitted; the caller owns it).

    Raises:
        PipelineMLError: When an input cannot travel (see ``describe_artifacts``), or its
            data is not where the catalog says.
    """
    described = describe_artifacts(catalog, inference, input_name)
    return artifact_paths(catalog, described, parameters_saving_folder)


def dataset_location(artifact: InferenceArtifact) -> Location:
    """The location an artifact was described at (its protocol, path and version)."""
    assert artifact.location is not None
    protocol, path = get_protocol_and_path(artifact.location)
    return Location(protocol, path, artifact.location, artifact.version)


def _credentials(config: Mapping[str, Any], credentials: Mapping[str, Any]) -> dict[str, Any]:
    # to_config() names a dataset's credentials by a reference, and gives them apart.
    reference = config.get("credentials")
    if isinstance(reference, Mapping):
        return dict(reference)
    found = credentials.get(reference) if isinstance(reference, str) else None
    return dict(found) if isinstance(found, Mapping) else {}


def artifact_store(catalog: CatalogProtocol[Any, Any], name: str) -> tuple[Any, list[str]]:
    """The fsspec filesystem of input ``name``'s dataset (its own credentials and
    ``fs_args``), and the secret values no message may show.

    Raises:
        Exception: Whatever building the filesystem raises (a library not installed...).
    """
    full = catalog.to_config()  # type: ignore[attr-defined]  # a DataCatalog, as described
    config, credentials = full[0].get(name, {}), full[1]
    secrets = _credentials(config, credentials)
    return filesystem(catalog.get(name), config, secrets), secret_values(secrets)


def fetch_remote(
    catalog: CatalogProtocol[Any, Any], artifact: InferenceArtifact, target: Path
) -> Path:
    """Copy a remote artifact's data through its dataset's own filesystem into ``target``.

    Raises:
        PipelineMLError: When the data is not there or the store cannot be read; the
            message names the input and the URL, never a credential.
    """
    location = dataset_location(artifact)
    secrets: list[str] = []
    try:
        fs, secrets = artifact_store(catalog, artifact.name)
        return copy_to(fs, location, target)
    except FileNotFoundError:
        raise PipelineMLError(
            f"Inference input '{artifact.name}' should be at '{location.url}' but nothing is "
            "there: run the training pipeline (which saves it) before logging the model."
        ) from None
    except Exception as exc:
        reason = scrub(f"{type(exc).__name__}: {exc}", secrets).splitlines() or [""]
        raise PipelineMLError(
            f"Inference input '{artifact.name}' could not be copied from '{location.url}' "
            f"into the model ({reason[0][:300]}). Check the store's endpoint and the "
            "dataset's credentials in conf/local/credentials.yml."
        ) from None


def artifact_paths(
    catalog: CatalogProtocol[Any, Any],
    described: Mapping[str, InferenceArtifact],
    parameters_saving_folder: str | Path | None = None,
) -> dict[str, str]:
    """``extract_artifacts`` for inputs ``describe_artifacts`` has already described.

    Raises:
        PipelineMLError: When a dataset's data is not where it was described.
    """
    folder: Path | None = None

    def own_folder() -> Path:
        nonlocal folder
        if folder is None:
            folder = Path(
                parameters_saving_folder
                if parameters_saving_folder is not None
                else tempfile.mkdtemp(prefix="pipelineml-params-")
            )
            folder.mkdir(parents=True, exist_ok=True)
        return folder

    paths: dict[str, str] = {}
    for name, artifact in described.items():
        if artifact.kind == "parameter":
            target = own_folder() / parameter_file_name(name)
            with target.open("wb") as stream:
                pickle.dump(catalog.load(name), stream)
            paths[name] = target.resolve().as_posix()
        elif artifact.path is None:
            # Remote data is copied here; MLflow copies it into the model from there.
            remote_name = Path(dataset_location(artifact).path).name
            target = own_folder() / "remote" / parameter_file_name(name)[:-4] / remote_name
            paths[name] = fetch_remote(catalog, artifact, target).resolve().as_posix()
        elif not artifact.path.exists():
            raise PipelineMLError(
                f"Inference input '{name}' should be at '{artifact.path}' but no file or "
                "folder is there: run the training pipeline (which saves it) before logging "
                "the model."
            )
        else:
            paths[name] = artifact.path.resolve().as_posix()
    return paths


def repoint_config(config: dict[str, Any], local_path: str | Path) -> dict[str, Any]:
    """A copy of a dataset configuration that reads ``local_path`` instead.

    Versioning, credentials and the store's filesystem arguments are dropped: the copy is
    one plain local file or folder.
    """
    repointed = portable_config(copy.deepcopy(config))
    repointed[location_key(config) or "filepath"] = Path(local_path).as_posix()
    return repointed
