"""A batch output folder is complete only when its ``_SUCCESS`` marker says so.

A real Kedro project scores a Dask frame with the champion of a real training run on a
real ``LocalCluster`` and writes it with kedro-datasets' ``dask.ParquetDataset``; a run
whose partition cannot be scored must leave no marker, even where an earlier run left one.
(Kept apart from ``test_batch_scoring.py``, which is near the module size limit.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed", reason="needs the [dask] extra")
pytest.importorskip("dask.dataframe", reason="needs dask[dataframe]")

from pipelineml.hooks import batch_predict  # noqa: E402
from tests._support.batch_fixtures import (  # noqa: E402
    CHAMPION,
    champion_fixture,  # noqa: F401
    lazy_partitions,
    model_fixture,  # noqa: F401
)
from tests._support.kedro_project import make_kedro_project, run_in_session  # noqa: E402
from tests._support.trained_project import TrainedModel  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    # dask's read_parquet calls set_index/reset_index(inplace=True), which pandas deprecates.
    pytest.mark.filterwarnings("ignore:.*The inplace keyword in DataFrame:Warning"),
]

PARTITIONS = 6

NODES = """\
from pipelineml.hooks import batch_predict
from tests._support.batch_fixtures import lazy_partitions


def score_table(model, bad):
    # Partition `bad` has text in a numeric column: the model refuses it (-1: none does).
    table = lazy_partitions(6, bad=bad, kind="text") if bad >= 0 else lazy_partitions(6)
    return batch_predict(model, table, progress=False)
"""

REGISTRY = """\
from kedro.pipeline import Pipeline, node

from .nodes import score_table


def register_pipelines():
    scoring = Pipeline([node(score_table, ["champion", "params:bad"], "scores")])
    return {"__default__": scoring, "batch_scoring": scoring}
"""


@pytest.fixture(scope="module")
def client(local_cluster: Any) -> Iterator[Any]:
    """A client of the 2-worker LocalCluster, the current client while the tests run."""
    with distributed.Client(local_cluster) as connected:
        yield connected


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part.*.parquet"))


def _project(root: Path, champion: TrainedModel) -> Path:
    return make_kedro_project(
        root,
        nodes_py=NODES,
        pipeline_registry_py=REGISTRY,
        catalog={
            "champion": {
                "type": "pipelineml.hooks.MlflowModelDataset",
                "model_uri": CHAMPION,
                "tracking_uri": champion.tracking_uri,
            },
            "scores": {
                "type": "dask.ParquetDataset",
                "filepath": "data/07_model_output/scores",
                "save_args": {"write_index": True},
            },
        },
        parameters={"bad": -1},
    )


def test_kedro_run_marks_the_folder_last_and_a_failed_run_unmarks_it(
    champion: TrainedModel, client: Any, tmp_path: Path
) -> None:
    """kedro run: _SUCCESS written after every part; a failing partition leaves none."""
    root = _project(tmp_path / "project", champion)
    scores = root / "data/07_model_output/scores"

    run_in_session(root, ["batch_scoring"])

    marker = scores / "_SUCCESS"
    assert marker.is_file()
    parts = _parts(scores)
    assert len(parts) == PARTITIONS
    assert all(marker.stat().st_mtime_ns >= part.stat().st_mtime_ns for part in parts)
    body = json.loads(marker.read_text())
    assert body["partitions"] == PARTITIONS
    assert body["files"] == [part.name for part in parts]
    assert body["model"]["model_id"].startswith("m-")
    assert body["rows"] in (None, PARTITIONS * 500)  # None if an event is still in flight
    assert len(pd.read_parquet(scores)) == PARTITIONS * 500  # readers skip the marker

    with pytest.raises(Exception, match=r"Partition 3 of 6 .*mean_radius"):
        run_in_session(root, ["batch_scoring"], extra_params={"bad": 3})

    assert not marker.exists(), "a failed write left the earlier run's marker in place"
    assert _parts(scores), "the earlier run's parts are gone: the test proves nothing"


def test_to_parquet_outside_kedro_marks_the_folder(
    champion: TrainedModel, client: Any, tmp_path: Path
) -> None:
    """batch_predict(...).to_parquet(folder): _SUCCESS names the model URI and the files."""
    scored = batch_predict(
        CHAMPION, lazy_partitions(3), tracking_uri=champion.tracking_uri, progress=False
    )

    scored.to_parquet(tmp_path / "scores")

    body = json.loads((tmp_path / "scores" / "_SUCCESS").read_text())
    assert body["model"]["model_uri"] == CHAMPION
    assert body["files"] == [part.name for part in _parts(tmp_path / "scores")]


def test_deferred_write_is_marked_only_when_computed(
    model: Any, client: Any, tmp_path: Path
) -> None:
    """to_parquet(compute=False): no marker (a stale one removed) until the write is done."""
    folder = tmp_path / "scores"
    folder.mkdir()
    (folder / "_SUCCESS").write_text("{}")

    write = batch_predict(model, lazy_partitions(3), progress=False).to_parquet(
        folder, compute=False
    )

    assert not (folder / "_SUCCESS").exists()
    write.compute()
    assert json.loads((folder / "_SUCCESS").read_text())["partitions"] == 3


def test_a_frame_derived_from_the_scores_is_not_marked(
    model: Any, client: Any, tmp_path: Path
) -> None:
    """Only batch_predict's own frame is marked: pipelineml cannot vouch for what follows."""
    scored = batch_predict(model, lazy_partitions(2), progress=False)

    scored.assign(extra=1).to_parquet(tmp_path / "derived")

    assert _parts(tmp_path / "derived")
    assert not (tmp_path / "derived" / "_SUCCESS").exists()
