"""What an inference pipeline needs from the catalog to travel as one model.

Every inference input other than ``input_name`` is an *artifact*: either a parameter (its
value is pickled) or a dataset persisted to a local file or folder (the file travels, and
the dataset's configuration is kept so the same dataset type can load the copy).

``PipelineML.extract_pipeline_artifacts`` and the hooks package's ``KedroPipelineModel``
both build on :func:`describe_artifacts`.
"""

from __future__ import annotations

import copy
import pickle
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kedro.io import AbstractVersionedDataset, MemoryDataset
from kedro.io.core import DatasetError, get_protocol_and_path

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
    "check_inference",
    "describe_artifacts",
    "extract_artifacts",
    "parameter_file_name",
    "repoint_config",
]

_LOCAL_PROTOCOLS = frozenset({"file", "local"})


@dataclass(frozen=True)
class InferenceArtifact:
    """One inference input that travels with the model.

    Attributes:
        name: The dataset name in the inference pipeline.
        kind: ``"parameter"`` (value pickled) or ``"dataset"`` (a local file or folder).
        path: For datasets, the local file or folder holding the data to log.
        config: For datasets, the catalog configuration of the dataset (``type``,
            ``filepath``, load/save arguments...), used to load MLflow's copy with the same
            dataset type.
    """

    name: str
    kind: Literal["parameter", "dataset"]
    path: Path | None = None
    config: dict[str, Any] = field(default_factory=dict)


def artifact_names(inference: Pipeline, input_name: str) -> list[str]:
    """The inference inputs other than ``input_name``, sorted."""
    return sorted_names(name for name in inference.inputs() if name != input_name)


def parameter_file_name(name: str) -> str:
    """A portable file name for a parameter: ``"params:model.alpha"`` -> ``params_model.alpha.pkl``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".pkl"


def _catalog_config(catalog: CatalogProtocol[Any, Any]) -> dict[str, dict[str, Any]]:
    config = catalog_config(catalog)
    if config is None:
        raise PipelineMLError(
            f"The catalog ({type(catalog).__name__}) has no to_config(): pipelineml needs a "
            "kedro DataCatalog to find where inference inputs are persisted."
        )
    return config


def _local_path(name: str, dataset: Any, config: dict[str, Any]) -> Path:
    filepath = config.get("filepath")
    dataset_type = config.get("type", type(dataset).__name__)
    if not isinstance(filepath, str | Path) or not str(filepath):
        raise PipelineMLError(
            f"Inference input '{name}' ({dataset_type}) has no 'filepath' in its catalog "
            "configuration, so it cannot be logged with the model. Every inference input "
            "other than input_name must be persisted to a local file in the catalog (for "
            "example pickle.PickleDataset with a filepath), or be a parameter."
        )
    protocol, path = get_protocol_and_path(str(filepath))
    if protocol not in _LOCAL_PROTOCOLS:
        raise PipelineMLError(
            f"Inference input '{name}' ({dataset_type}) is persisted at '{filepath}' "
            f"(protocol '{protocol}'), which is not a local file. Every inference input other "
            "than input_name must be persisted to a local file in the catalog so it can be "
            "logged with the model."
        )
    local = Path(path)
    if config.get("versioned"):
        if not isinstance(dataset, AbstractVersionedDataset):
            raise PipelineMLError(
                f"Inference input '{name}' is configured as versioned but its dataset "
                f"({dataset_type}) does not support versions."
            )
        try:
            version = dataset.resolve_load_version()
        except DatasetError as exc:
            raise PipelineMLError(
                f"Inference input '{name}' is versioned but no version of it was found at "
                f"'{filepath}': run the training pipeline first. ({exc})"
            ) from exc
        if version is not None:
            # Kedro's layout for versioned files: <filepath>/<version>/<file name>.
            local = local / version / local.name
    return local


def _describe(
    catalog: CatalogProtocol[Any, Any],
    name: str,
    catalog_config: Callable[[], dict[str, dict[str, Any]]],
) -> InferenceArtifact:
    """Where one artifact input's data lives, or a PipelineMLError saying why it cannot travel."""
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
            "it could not be logged with the model. Declare it in the catalog with a "
            f"local filepath (for example pickle.PickleDataset).{did_you_mean(name, known)}"
        )
    if isinstance(dataset, MemoryDataset):
        raise PipelineMLError(
            f"Inference input '{name}' is a MemoryDataset, so it cannot be logged with "
            "the model. Every inference input other than input_name must be persisted to "
            "a local file in the catalog (for example pickle.PickleDataset with a "
            "filepath), or be a parameter."
        )
    config = copy.deepcopy(catalog_config().get(name, {}))
    path = _local_path(name, dataset, config)
    return InferenceArtifact(name=name, kind="dataset", path=path, config=config)


def _config_once(catalog: CatalogProtocol[Any, Any]) -> Callable[[], dict[str, dict[str, Any]]]:
    # Reading the catalog's configuration is needed for datasets only, and once.
    cache: list[dict[str, dict[str, Any]]] = []

    def config() -> dict[str, dict[str, Any]]:
        if not cache:
            cache.append(_catalog_config(catalog))
        return cache[0]

    return config


def describe_artifacts(
    catalog: CatalogProtocol[Any, Any],
    inference: Pipeline,
    input_name: str,
) -> dict[str, InferenceArtifact]:
    """Check every artifact input against the catalog and say where its data lives.

    Dataset factory patterns are resolved, so a dataset that exists only through a
    ``{name}`` pattern counts. Files are not required to exist yet.

    Raises:
        PipelineMLError: When an input is not in the catalog, is a ``MemoryDataset``, is
            not persisted to a local file, or is a parameter that is not defined; the
            message names it.
    """
    config = _config_once(catalog)
    return {
        name: _describe(catalog, name, config) for name in artifact_names(inference, input_name)
    }


def artifact_problems(
    catalog: CatalogProtocol[Any, Any],
    inference: Pipeline,
    input_name: str,
) -> dict[str, str]:
    """What ``describe_artifacts`` would refuse, for every artifact input at once.

    Returns:
        ``{input name: the message of its problem}``; empty when every input can travel.
    """
    config = _config_once(catalog)
    problems: dict[str, str] = {}
    for name in artifact_names(inference, input_name):
        try:
            _describe(catalog, name, config)
        except PipelineMLError as exc:
            problems[name] = str(exc)
    return problems


def extract_artifacts(
    catalog: CatalogProtocol[Any, Any],
    inference: Pipeline,
    input_name: str,
    parameters_saving_folder: str | Path | None = None,
) -> dict[str, str]:
    """``{name: local path}`` for ``mlflow.pyfunc.log_model(artifacts=...)``.

    Parameters are loaded from the catalog and pickled into ``parameters_saving_folder``
    (a new temporary folder when omitted; the caller owns it).

    Raises:
        PipelineMLError: When an input is not persisted to a local file, or its file does
            not exist.
    """
    described = describe_artifacts(catalog, inference, input_name)
    return artifact_paths(catalog, described, parameters_saving_folder)


def artifact_paths(
    catalog: CatalogProtocol[Any, Any],
    described: Mapping[str, InferenceArtifact],
    parameters_saving_folder: str | Path | None = None,
) -> dict[str, str]:
    """``extract_artifacts`` for inputs ``describe_artifacts`` has already described.

    Raises:
        PipelineMLError: When a dataset's file does not exist.
    """
    folder: Path | None = None
    paths: dict[str, str] = {}
    for name, artifact in described.items():
        if artifact.kind == "parameter":
            if folder is None:
                folder = Path(
                    parameters_saving_folder
                    if parameters_saving_folder is not None
                    else tempfile.mkdtemp(prefix="pipelineml-params-")
                )
                folder.mkdir(parents=True, exist_ok=True)
            target = folder / parameter_file_name(name)
            with target.open("wb") as stream:
                pickle.dump(catalog.load(name), stream)
            paths[name] = target.resolve().as_posix()
            continue
        assert artifact.path is not None
        if not artifact.path.exists():
            raise PipelineMLError(
                f"Inference input '{name}' should be at '{artifact.path}' but no file or "
                "folder is there: run the training pipeline (which saves it) before logging "
                "the model."
            )
        paths[name] = artifact.path.resolve().as_posix()
    return paths


def repoint_config(config: dict[str, Any], local_path: str | Path) -> dict[str, Any]:
    """A copy of a dataset configuration that reads ``local_path`` instead.

    Versioning and credentials are dropped: the copy is one plain local file.
    """
    repointed = copy.deepcopy(config)
    repointed["filepath"] = Path(local_path).as_posix()
    repointed.pop("versioned", None)
    repointed.pop("credentials", None)
    return repointed
