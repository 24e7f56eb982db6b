"""KedroPipelineModel: construction checks, artifacts, loading, and pure concurrent predict."""

from __future__ import annotations

import copy
import hashlib
import pickle
import random
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cloudpickle
import mlflow
import pandas as pd
import pytest
from kedro.pipeline import Pipeline, node
from mlflow.pyfunc.model import PythonModelContext

from pipelineml.core import pipeline_ml_factory
from pipelineml.hooks import KedroPipelineModel, KedroPipelineModelError, log_pipeline_model
from pipelineml.runners import (
    CopyPolicy,
    DaskRunner,
    SequentialRunner,
    ThreadRunner,
    register_runner,
)
from tests._support import dask_nodes, toy_nodes
from tests._support.mlflow_store import local_path
from tests._support.observing_datasets import FolderDataset, RecordingPickleDataset
from tests._support.toy_model import (
    FAST_LOG,
    THRESHOLD,
    expected,
    frame,
    inference_pipeline,
    make_catalog,
    toy_pipeline_ml,
    trained_catalog,
    training_pipeline,
)

DATASETS = "tests._support.observing_datasets"


def sha256(path: Path) -> str:
    """The SHA-256 of a file, computed here independently of the package."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def loaded_in_memory(model: KedroPipelineModel, folder: Path) -> KedroPipelineModel:
    """Extract the artifacts and load them as MLflow would (without an MLflow store)."""
    paths = model.extract_pipeline_artifacts(folder)
    model.load_context(PythonModelContext(artifacts=paths, model_config={}))
    return model


@pytest.fixture
def toy_model(logged_toy: Path) -> Any:
    """A fresh mlflow.pyfunc load of the logged toy model."""
    return mlflow.pyfunc.load_model(str(logged_toy))


# ----------------------------------------------------------------- construction
def test_pipeline_ml_provides_inference_and_input_name(tmp_path: Path) -> None:
    """A PipelineML gives the model its inference pipeline and input_name."""
    pml = toy_pipeline_ml()

    model = KedroPipelineModel(pml, make_catalog(tmp_path))

    assert model.input_name == "instances"
    assert set(model.pipeline.nodes) == set(pml.inference.nodes)
    assert model.output_name == "predictions"
    assert model.artifact_names == ["model", "params:threshold", "scaler"]


def test_plain_inference_pipeline_with_input_name(tmp_path: Path) -> None:
    """A plain inference Pipeline is accepted with an explicit input_name."""
    model = KedroPipelineModel(inference_pipeline(), make_catalog(tmp_path), "instances")

    assert model.input_name == "instances"
    assert set(model.pipeline.nodes) == set(inference_pipeline().nodes)


def test_plain_pipeline_without_input_name_is_refused(tmp_path: Path) -> None:
    """A plain Pipeline without input_name is refused, listing its inputs."""
    with pytest.raises(KedroPipelineModelError, match=r"input_name is required.*'instances'"):
        KedroPipelineModel(inference_pipeline(), make_catalog(tmp_path))


def test_input_name_contradicting_the_pipeline_ml_is_refused(tmp_path: Path) -> None:
    """An input_name other than the PipelineML's is refused, naming both."""
    with pytest.raises(KedroPipelineModelError, match=r"'scaler' differs.*'instances'"):
        KedroPipelineModel(toy_pipeline_ml(), make_catalog(tmp_path), input_name="scaler")


def test_input_name_that_is_not_an_inference_input_is_refused(tmp_path: Path) -> None:
    """An input_name the inference pipeline does not read is refused, naming it."""
    with pytest.raises(KedroPipelineModelError, match=r"input_name 'rows' is not an input"):
        KedroPipelineModel(inference_pipeline(), make_catalog(tmp_path), "rows")


def test_something_else_than_a_pipeline_is_refused(tmp_path: Path) -> None:
    """Only a PipelineML or a kedro Pipeline is accepted."""
    with pytest.raises(KedroPipelineModelError, match=r"PipelineML or a kedro Pipeline.*list"):
        KedroPipelineModel([], make_catalog(tmp_path), "instances")  # type: ignore[arg-type]


def test_default_runner_is_our_sequential_runner(tmp_path: Path) -> None:
    """Without runner, the model uses pipelineml's SequentialRunner (one, made on demand)."""
    model = KedroPipelineModel(toy_pipeline_ml(), make_catalog(tmp_path))

    assert model.runner_name == "SequentialRunner"
    assert type(model.runner) is SequentialRunner
    assert model.runner is model.runner
    # Not even once made: a restored model holds no runner and scores without one.
    restored = pickle.loads(pickle.dumps(model))
    assert restored._runner is None
    assert restored._default_runner is None
    assert restored.runner_name == "SequentialRunner"


def test_runner_instance_is_kept(tmp_path: Path) -> None:
    """A runner instance is used as given."""
    runner = ThreadRunner(max_workers=2)

    model = KedroPipelineModel(toy_pipeline_ml(), make_catalog(tmp_path), runner=runner)

    assert model.runner is runner


@pytest.mark.parametrize("name", ["ThreadRunner", "pipelineml.runners.ThreadRunner"])
def test_runner_by_registered_name(tmp_path: Path, name: str) -> None:
    """A registered runner name gives an instance of that runner."""
    model = KedroPipelineModel(toy_pipeline_ml(), make_catalog(tmp_path), runner=name)

    assert type(model.runner) is ThreadRunner


@pytest.mark.parametrize("name", ["ThreadRuner", "os.system", "kedro.runner.SequentialRunner"])
def test_unknown_runner_name_is_refused(tmp_path: Path, name: str) -> None:
    """A runner name not in the registry is refused (never imported), listing known names."""
    with pytest.raises(
        KedroPipelineModelError, match=rf"Unknown runner '{name}'.*SequentialRunner.*ThreadRunner"
    ):
        KedroPipelineModel(toy_pipeline_ml(), make_catalog(tmp_path), runner=name)


@pytest.mark.parametrize(
    ("copy_mode", "policy"),
    [
        ("copy", CopyPolicy("copy")),
        # Datasets no rule names are assigned: a model never deep-copies unless told to.
        (
            {"model": "deepcopy", "*_df": "copy"},
            CopyPolicy({"model": "deepcopy", "*_df": "copy"}, default="assign"),
        ),
        # An equal policy built apart: the model's must equal it, not merely be itself.
        (
            CopyPolicy({"model": "deepcopy"}, default="assign"),
            CopyPolicy({"model": "deepcopy"}, default="assign"),
        ),
        (CopyPolicy({"model": "deepcopy"}), CopyPolicy({"model": "deepcopy"}, default="assign")),
    ],
    ids=["str", "dict", "CopyPolicy", "CopyPolicy without default"],
)
def test_copy_mode_forms(tmp_path: Path, copy_mode: Any, policy: CopyPolicy) -> None:
    """copy_mode accepts a mode, a dict of rules or a CopyPolicy (given no default, the
    datasets no rule names are assigned)."""
    model = KedroPipelineModel(toy_pipeline_ml(), make_catalog(tmp_path), copy_mode=copy_mode)

    assert model.copy_policy == policy
    assert model.copy_policy.mode_for("unnamed") == policy.default


def test_copy_mode_defaults_to_assign(tmp_path: Path) -> None:
    """Without copy_mode, every dataset is assigned."""
    model = KedroPipelineModel(toy_pipeline_ml(), make_catalog(tmp_path))

    assert model.copy_policy == CopyPolicy("assign")
    assert model.copy_policy.mode_for("model") == "assign"


@pytest.mark.parametrize(
    ("copy_mode", "match"),
    [
        ("deep", r"Invalid copy mode 'deep'.*deepcopy"),
        ({"model": "clone"}, r"Invalid copy mode 'clone' for dataset 'model'"),
    ],
)
def test_bad_copy_mode_is_refused(tmp_path: Path, copy_mode: Any, match: str) -> None:
    """An unknown copy mode is refused, naming the value and the dataset."""
    with pytest.raises(KedroPipelineModelError, match=match):
        KedroPipelineModel(toy_pipeline_ml(), make_catalog(tmp_path), copy_mode=copy_mode)


def test_more_than_one_inference_output_is_refused(tmp_path: Path) -> None:
    """An inference pipeline with two outputs is refused, naming them."""
    inference = inference_pipeline() + Pipeline(
        [node(toy_nodes.split_scores, "predictions", ["scores", "flags"], name="split")]
    )

    with pytest.raises(KedroPipelineModelError, match=r"exactly one output.*'flags', 'scores'"):
        KedroPipelineModel(inference, make_catalog(tmp_path), "instances")


def test_inference_input_missing_from_the_catalog_is_refused(tmp_path: Path) -> None:
    """An inference input that is not in the catalog is refused, naming it."""
    catalog = make_catalog(tmp_path, entries={"scaler": None})

    with pytest.raises(KedroPipelineModelError, match=r"'scaler' is not in the catalog"):
        KedroPipelineModel(toy_pipeline_ml(), catalog)


def test_memory_dataset_inference_input_is_refused(tmp_path: Path) -> None:
    """An inference input kept in a MemoryDataset is refused, naming it."""
    catalog = make_catalog(tmp_path, entries={"model": {"type": "MemoryDataset"}})

    with pytest.raises(KedroPipelineModelError, match=r"'model' is a MemoryDataset"):
        KedroPipelineModel(toy_pipeline_ml(), catalog)


def test_inference_input_on_another_filesystem_is_accepted(tmp_path: Path) -> None:
    """An inference input persisted on another fsspec filesystem is an artifact, with its URL."""
    catalog = make_catalog(
        tmp_path,
        entries={"model": {"type": "pickle.PickleDataset", "filepath": "memory:///models/m.pkl"}},
    )

    model = KedroPipelineModel(toy_pipeline_ml(), catalog)

    assert model.artifact_sources["model"] == {"location": "memory:///models/m.pkl"}


def test_inference_input_without_filepath_is_refused(tmp_path: Path) -> None:
    """An inference input whose dataset has no filepath is refused, naming it."""
    catalog = make_catalog(
        tmp_path, entries={"model": {"type": f"{DATASETS}.NoFilepathDataset", "table": "t"}}
    )

    with pytest.raises(KedroPipelineModelError, match=r"'model' \(.*NoFilepathDataset\) has no"):
        KedroPipelineModel(toy_pipeline_ml(), catalog)


def test_dataset_factory_pattern_is_resolved(tmp_path: Path) -> None:
    """An inference input that exists only through a {name} pattern is an artifact."""
    pattern = {"type": "pickle.PickleDataset", "filepath": f"{tmp_path.as_posix()}/{{name}}.pkl"}
    catalog = trained_catalog(tmp_path, entries={"scaler": None, "model": None, "{name}": pattern})

    model = KedroPipelineModel(toy_pipeline_ml(), catalog)
    paths = model.extract_pipeline_artifacts(tmp_path / "params")
    model.load_context(PythonModelContext(artifacts=paths, model_config={}))

    assert paths["model"] == (tmp_path / "model.pkl").as_posix()
    assert paths["scaler"] == (tmp_path / "scaler.pkl").as_posix()
    pd.testing.assert_frame_equal(model.predict(None, frame([1, 9])), expected([1, 9]))


@pytest.mark.parametrize(
    "entry", [{"type": "MemoryDataset"}, None], ids=["memory-dataset", "not-in-catalog"]
)
def test_input_name_may_be_anything(tmp_path: Path, entry: dict[str, Any] | None) -> None:
    """input_name may be a MemoryDataset or absent from the catalog."""
    catalog = trained_catalog(tmp_path, entries={"instances": entry})

    model = loaded_in_memory(KedroPipelineModel(toy_pipeline_ml(), catalog), tmp_path / "p")

    pd.testing.assert_frame_equal(model.predict(None, frame([0, 5])), expected([0, 5]))


def test_input_name_dataset_type_does_not_leak_into_the_model(
    logged_toy: Path, tmp_path: Path
) -> None:
    """input_name declared as a CSVDataset: the model predicts in memory, holding no trace of it."""
    catalog = make_catalog(tmp_path)
    model = KedroPipelineModel(toy_pipeline_ml(), catalog)
    state = cloudpickle.dumps(model)
    logged_state = (logged_toy / "artifacts" / "pipeline.json").read_bytes()

    loaded = mlflow.pyfunc.load_model(str(logged_toy))
    result = loaded.predict(frame([3, 4]))

    pd.testing.assert_frame_equal(result, expected([3, 4]))
    assert "instances" not in loaded.unwrap_python_model().digests
    for pickled in (state, logged_state):
        assert b"CSVDataset" not in pickled
        assert b"train.csv" not in pickled


# ----------------------------------------------------------------- artifacts
def test_extract_gives_dataset_files_and_pickled_parameters(tmp_path: Path) -> None:
    """Datasets map to their files; parameters are pickled into the given folder."""
    catalog = trained_catalog(tmp_path / "project")
    model = KedroPipelineModel(toy_pipeline_ml(), catalog)

    paths = model.extract_pipeline_artifacts(tmp_path / "params")

    assert set(paths) == {"model", "scaler", "params:threshold"}
    assert paths["model"] == (tmp_path / "project" / "model.pkl").as_posix()
    assert paths["scaler"] == (tmp_path / "project" / "scaler.pkl").as_posix()
    parameter = Path(paths["params:threshold"])
    assert parameter.parent == tmp_path / "params"
    assert pickle.loads(parameter.read_bytes()) == THRESHOLD


def test_extract_uses_a_temporary_folder_by_default(tmp_path: Path) -> None:
    """Without parameters_saving_folder, parameters go to a new temporary folder."""
    model = KedroPipelineModel(toy_pipeline_ml(), trained_catalog(tmp_path))

    parameter = Path(model.extract_pipeline_artifacts()["params:threshold"])

    assert parameter.is_file()
    assert not parameter.is_relative_to(tmp_path)
    assert pickle.loads(parameter.read_bytes()) == THRESHOLD


def test_extract_records_the_sha256_of_every_artifact(tmp_path: Path) -> None:
    """Each artifact file's SHA-256 is recorded in the model."""
    model = KedroPipelineModel(toy_pipeline_ml(), trained_catalog(tmp_path))

    paths = model.extract_pipeline_artifacts(tmp_path / "params")

    assert model.digests == {name: {"": sha256(Path(path))} for name, path in paths.items()}


def _vocabulary_model(folder: Path) -> KedroPipelineModel:
    catalog = make_catalog(
        folder,
        entries={
            "vocabulary": {"type": f"{DATASETS}.FolderDataset", "filepath": f"{folder}/vocab"},
        },
    )
    FolderDataset(f"{folder}/vocab").save({"cat": "CAT", "dog": "DOG", "owl": "OWL"})
    inference = Pipeline(
        [node(toy_nodes.lookup, ["words", "vocabulary"], "translations", name="lookup")]
    )
    return KedroPipelineModel(inference, catalog, "words")


def test_folder_artifact_records_every_file(tmp_path: Path) -> None:
    """A dataset saved as a directory is one artifact whose every file is fingerprinted."""
    model = _vocabulary_model(tmp_path)

    paths = model.extract_pipeline_artifacts()

    folder = tmp_path / "vocab"
    assert paths == {"vocabulary": folder.as_posix()}
    assert model.digests == {
        "vocabulary": {name: sha256(folder / name) for name in ("cat", "dog", "owl")}
    }


def test_folder_artifact_travels_and_is_checked(tmp_path: Path, experiment: str) -> None:
    """A folder artifact is logged, loaded and used; a changed file in it is refused."""
    model = _vocabulary_model(tmp_path)
    artifacts = model.extract_pipeline_artifacts()
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model", python_model=model, artifacts=artifacts, **FAST_LOG
        )

    loaded = mlflow.pyfunc.load_model(info.model_uri)
    answer = loaded.predict(pd.DataFrame({"word": ["owl", "cat"]}))

    assert list(answer["translation"]) == ["OWL", "CAT"]
    copied = local_path(mlflow.get_logged_model(info.model_id).artifact_location)
    (vocab,) = (p for p in copied.rglob("vocab") if p.is_dir())
    (vocab / "dog").write_text("WOLF", encoding="utf-8")
    with pytest.raises(KedroPipelineModelError, match=r"Artifact 'vocabulary'.*dog changed"):
        mlflow.pyfunc.load_model(info.model_uri)


def test_extract_refuses_an_artifact_not_yet_saved(tmp_path: Path) -> None:
    """Extracting before training saved the files fails, naming the dataset."""
    model = KedroPipelineModel(toy_pipeline_ml(), make_catalog(tmp_path))

    with pytest.raises(KedroPipelineModelError, match=r"'model' should be at .*model.pkl"):
        model.extract_pipeline_artifacts(tmp_path / "params")


def test_extract_after_unpickling_is_refused(tmp_path: Path) -> None:
    """An unpickled model has no catalog, so it cannot extract artifacts."""
    model = KedroPipelineModel(toy_pipeline_ml(), trained_catalog(tmp_path))
    copy_ = pickle.loads(cloudpickle.dumps(model))

    with pytest.raises(KedroPipelineModelError, match=r"no catalog"):
        copy_.extract_pipeline_artifacts()


def test_versioned_artifact_is_loaded_from_its_version_file(tmp_path: Path) -> None:
    """A versioned dataset travels as its latest version file and loads as plain file."""
    versioned = {
        "type": "pickle.PickleDataset",
        "filepath": (tmp_path / "model.pkl").as_posix(),
        "versioned": True,
    }
    catalog = trained_catalog(tmp_path, entries={"model": versioned})
    model = KedroPipelineModel(toy_pipeline_ml(), catalog)

    paths = model.extract_pipeline_artifacts(tmp_path / "params")
    model.load_context(PythonModelContext(artifacts=paths, model_config={}))

    assert Path(paths["model"]).parent.parent == tmp_path / "model.pkl"
    pd.testing.assert_frame_equal(model.predict(None, frame([2])), expected([2]))


# ----------------------------------------------------------------- loading
def test_load_context_refuses_artifacts_not_matching_the_inputs(tmp_path: Path) -> None:
    """Artifacts that do not match the pipeline inputs are refused, naming both sides."""
    model = KedroPipelineModel(toy_pipeline_ml(), trained_catalog(tmp_path))
    paths = model.extract_pipeline_artifacts(tmp_path / "params")
    given = {"scaler": paths["scaler"], "encoder": paths["model"]}

    with pytest.raises(
        KedroPipelineModelError,
        match=r"missing \['model', 'params:threshold'\], unexpected \['encoder'\]",
    ):
        model.load_context(PythonModelContext(artifacts=given, model_config={}))


def test_tampered_artifact_in_the_store_is_refused(tmp_path: Path, experiment: str) -> None:
    """An artifact file changed in the MLflow store after logging makes loading fail."""
    catalog = trained_catalog(tmp_path / "project")
    with mlflow.start_run():
        info = log_pipeline_model(toy_pipeline_ml(), catalog, **FAST_LOG)
    stored = local_path(mlflow.get_logged_model(info.model_id).artifact_location)
    (model_file,) = stored.rglob("model.pkl")
    with model_file.open("ab") as stream:
        stream.write(b"tampered")

    with pytest.raises(KedroPipelineModelError, match=r"Artifact 'model' .*changed \(sha256"):
        mlflow.pyfunc.load_model(info.model_uri)


def test_artifacts_load_once_with_their_type_at_mlflow_s_copy(
    tmp_path: Path, experiment: str
) -> None:
    """Each artifact is loaded once, by its own dataset type, from MLflow's local copy."""
    training_file = (tmp_path / "project" / "model.pkl").resolve().as_posix()
    recording = {"type": f"{DATASETS}.RecordingPickleDataset", "filepath": training_file}
    catalog = trained_catalog(tmp_path / "project", entries={"model": recording})
    with mlflow.start_run():
        info = log_pipeline_model(toy_pipeline_ml(), catalog, **FAST_LOG)
    RecordingPickleDataset.reset()

    loaded = mlflow.pyfunc.load_model(info.model_uri)
    answers = [loaded.predict(frame([value])) for value in (1, 2, 3)]

    inits = RecordingPickleDataset.paths("init")
    assert len(inits) == 1
    assert inits[0] != training_file
    assert Path(inits[0]).name == "model.pkl"
    assert not Path(inits[0]).is_relative_to(tmp_path / "project")
    assert RecordingPickleDataset.paths("load") == inits
    for value, answer in zip((1, 2, 3), answers, strict=True):
        pd.testing.assert_frame_equal(answer, expected([value]))


def test_predict_before_loading_is_refused(tmp_path: Path) -> None:
    """predict on a model whose artifacts were not loaded says how to load it."""
    model = KedroPipelineModel(toy_pipeline_ml(), trained_catalog(tmp_path))

    with pytest.raises(KedroPipelineModelError, match=r"no loaded artifacts.*load_model"):
        model.predict(None, frame([1]))


# ----------------------------------------------------------------- predicting
def test_predict_returns_the_single_output(toy_model: Any) -> None:
    """predict returns the data of the inference pipeline's output."""
    pd.testing.assert_frame_equal(toy_model.predict(frame([0, 4.5, 9])), expected([0, 4.5, 9]))


def test_params_override_parameters_by_short_name(toy_model: Any) -> None:
    """params['threshold'] overrides params:threshold for that call only."""
    data = frame([0, 4, 8])

    overridden = toy_model.predict(data, params={"threshold": 4.0})
    default = toy_model.predict(data)

    pd.testing.assert_frame_equal(overridden, expected([0, 4, 8], threshold=4.0))
    pd.testing.assert_frame_equal(default, expected([0, 4, 8]))


def test_unknown_parameter_is_refused_listing_accepted_names(toy_model: Any) -> None:
    """A parameter the model does not have is refused, listing the accepted ones."""
    python_model = toy_model.unwrap_python_model()

    with pytest.raises(
        KedroPipelineModelError, match=r"Unknown parameter 'alpha'.*\['runner', 'threshold'\]"
    ):
        python_model.predict(None, frame([1]), params={"alpha": 3.0})


class _RecordingRunner(SequentialRunner):
    """A SequentialRunner that counts the predictions it ran."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def run_in_memory(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        return super().run_in_memory(*args, **kwargs)


@pytest.fixture
def recording_runner_name() -> tuple[str, list[_RecordingRunner]]:
    """A runner name registered for this test, and the instances its factory created."""
    created: list[_RecordingRunner] = []

    def factory() -> _RecordingRunner:
        created.append(_RecordingRunner())
        return created[-1]

    name = f"Recording_{uuid.uuid4().hex[:8]}"
    register_runner(name, factory)
    return name, created


def test_runner_named_in_params_is_resolved_once(
    tmp_path: Path, recording_runner_name: tuple[str, list[_RecordingRunner]]
) -> None:
    """params['runner'] picks a registered runner the owner allowed, created once and reused."""
    name, created = recording_runner_name
    model = KedroPipelineModel(
        toy_pipeline_ml(), trained_catalog(tmp_path / "project"), allowed_runners=[name]
    )
    toy_model = _Scoring(loaded_in_memory(model, tmp_path / "artifacts"))

    first = toy_model.predict(frame([1]), params={"runner": name})
    second = toy_model.predict(frame([7]), params={"runner": name, "threshold": 9.0})

    assert len(created) == 1
    assert created[0].calls == 2
    pd.testing.assert_frame_equal(first, expected([1]))
    pd.testing.assert_frame_equal(second, expected([7], threshold=9.0))


class _Scoring:
    """``predict(data, params)`` of an in-memory model, as a loaded pyfunc model spells it."""

    def __init__(self, model: KedroPipelineModel) -> None:
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.model.predict(None, data, params=params)


@pytest.mark.parametrize("runner", ["DaskRunner", "pipelineml.runners.DaskRunner"])
def test_a_request_cannot_choose_a_runner_the_owner_did_not_allow(
    toy_model: Any, runner: str
) -> None:
    """By default a request may choose the in-process runners only: no DaskRunner (which
    would start a cluster listening on a port), refused before anything is started."""
    python_model = toy_model.unwrap_python_model()

    with pytest.raises(
        KedroPipelineModelError,
        match=rf"Runner '{runner}' is not allowed.*Allowed runners: SequentialRunner, "
        r"ThreadRunner\..*allowed_runners",
    ):
        toy_model.predict(frame([1]), params={"runner": runner})
    assert "DaskRunner" not in python_model._runners


@pytest.mark.parametrize(
    ("allowed", "refused", "accepted"),
    [
        (["SequentialRunner"], "ThreadRunner", "SequentialRunner"),
        (["pipelineml.runners.ThreadRunner"], "DaskRunner", "ThreadRunner"),
        ([], "ThreadRunner", "SequentialRunner"),  # the model's own runner is no choice
    ],
)
def test_allowed_runners_is_the_owner_s_list(
    tmp_path: Path, allowed: list[str], refused: str, accepted: str
) -> None:
    """kpm_kwargs allowed_runners replaces the default list; the refusal names it."""
    built = KedroPipelineModel(
        toy_pipeline_ml(), trained_catalog(tmp_path), allowed_runners=allowed
    )
    paths = built.extract_pipeline_artifacts(tmp_path / "artifacts")
    # The list travels with a pickled model, as MLflow's pickled format stores it.
    model = pickle.loads(pickle.dumps(built))
    model.load_context(PythonModelContext(artifacts=paths, model_config={}))

    with pytest.raises(KedroPipelineModelError, match=rf"Runner '{refused}' is not allowed"):
        model.predict(None, frame([1]), params={"runner": refused})
    answer = model.predict(None, frame([4]), params={"runner": accepted})
    pd.testing.assert_frame_equal(answer, expected([4]))


def test_the_model_s_own_runner_is_allowed_by_default(tmp_path: Path) -> None:
    """A model logged with a runner may be asked for it, under either spelling."""
    model = loaded_in_memory(
        KedroPipelineModel(toy_pipeline_ml(), trained_catalog(tmp_path), runner="ThreadRunner"),
        tmp_path / "artifacts",
    )

    answer = model.predict(None, frame([3]), params={"runner": "pipelineml.runners.ThreadRunner"})

    pd.testing.assert_frame_equal(answer, expected([3]))
    assert model._allowed_runners == ("SequentialRunner", "ThreadRunner")


@pytest.mark.parametrize(
    ("allowed", "match"),
    [
        ("ThreadRunner", r"must be a list of runner names, got 'ThreadRunner'"),
        (["os.system"], r"names 'os.system', which is not a registered runner.*ThreadRunner"),
        ([42], r"names 42, which is not a registered runner"),
    ],
)
def test_bad_allowed_runners_is_refused(tmp_path: Path, allowed: Any, match: str) -> None:
    """allowed_runners must list registered runner names."""
    with pytest.raises(KedroPipelineModelError, match=match):
        KedroPipelineModel(toy_pipeline_ml(), make_catalog(tmp_path), allowed_runners=allowed)


def test_allowed_runners_travel_in_a_model_logged_from_code(tmp_path: Path) -> None:
    """kpm_kwargs allowed_runners is in the logged model's spec and enforced once loaded."""
    with mlflow.start_run():
        info = log_pipeline_model(
            toy_pipeline_ml(),
            trained_catalog(tmp_path / "project"),
            kpm_kwargs={"allowed_runners": ["SequentialRunner"]},
            **FAST_LOG,
        )
    loaded = mlflow.pyfunc.load_model(info.model_uri)

    with pytest.raises(KedroPipelineModelError, match=r"Allowed runners: SequentialRunner\."):
        loaded.predict(frame([1]), params={"runner": "ThreadRunner"})
    pd.testing.assert_frame_equal(
        loaded.predict(frame([1]), params={"runner": "SequentialRunner"}), expected([1])
    )


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), float("-inf"), float("1e309"), [1.0, float("nan")]],
    ids=["nan", "inf", "-inf", "1e309", "list-with-nan"],
)
def test_non_finite_parameter_is_refused(toy_model: Any, value: Any) -> None:
    """A NaN or infinite value for a finite parameter is refused, naming the parameter
    (asked of the model itself: MLflow's signature check takes NaN but not a list)."""
    with pytest.raises(
        KedroPipelineModelError, match=r"Parameter 'threshold' got .*NaN or infinite.*2\.0"
    ):
        toy_model.unwrap_python_model().predict(None, frame([1]), params={"threshold": value})


def test_non_finite_parameter_is_taken_when_its_default_is(tmp_path: Path) -> None:
    """A parameter logged as infinite takes infinite values."""
    catalog = trained_catalog(tmp_path / "project", params={"threshold": float("inf")})
    model = loaded_in_memory(KedroPipelineModel(toy_pipeline_ml(), catalog), tmp_path / "a")

    answer = model.predict(None, frame([1, 8]), params={"threshold": float("-inf")})

    pd.testing.assert_frame_equal(answer, expected([1, 8], threshold=float("-inf")))


def test_thread_runner_named_in_params(toy_model: Any) -> None:
    """params['runner']='ThreadRunner' runs the prediction with a ThreadRunner."""
    answer = toy_model.predict(frame([5, 6]), params={"runner": "ThreadRunner"})

    pd.testing.assert_frame_equal(answer, expected([5, 6]))


@pytest.mark.parametrize("runner", ["ThreadRuner", "os.system", 42])
def test_unknown_runner_in_params_is_refused(toy_model: Any, runner: Any) -> None:
    """An unknown runner in params is refused, listing the runners the model allows."""
    python_model = toy_model.unwrap_python_model()

    with pytest.raises(KedroPipelineModelError, match=rf"{runner!r}.*"):
        python_model.predict(None, frame([1]), params={"runner": runner})
    if isinstance(runner, str):
        # Not a runner the owner allowed, whatever it is: nothing is looked up or imported.
        with pytest.raises(
            KedroPipelineModelError, match=r"not allowed.*Allowed runners: .*ThreadRunner"
        ):
            toy_model.predict(frame([1]), params={"runner": runner})


def test_predict_mutates_nothing_shared(toy_model: Any) -> None:
    """A call leaves the caller's params and the model's loaded artifacts untouched."""
    python_model = toy_model.unwrap_python_model()
    params = {"threshold": 1.0, "runner": "ThreadRunner"}
    params_before = copy.deepcopy(params)
    loaded_before = dict(python_model._loaded)
    defaults_before = python_model.parameter_defaults

    python_model.predict(None, frame([1, 2]), params=params)
    toy_model.predict(frame([1, 2]), params=params)

    assert params == params_before
    assert python_model.parameter_defaults == defaults_before == {"threshold": THRESHOLD}
    assert loaded_before.keys() == python_model._loaded.keys()
    assert all(python_model._loaded[name] is value for name, value in loaded_before.items())


def _echo_model(folder: Path, **kwargs: Any) -> KedroPipelineModel:
    catalog = trained_catalog(folder, params={"options": {"weights": [1, 2]}})
    inference = Pipeline(
        [
            node(
                toy_nodes.echo_artifacts,
                ["instances", "params:options", "model"],
                "echoed",
                name="echo",
            )
        ]
    )
    return loaded_in_memory(
        KedroPipelineModel(inference, catalog, "instances", **kwargs), folder / "params"
    )


@pytest.mark.parametrize("copy_mode", [None, "assign"], ids=["default", "assign"])
def test_loaded_artifacts_are_handed_over_not_copied(tmp_path: Path, copy_mode: Any) -> None:
    """Nodes receive the loaded artifacts themselves on every call, never per-call copies."""
    kwargs = {} if copy_mode is None else {"copy_mode": copy_mode}
    model = _echo_model(tmp_path, **kwargs)

    first = model.predict(None, frame([1]))
    second = model.predict(None, frame([2]))

    assert first["model"] is second["model"]
    assert first["options"] is second["options"]


def test_deepcopy_policy_copies_only_the_datasets_it_names(tmp_path: Path) -> None:
    """A CopyPolicy deep-copying 'model' (default assign) copies the model and nothing else."""
    model = _echo_model(tmp_path, copy_mode=CopyPolicy({"model": "deepcopy"}, default="assign"))

    first = model.predict(None, frame([1]))
    second = model.predict(None, frame([2]))

    assert first["model"] is not second["model"]
    assert first["model"] == second["model"]
    assert first["options"] is second["options"]


def test_deepcopy_dict_copies_only_the_datasets_it_names(tmp_path: Path) -> None:
    """copy_mode={'model': 'deepcopy'} copies the model on each call and nothing else."""
    model = _echo_model(tmp_path, copy_mode={"model": "deepcopy"})

    first = model.predict(None, frame([1]))
    second = model.predict(None, frame([2]))

    assert first["model"] is not second["model"]
    assert first["model"] == second["model"]
    assert first["options"] is second["options"]


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Make the interpreter switch threads far more often, so races show up quickly."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.slow
@pytest.mark.usefixtures("frequent_thread_switches")
def test_concurrent_calls_each_get_their_own_answer(toy_model: Any) -> None:
    """16 threads calling one loaded model with different params and inputs get their answers."""
    rng = random.Random(1234)
    cases = [
        (
            [round(rng.uniform(-5, 15), 3) for _ in range(rng.randint(1, 12))],
            round(rng.uniform(-3, 10), 3),
            rng.choice(["SequentialRunner", "ThreadRunner"]),
        )
        for _ in range(1600)
    ]

    def call(case: tuple[list[float], float, str]) -> pd.DataFrame:
        x, threshold, runner = case
        return toy_model.predict(frame(x), params={"threshold": threshold, "runner": runner})

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(call, cases))

    for (x, threshold, _), answer in zip(cases, answers, strict=True):
        pd.testing.assert_frame_equal(answer, expected(x, threshold=threshold))


# ----------------------------------------------------------------- Dask
@pytest.fixture
def dask_address(local_cluster: Any) -> str:
    """The scheduler address of the module's LocalCluster."""
    return str(local_cluster.scheduler_address)


@pytest.mark.slow
@pytest.mark.dask
def test_dask_runner_model_logs_loads_and_predicts(
    tmp_path: Path, experiment: str, dask_address: str
) -> None:
    """A KedroPipelineModel with a DaskRunner is logged, loaded and scored on the cluster."""
    pytest.importorskip("distributed")
    catalog = trained_catalog(tmp_path / "project")
    model = KedroPipelineModel(toy_pipeline_ml(), catalog, runner=DaskRunner(dask_address))
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=model,
            artifacts=model.extract_pipeline_artifacts(tmp_path / "params"),
            **FAST_LOG,
        )

    loaded = mlflow.pyfunc.load_model(info.model_uri)
    runner = loaded.unwrap_python_model().runner

    assert isinstance(runner, DaskRunner)
    assert runner is not model.runner
    try:
        pd.testing.assert_frame_equal(loaded.predict(frame([1, 8])), expected([1, 8]))
    finally:
        runner.close()


@pytest.mark.slow
@pytest.mark.dask
# The two tagging nodes record their task's key: one key fused, two unfused.
@pytest.mark.parametrize(("fuse", "tasks"), [(True, 1), (False, 2)])
def test_dask_runner_model_scores_an_inference_chain_as_one_task(
    tmp_path: Path, dask_address: str, fuse: bool, tasks: int
) -> None:
    """predict on a DaskRunner runs a three-node inference chain as one Dask task
    (fuse=False: a task per node), with the same predictions."""
    pytest.importorskip("distributed")
    inference = Pipeline(
        [
            node(
                toy_nodes.predict,
                ["instances", "scaler", "model", "params:threshold"],
                "scored",
                name="predict",
            ),
            node(dask_nodes.with_task_column, "scored", "tagged", name="tag"),
            node(dask_nodes.with_task_column, "tagged", "predictions", name="tag_again"),
        ]
    )
    pipeline_ml = pipeline_ml_factory(
        training=training_pipeline(), inference=inference, input_name="instances"
    )
    catalog = trained_catalog(tmp_path / "project")
    runner = DaskRunner(dask_address, fuse=fuse)
    model = loaded_in_memory(
        KedroPipelineModel(pipeline_ml, catalog, runner=runner), tmp_path / "artifacts"
    )
    try:
        answer = model.predict(None, frame([1, 8]))
    finally:
        runner.close()

    pd.testing.assert_frame_equal(answer[["score", "positive"]], expected([1, 8]))
    keys = {*answer["task_2"], *answer["task_3"]}
    assert len(keys) == tasks
    if fuse:
        assert "predict..tag_again[3]" in keys.pop()


def test_training_pipeline_is_not_part_of_the_model(tmp_path: Path) -> None:
    """Only inference nodes are in the model's pipeline."""
    model = KedroPipelineModel(toy_pipeline_ml(), make_catalog(tmp_path))

    assert not set(model.pipeline.nodes) & set(training_pipeline().nodes)


@pytest.mark.dask
def test_a_model_s_dask_cluster_is_closed_when_the_model_is_gone(tmp_path: Path) -> None:
    """The LocalCluster a model's DaskRunner started ends with the model, not the process."""
    import gc

    pytest.importorskip("distributed", reason="needs the [dask] extra")
    from pipelineml.runners import DaskRunner

    runner = DaskRunner(cluster_kwargs={"n_workers": 1})
    model = loaded_in_memory(
        KedroPipelineModel(toy_pipeline_ml(), trained_catalog(tmp_path), runner=runner),
        tmp_path / "artifacts",
    )
    pd.testing.assert_frame_equal(model.predict(None, frame([2])), expected([2]))
    assert runner.connected

    del model
    gc.collect()

    assert not runner.connected
