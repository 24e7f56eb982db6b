"""MlflowModelDataset and batch_predict with a model from a real training run.

The model is the end-to-end project's, trained by ``kedro run`` and registered here with
an alias; Dask frames are scored on a real ``LocalCluster`` of worker processes and on
``dask scheduler`` + ``dask worker`` processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed", reason="needs the [dask] extra")
dd = pytest.importorskip("dask.dataframe", reason="needs dask[dataframe]")

from kedro.io import DataCatalog, DatasetError  # noqa: E402
from kedro_datasets.dask import ParquetDataset  # noqa: E402

from pipelineml.hooks import BatchPredictError, MlflowModelDataset, batch_predict  # noqa: E402
from pipelineml.runners.errors import ClusterConnectionError  # noqa: E402
from tests._support import batch_frames  # noqa: E402
from tests._support.batch_fixtures import (  # noqa: E402
    CHAMPION,
    NAME,
    ROWS,
    assert_scores,
    champion_fixture,  # noqa: F401
    expected,
    lazy_partitions,
    loads_on,
    model_fixture,  # noqa: F401
)
from tests._support.net import free_port  # noqa: E402
from tests._support.trained_project import TrainedModel, tracking  # noqa: E402

pytestmark = pytest.mark.slow

# dask's read_parquet calls set_index/reset_index(inplace=True), which pandas 3.1 deprecates.
DASK_PARQUET_WARNING = "ignore:.*The inplace keyword in DataFrame:Warning"


@pytest.fixture(scope="module")
def client(local_cluster: Any) -> Iterator[Any]:
    """A client of the 2-worker LocalCluster, the current client while the tests run."""
    with distributed.Client(local_cluster) as connected:
        yield connected


# ----------------------------------------------------------------- MlflowModelDataset
@pytest.mark.parametrize("form", ["alias", "version", "logged", "runs", "folder"])
def test_dataset_loads_every_kind_of_model_uri(
    champion: TrainedModel, form: str, tmp_path: Path
) -> None:
    """models:/name@alias, models:/name/1, models:/m-..., runs:/... and a folder all load."""
    import mlflow

    with tracking(champion.tracking_uri):
        folder = mlflow.artifacts.download_artifacts(champion.model_uri, dst_path=str(tmp_path))
    uri = {
        "alias": CHAMPION,
        "version": f"models:/{NAME}/1",
        "logged": champion.model_uri,
        "runs": champion.runs_uri,
        "folder": folder,
    }[form]

    loaded = MlflowModelDataset(uri, tracking_uri=champion.tracking_uri).load()

    assert_scores(loaded.predict(champion.sample), expected(champion, champion.sample))


def test_dataset_uses_the_stores_mlflow_points_at(champion: TrainedModel) -> None:
    """Without tracking_uri the dataset reads the store the session (the hook) set."""
    catalog = DataCatalog.from_config(
        {"champion": {"type": "pipelineml.hooks.MlflowModelDataset", "model_uri": CHAMPION}}
    )

    with tracking(champion.tracking_uri):
        loaded = catalog.load("champion")
        assert catalog.exists("champion")

    assert_scores(loaded.predict(champion.sample), expected(champion, champion.sample))


# Loads through the dataset and batch_predict with explicit stores, in a process where
# nothing set MLflow's URIs, then reports MLflow's global state (#22, finding 9).
_URIS_AFTER_LOADS = """
import json, os, sys
import mlflow
import pandas as pd
from pipelineml.hooks import MlflowModelDataset, batch_predict
from pipelineml.hooks.environment._mlflow_internals import uris_set_in_process

uri, tracking_uri, sample_csv = sys.argv[1:4]
variables = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
MlflowModelDataset(uri, tracking_uri=tracking_uri).load()
after_dataset = [uris_set_in_process(), [os.environ.get(v) for v in variables]]
batch_predict(uri, pd.read_csv(sample_csv), tracking_uri=tracking_uri)
after_batch = [uris_set_in_process(), [os.environ.get(v) for v in variables]]
mlflow.set_tracking_uri(tracking_uri)  # the registry follows, as when nothing was loaded
registry = mlflow.get_registry_uri()
scores = mlflow.pyfunc.load_model(uri).predict(pd.read_csv(sample_csv))
print(json.dumps({
    "after_dataset": after_dataset,
    "after_batch": after_batch,
    "registry": registry,
    "rows": len(scores),
    "db_in_cwd": os.path.exists("mlflow.db"),
}))
"""


def test_loading_with_given_stores_leaves_mlflow_s_uris_as_they_were(
    champion: TrainedModel, tmp_path: Path
) -> None:
    """Unset URIs stay unset (no registry pinned to ./mlflow.db, no mlflow.db made there)."""
    import json
    import os
    import subprocess

    from tests._support.process import interpreter, subprocess_env

    sample = tmp_path / "sample.csv"
    champion.sample.to_csv(sample, index=False)
    env = subprocess_env(extra={"PYTHONPATH": os.fspath(Path(__file__).parents[2])})
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        env.pop(variable, None)
    (tmp_path / "cwd").mkdir()

    done = subprocess.run(
        [
            os.fspath(interpreter()),
            "-c",
            _URIS_AFTER_LOADS,
            CHAMPION,
            champion.tracking_uri,
            os.fspath(sample),
        ],
        cwd=tmp_path / "cwd",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["after_dataset"] == [[None, None], [None, None]]
    assert report["after_batch"] == [[None, None], [None, None]]
    assert report["registry"] == champion.tracking_uri
    assert report["rows"] == len(champion.sample)
    assert report["db_in_cwd"] is False
    assert not (tmp_path / "cwd" / "mlflow.db").exists()


def test_dataset_is_read_only_and_describes_its_uri(champion: TrainedModel) -> None:
    """save() says where models come from; repr names the URI."""
    dataset = MlflowModelDataset(CHAMPION, tracking_uri=champion.tracking_uri)

    with pytest.raises(DatasetError, match=r"read-only.*MlflowHook.*log_pipeline_model"):
        dataset.save(object())  # type: ignore[arg-type]
    assert CHAMPION in repr(dataset)
    assert dataset.model_uri == CHAMPION


def test_dataset_names_the_uri_and_store_that_do_not_resolve(champion: TrainedModel) -> None:
    """An alias nobody set fails naming the URI and the tracking store looked in."""
    dataset = MlflowModelDataset(f"models:/{NAME}@nobody", tracking_uri=champion.tracking_uri)

    with pytest.raises(DatasetError, match=rf"models:/{NAME}@nobody.*{champion.tracking_uri}"):
        dataset.load()
    assert not dataset.exists()


# ----------------------------------------------------------------- pandas frames
def test_pandas_frame_is_scored_in_chunks_row_for_row(champion: TrainedModel, model: Any) -> None:
    """Chunks of 70 rows give model.predict's answer on the frame's own (shuffled) index."""
    frame = batch_frames.frames(range(2), 200).sample(frac=1.0, random_state=3)

    result = batch_predict(model, frame, {"threshold": 0.8}, chunk_size=70, progress=False)

    pd.testing.assert_frame_equal(result, model.predict(frame, params={"threshold": 0.8}))
    assert_scores(result, expected(champion, frame, 0.8))


def test_pandas_chunk_that_breaks_the_schema_is_named(model: Any) -> None:
    """A chunk with text in a number column fails naming the chunk, its rows and the column."""
    frame = batch_frames.frames(range(2), 100)
    frame["mean_radius"] = frame["mean_radius"].astype(object)
    frame.iloc[150, 0] = "not a number"

    with pytest.raises(BatchPredictError, match=r"Chunk 1 of 2 \(rows 100-199\).*mean_radius"):
        batch_predict(model, frame, chunk_size=100, progress=False)


def test_model_uri_that_does_not_resolve_is_named(champion: TrainedModel) -> None:
    """batch_predict with a URI of no model names it and the store."""
    with pytest.raises(BatchPredictError, match=r"models:/no_such_model/1.*tracking store"):
        batch_predict(
            "models:/no_such_model/1",
            champion.sample,
            tracking_uri=champion.tracking_uri,
        )


# ----------------------------------------------------------------- Dask frames
def test_dask_result_is_lazy_with_meta_from_the_output_schema(client: Any, model: Any) -> None:
    """Nothing is scored until computed; the meta is the schema's columns and dtypes."""
    before = loads_on(client)
    data = lazy_partitions(4)

    result = batch_predict(model, data, progress=False)

    assert loads_on(client) == before
    assert list(result._meta.columns) == ["score", "prediction"]
    assert result._meta.dtypes.astype(str).tolist() == ["float64", "int64"]
    assert result.npartitions == data.npartitions
    assert result.divisions == data.divisions


def test_dask_frame_scores_each_worker_loading_the_model_once(
    champion: TrainedModel, client: Any, model: Any
) -> None:
    """12 partitions on 2 workers: every row scored as the nodes would, one load per worker."""
    client.restart()  # fresh worker processes: no model cached yet
    data = lazy_partitions(12)

    result = batch_predict(model, data, {"threshold": 0.7}, progress=False).compute()

    assert_scores(result, expected(champion, batch_frames.frames(range(12), ROWS), 0.7))
    loads = loads_on(client)
    assert set(loads.values()) <= {0, 1}, loads
    assert sum(loads.values()) >= 1


@pytest.mark.filterwarnings(DASK_PARQUET_WARNING)
def test_parquet_in_parquet_out_with_kedro_datasets(
    champion: TrainedModel, client: Any, tmp_path: Path
) -> None:
    """ParquetDataset in, batch_predict on the cluster, ParquetDataset out; index kept."""
    source = tmp_path / "instances"
    lazy_partitions(6).to_parquet(source)
    instances = ParquetDataset(filepath=source.as_posix())
    scores = ParquetDataset(
        filepath=(tmp_path / "scores").as_posix(), save_args={"write_index": True}
    )

    scores.save(batch_predict(CHAMPION, instances.load(), tracking_uri=champion.tracking_uri))

    written = pd.read_parquet(tmp_path / "scores").sort_index()
    assert_scores(written, expected(champion, batch_frames.frames(range(6), ROWS)))


@pytest.mark.parametrize(
    ("kind", "pattern"),
    [
        ("text", r"Partition 2 of 4 \(500 rows\).*input schema.*mean_radius"),
        ("missing", r"Partition 2 of 4 \(500 rows\).*ValueError: Input X contains NaN"),
    ],
    ids=["schema", "node"],
)
def test_bad_partition_is_named(client: Any, model: Any, kind: str, pattern: str) -> None:
    """A partition that breaks the schema, or makes a node fail, is named with the cause."""
    data = lazy_partitions(4, bad=2, kind=kind)

    with pytest.raises(BatchPredictError, match=pattern) as caught:
        batch_predict(model, data, progress=False).compute()
    assert caught.value.partition == 2


def test_progress_is_logged_without_a_terminal(
    client: Any, model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a terminal, the end of a job is logged: partitions done and rows."""
    caplog.set_level("INFO", logger="pipelineml.hooks.batch")

    batch_predict(model, lazy_partitions(3), progress=False).compute()

    distributed.wait([], timeout=1)
    lines = [r.getMessage() for r in caplog.records if "3/3 partitions" in r.getMessage()]
    assert lines, [r.getMessage() for r in caplog.records]
    assert "1,500 rows" in lines[-1]


def test_unreachable_scheduler_fails_fast_naming_it(model: Any) -> None:
    """A scheduler address nobody listens on fails within the timeout, naming the address."""
    address = f"tcp://127.0.0.1:{free_port()}"

    with pytest.raises(ClusterConnectionError, match=address):
        batch_predict(model, lazy_partitions(2), address=address, timeout=2)
