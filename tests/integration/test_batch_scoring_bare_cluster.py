"""batch_predict on a `dask scheduler` + `dask worker` whose venv has no pipelineml.

The scheduler unpickles the graph, which names pipelineml's scoring functions: both it and
the workers get pipelineml's code from batch_predict, and need only third-party libraries.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("distributed", reason="needs the [dask] extra")
dd = pytest.importorskip("dask.dataframe", reason="needs dask[dataframe]")

import pandas as pd  # noqa: E402

from pipelineml.hooks import batch_predict  # noqa: E402
from pipelineml.runners import close_clients  # noqa: E402
from tests._support.bare_cluster import start_bare_cluster  # noqa: E402
from tests._support.servers import (  # noqa: E402
    DaskCluster,
    stop_dask_cluster,
)

pytestmark = pytest.mark.slow

# pipelineml-hooks[dask]'s third-party requirements (lz4: the client compresses with it).
LIBRARIES = (
    *("distributed", "dask", "kedro", "cloudpickle", "cryptography", "fsspec", "lz4"),
    *("pandas", "pyarrow", "numpy", "mlflow", "click", "networkx", "packaging", "pyyaml"),
    "rich",
)


@pytest.fixture(scope="module")
def bare_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    root = tmp_path_factory.mktemp("bare-batch")
    cluster = start_bare_cluster(root, *LIBRARIES)
    try:
        yield cluster
    finally:
        close_clients()
        stop_dask_cluster(cluster)


def _model() -> Any:
    # Defined in a function: cloudpickle sends it by value, so the workers need no tests.
    class Doubler:
        def predict(self, frame: pd.DataFrame, params: Any = None) -> pd.DataFrame:
            return pd.DataFrame({"score": frame["x"] * 2.0}, index=frame.index)

    return Doubler()


def test_batch_predict_scores_on_a_cluster_without_pipelineml(bare_cluster: DaskCluster) -> None:
    frame = pd.DataFrame({"x": [float(i) for i in range(40)]})
    data = dd.from_pandas(frame, npartitions=4)
    meta = pd.DataFrame({"score": pd.Series([], dtype="float64")})
    scored = batch_predict(_model(), data, meta=meta, address=bare_cluster.address, progress=False)
    result = scored.compute()
    assert result.index.equals(frame.index)
    assert result["score"].tolist() == [2.0 * i for i in range(40)]
