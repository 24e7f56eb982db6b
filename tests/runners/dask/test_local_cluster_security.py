"""Every LocalCluster pipelineml starts is on 127.0.0.1 with TLS and a certificate of its own.

A Dask scheduler runs whatever its clients submit, as the user who started it; before this,
any local process could connect to the cluster a request or a batch job started and run
code in it (#22, finding 1). Each test starts a real LocalCluster and tries to connect to
it from outside, the way another process of the machine would.
"""

from __future__ import annotations

from typing import Any

import pytest

distributed = pytest.importorskip("distributed", reason="needs the [dask] extra")

from kedro.pipeline import Pipeline, node  # noqa: E402

from pipelineml.runners import DaskRunner, close_clients, scheduler_client  # noqa: E402

pytestmark = pytest.mark.dask


def _outsider_runs_code(address: str, security: Any = None) -> bool:
    """Whether a client of this process, not given the cluster's certificate, gets code run."""
    try:
        client = distributed.Client(address, timeout="3s", security=security)
    except Exception:
        return False
    try:
        return bool(client.run_on_scheduler(lambda: True))
    finally:
        client.close()


def _assert_closed_to_others(address: str) -> None:
    assert address.startswith("tls://127.0.0.1:"), address
    assert not _outsider_runs_code(address)
    assert not _outsider_runs_code(address.replace("tls://", "tcp://", 1))
    # Even with a certificate: one the cluster's own authority did not sign.
    assert not _outsider_runs_code(address, distributed.Security.temporary())


def _double(value: int) -> int:
    return value * 2


def test_dask_runner_s_local_cluster_takes_no_outside_client() -> None:
    """DaskRunner without an address: its LocalCluster runs the pipeline and nobody else's code."""
    runner = DaskRunner(cluster_kwargs={"n_workers": 1})
    try:
        result = runner.run_in_memory(Pipeline([node(_double, "a", "b", name="double")]), {"a": 21})
        address = runner.client.scheduler.address

        assert result == {"b": 42}
        _assert_closed_to_others(address)
    finally:
        runner.close()


def test_batch_scoring_s_local_cluster_takes_no_outside_client() -> None:
    """The client batch scoring starts when nothing is configured is closed to others too."""
    try:
        client = scheduler_client(cluster_kwargs={"n_workers": 1})

        assert client.submit(_double, 4).result() == 8
        _assert_closed_to_others(client.scheduler.address)
    finally:
        close_clients()


def test_a_security_of_the_user_s_own_is_kept() -> None:
    """cluster_kwargs security=... is the user's choice (Security() is no TLS at all)."""
    runner = DaskRunner(cluster_kwargs={"n_workers": 1, "security": distributed.Security()})
    try:
        runner.run_in_memory(Pipeline([node(_double, "a", "b", name="double")]), {"a": 1})

        assert runner.client.scheduler.address.startswith("tcp://127.0.0.1:")
    finally:
        runner.close()
