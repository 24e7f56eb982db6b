"""extract_pipeline_artifacts: what travels with the model, and what is refused."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline

from pipelineml.core import PipelineML, PipelineMLError, pipeline_ml_factory
from pipelineml.core.artifacts import (
    artifact_paths,
    artifact_problems,
    describe_artifacts,
    repoint_config,
)
from tests._support.datasets import LocalPickle, NoPath

PICKLE = "tests._support.datasets.LocalPickle"
VERSIONED = "tests._support.datasets.VersionedLocalPickle"


@pytest.fixture
def pml(training: Pipeline, inference: Pipeline) -> PipelineML:
    """The shared PipelineML: inference needs scaler, model and params:threshold."""
    return pipeline_ml_factory(training, inference)


def _catalog(tmp_path: Path, **extra: dict[str, object]) -> DataCatalog:
    config: dict[str, dict[str, object]] = {
        "scaler": {"type": PICKLE, "filepath": str(tmp_path / "scaler.pkl")},
        "model": {"type": PICKLE, "filepath": str(tmp_path / "model.pkl")},
        **extra,
    }
    catalog = DataCatalog.from_config(config)
    catalog["params:threshold"] = MemoryDataset(0.5)
    catalog["params:alpha"] = MemoryDataset(0.1)
    return catalog


def test_persisted_inputs_and_parameters(pml: PipelineML, tmp_path: Path) -> None:
    """Files map to their paths; parameters are pickled into the given folder."""
    catalog = _catalog(tmp_path)
    catalog.save("scaler", 2.0)
    catalog.save("model", {"offset": 1.0})
    folder = tmp_path / "params"
    artifacts = pml.extract_pipeline_artifacts(catalog, parameters_saving_folder=folder)
    assert artifacts == {
        "model": (tmp_path / "model.pkl").as_posix(),
        "scaler": (tmp_path / "scaler.pkl").as_posix(),
        "params:threshold": (folder / "params_threshold.pkl").as_posix(),
    }
    with open(artifacts["params:threshold"], "rb") as stream:
        assert pickle.load(stream) == 0.5


def test_parameters_go_to_a_temporary_folder_by_default(pml: PipelineML, tmp_path: Path) -> None:
    """Without a folder, parameters are pickled into a new temporary folder."""
    catalog = _catalog(tmp_path)
    catalog.save("scaler", 2.0)
    catalog.save("model", {"offset": 1.0})
    path = Path(pml.extract_pipeline_artifacts(catalog)["params:threshold"])
    assert path.exists()
    assert path.parent != tmp_path
    assert path.parent.name.startswith("pipelineml-params-")


def test_dataset_factory_patterns_count(pml: PipelineML, tmp_path: Path) -> None:
    """A dataset that exists only through a {name} pattern is resolved and accepted."""
    catalog = DataCatalog.from_config(
        {
            "{name}": {"type": PICKLE, "filepath": str(tmp_path / "{name}.pkl")},
        }
    )
    catalog["params:threshold"] = MemoryDataset(0.5)
    catalog.save("scaler", 2.0)
    catalog.save("model", {"offset": 1.0})
    artifacts = pml.extract_pipeline_artifacts(catalog, tmp_path / "p")
    assert artifacts["model"] == (tmp_path / "model.pkl").as_posix()


def test_versioned_dataset_points_at_the_version_file(pml: PipelineML, tmp_path: Path) -> None:
    """A versioned dataset's artifact is the file of its latest saved version."""
    catalog = _catalog(
        tmp_path,
        model={"type": VERSIONED, "filepath": str(tmp_path / "model.pkl"), "versioned": True},
    )
    catalog.save("scaler", 2.0)
    catalog.save("model", {"offset": 1.0})
    artifact = Path(pml.extract_pipeline_artifacts(catalog, tmp_path / "p")["model"])
    assert artifact.name == "model.pkl"
    assert artifact.parent.parent == tmp_path / "model.pkl"
    with artifact.open("rb") as stream:
        assert pickle.load(stream) == {"offset": 1.0}


def test_versioned_dataset_never_saved(pml: PipelineML, tmp_path: Path) -> None:
    """A versioned input with no saved version is refused, naming it."""
    catalog = _catalog(
        tmp_path,
        model={"type": VERSIONED, "filepath": str(tmp_path / "model.pkl"), "versioned": True},
    )
    catalog.save("scaler", 2.0)
    with pytest.raises(PipelineMLError, match="'model' is versioned but no version"):
        pml.extract_pipeline_artifacts(catalog, tmp_path / "p")


def test_memory_dataset_input_is_refused(pml: PipelineML, tmp_path: Path) -> None:
    """An inference input kept in a MemoryDataset cannot travel with the model."""
    catalog = _catalog(tmp_path)
    catalog["model"] = MemoryDataset({"offset": 1.0})
    with pytest.raises(PipelineMLError, match="'model' is a MemoryDataset.*persist it to a file"):
        pml.extract_pipeline_artifacts(catalog)


def test_input_missing_from_catalog_is_refused(pml: PipelineML, tmp_path: Path) -> None:
    """An inference input that is not in the catalog is refused, naming it."""
    catalog = DataCatalog.from_config(
        {"scaler": {"type": PICKLE, "filepath": str(tmp_path / "s.pkl")}}
    )
    catalog["params:threshold"] = MemoryDataset(0.5)
    with pytest.raises(PipelineMLError, match="'model' is not in the catalog"):
        pml.extract_pipeline_artifacts(catalog)


FSSPEC = "tests._support.datasets.FsspecPickle"
SECRET = "s3cr3t-n0t-t0-b3-s33n"


def _memory_url(tmp_path: Path, name: str) -> str:
    # memory:// is one filesystem per process: each test writes under a folder of its own.
    return f"memory:///{tmp_path.name}/{name}"


def _remote_catalog(tmp_path: Path, **model: object) -> DataCatalog:
    config = {
        "scaler": {"type": PICKLE, "filepath": str(tmp_path / "scaler.pkl")},
        "model": {
            "type": FSSPEC,
            "filepath": _memory_url(tmp_path, "model.pkl"),
            "credentials": "store",
            "fs_args": {"open_args_load": {"mode": "rb"}, "skip_instance_cache": True},
            **model,
        },
    }
    catalog = DataCatalog.from_config(config, credentials={"store": {"token": SECRET}})
    catalog["params:threshold"] = MemoryDataset(0.5)
    catalog.save("scaler", 2.0)
    return catalog


def test_remote_file_is_copied_through_its_own_filesystem(pml: PipelineML, tmp_path: Path) -> None:
    """A dataset on another filesystem is copied into the folder; the model reads the copy."""
    catalog = _remote_catalog(tmp_path)
    catalog.save("model", {"offset": 4.0})
    described = describe_artifacts(catalog, pml.inference, pml.input_name)
    artifact = described["model"]
    assert artifact.path is None
    assert artifact.location == _memory_url(tmp_path, "model.pkl")
    paths = artifact_paths(catalog, described, tmp_path / "folder")
    copy = Path(paths["model"])
    assert copy.is_relative_to(tmp_path / "folder")
    assert pickle.loads(copy.read_bytes()) == {"offset": 4.0}
    reloaded = DataCatalog.from_config({"model": repoint_config(artifact.config, copy)})
    assert reloaded.load("model") == {"offset": 4.0}


def test_no_credential_or_store_argument_is_kept(pml: PipelineML, tmp_path: Path) -> None:
    """What the model keeps of a remote dataset's configuration has no credentials and no
    filesystem arguments but how files are opened."""
    catalog = _remote_catalog(tmp_path)
    config = describe_artifacts(catalog, pml.inference, pml.input_name)["model"].config
    assert "credentials" not in config
    assert config["fs_args"] == {"open_args_load": {"mode": "rb"}}
    assert SECRET not in repr(config)
    assert SECRET not in repr(repoint_config(config, tmp_path / "copy.pkl"))


def test_remote_folder_is_copied_whole(pml: PipelineML, tmp_path: Path) -> None:
    """A dataset that saves a folder travels as that folder, every file in it."""
    catalog = _remote_catalog(tmp_path, filepath=_memory_url(tmp_path, "model"), folder=True)
    catalog.save("model", {"weights": [1, 2], "bias": 3})
    described = describe_artifacts(catalog, pml.inference, pml.input_name)
    copy = Path(artifact_paths(catalog, described, tmp_path / "folder")["model"])
    assert sorted(p.name for p in copy.iterdir()) == ["bias.pkl", "weights.pkl"]
    reloaded = DataCatalog.from_config({"model": repoint_config(described["model"].config, copy)})
    assert reloaded.load("model") == {"weights": [1, 2], "bias": 3}


def test_remote_data_missing_is_named_with_its_url(pml: PipelineML, tmp_path: Path) -> None:
    """Copying data that is not there names the input and its URL."""
    catalog = _remote_catalog(tmp_path)
    described = describe_artifacts(catalog, pml.inference, pml.input_name)
    with pytest.raises(PipelineMLError, match=r"'model' should be at 'memory://.*model.pkl'"):
        artifact_paths(catalog, described, tmp_path / "folder")


def test_store_errors_never_show_a_credential(pml: PipelineML, tmp_path: Path) -> None:
    """A store that fails with the secret in its message: the message shows *** instead."""
    catalog = _remote_catalog(tmp_path)
    catalog.save("model", {"offset": 4.0})
    described = describe_artifacts(catalog, pml.inference, pml.input_name)

    class Refusing:
        def info(self, path: str) -> dict[str, str]:
            raise PermissionError(f"token {SECRET} refused for {path}")

        def get_file(self, remote: str, local: str) -> None:
            raise AssertionError("never reached")

    catalog.get("model")._fs = Refusing()
    with pytest.raises(PipelineMLError, match=r"could not be copied from 'memory://") as error:
        artifact_paths(catalog, described, tmp_path / "folder")
    assert SECRET not in str(error.value)
    assert "token *** refused" in str(error.value)


def _versioned(tmp_path: Path, *, load: str | None = None, save: str | None = None) -> DataCatalog:
    catalog = DataCatalog.from_config(
        {
            "scaler": {"type": PICKLE, "filepath": str(tmp_path / "scaler.pkl")},
            "model": {
                "type": FSSPEC,
                "filepath": _memory_url(tmp_path, "model.pkl"),
                "versioned": True,
            },
        },
        load_versions={"model": load} if load else None,
        save_version=save,
    )
    catalog["params:threshold"] = MemoryDataset(0.5)
    return catalog


def test_versioned_input_saved_by_the_run_is_the_run_s_version(
    pml: PipelineML, tmp_path: Path
) -> None:
    """Saved by the run: described before it exists, and the copy is the run's version
    even when another process saved a newer one meanwhile."""
    run = _versioned(tmp_path, save="2026-01-01T00.00.00.000Z")
    before = describe_artifacts(run, pml.inference, pml.input_name, saved={"model"})
    assert before["model"].version == "2026-01-01T00.00.00.000Z"
    run.save("scaler", 2.0)
    run.save("model", {"offset": "this run's"})
    _versioned(tmp_path, save="2026-06-01T00.00.00.000Z").save("model", {"offset": "newer"})

    described = describe_artifacts(run, pml.inference, pml.input_name, saved={"model"})
    copy = Path(artifact_paths(run, described, tmp_path / "folder")["model"])
    assert pickle.loads(copy.read_bytes()) == {"offset": "this run's"}
    assert described["model"].location == _memory_url(
        tmp_path, "model.pkl/2026-01-01T00.00.00.000Z/model.pkl"
    )


def test_versioned_input_not_saved_is_the_latest_or_the_pinned_one(
    pml: PipelineML, tmp_path: Path
) -> None:
    """Not saved by the run: the latest version, or the one --load-versions pins."""
    for version, value in (
        ("2026-01-01T00.00.00.000Z", "old"),
        ("2026-02-01T00.00.00.000Z", "new"),
    ):
        _versioned(tmp_path, save=version).save("model", {"offset": value})
    latest = _versioned(tmp_path)
    assert describe_artifacts(latest, pml.inference, pml.input_name)["model"].version == (
        "2026-02-01T00.00.00.000Z"
    )
    pinned = _versioned(tmp_path, load="2026-01-01T00.00.00.000Z")
    described = describe_artifacts(pinned, pml.inference, pml.input_name)
    pinned.save("scaler", 2.0)
    copy = Path(artifact_paths(pinned, described, tmp_path / "folder")["model"])
    assert pickle.loads(copy.read_bytes()) == {"offset": "old"}


def test_dataset_without_filepath_is_refused(pml: PipelineML, tmp_path: Path) -> None:
    """A dataset with no filepath in its configuration is refused, naming it."""
    catalog = _catalog(tmp_path)
    catalog["model"] = NoPath("models")
    with pytest.raises(PipelineMLError, match="'model'.*has no 'filepath'"):
        pml.extract_pipeline_artifacts(catalog)


def test_file_not_yet_saved_is_refused(pml: PipelineML, tmp_path: Path) -> None:
    """Extracting before training saved the file says which file is missing."""
    catalog = _catalog(tmp_path)
    catalog.save("scaler", 2.0)
    with pytest.raises(PipelineMLError, match="'model' should be at .*model.pkl"):
        pml.extract_pipeline_artifacts(catalog)


def test_describe_keeps_the_dataset_configuration(pml: PipelineML, tmp_path: Path) -> None:
    """The configuration kept for each dataset re-creates the same type at another path."""
    catalog = _catalog(tmp_path)
    described = describe_artifacts(catalog, pml.inference, pml.input_name)
    assert described["params:threshold"].kind == "parameter"
    config = described["model"].config
    assert config["type"] == PICKLE
    LocalPickle(str(tmp_path / "copy.pkl")).save({"offset": 3.0})
    copy = repoint_config(config, tmp_path / "copy.pkl")
    assert copy["filepath"] == (tmp_path / "copy.pkl").as_posix()
    assert config["filepath"] == str(tmp_path / "model.pkl")  # the original is not changed
    reloaded = DataCatalog.from_config({"model": copy}).load("model")
    assert reloaded == {"offset": 3.0}


def test_missing_parameter_points_to_parameters_yml(pml: PipelineML, tmp_path: Path) -> None:
    """An inference parameter absent from the catalog is refused with the file and a close name."""
    catalog = DataCatalog.from_config(
        {
            "scaler": {"type": PICKLE, "filepath": str(tmp_path / "scaler.pkl")},
            "model": {"type": PICKLE, "filepath": str(tmp_path / "model.pkl")},
        }
    )
    catalog["params:treshold"] = MemoryDataset(0.5)
    with pytest.raises(
        PipelineMLError,
        match=r"'params:threshold' used by the inference pipeline is not defined: add "
        r"'threshold' to conf/base/parameters.yml.*Did you mean 'params:treshold'\?",
    ):
        describe_artifacts(catalog, pml.inference, pml.input_name)


def test_input_missing_from_catalog_suggests_a_close_name(pml: PipelineML, tmp_path: Path) -> None:
    """A missing inference input gets a 'did you mean' among the catalog's datasets."""
    catalog = DataCatalog.from_config(
        {
            "scaler": {"type": PICKLE, "filepath": str(tmp_path / "scaler.pkl")},
            "modle": {"type": PICKLE, "filepath": str(tmp_path / "model.pkl")},
        }
    )
    catalog["params:threshold"] = MemoryDataset(0.5)
    with pytest.raises(PipelineMLError, match=r"'model' is not in the catalog.*'modle'\?"):
        describe_artifacts(catalog, pml.inference, pml.input_name)


def test_artifact_problems_lists_every_input_at_fault(pml: PipelineML, tmp_path: Path) -> None:
    """artifact_problems reports each refused input, not only the first one."""
    catalog = DataCatalog.from_config({"scaler": {"type": VERSIONED, "filepath": "s.pkl"}})
    catalog["scaler"] = NoPath("scaler_table")
    catalog["model"] = MemoryDataset({"offset": 1.0})

    problems = artifact_problems(catalog, pml.inference, pml.input_name)

    assert sorted(problems) == ["model", "params:threshold", "scaler"]
    assert "MemoryDataset" in problems["model"]
    assert "has no 'filepath'" in problems["scaler"]
    assert "parameters.yml" in problems["params:threshold"]


def test_artifact_problems_is_empty_for_a_good_catalog(pml: PipelineML, tmp_path: Path) -> None:
    """Nothing is reported when every input can travel (files need not exist yet)."""
    assert artifact_problems(_catalog(tmp_path), pml.inference, pml.input_name) == {}
