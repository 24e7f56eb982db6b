"""One lifecycle for every runner: pools opened on first use, close(), ``with``, pickling."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node

from pipelineml.runners import CopyPolicy, SequentialRunner, ThreadRunner

# Each runner with a pool, and the prefix of its pool's thread names.
POOLED: dict[str, tuple[Callable[[], SequentialRunner | ThreadRunner], str]] = {
    "sequential-async": (
        lambda: SequentialRunner(is_async=True, copy_policy="deepcopy"),
        "pipelineml-io",
    ),
    "thread": (lambda: ThreadRunner(max_workers=3, copy_policy="deepcopy"), "pipelineml-thread"),
}


def _inc(x: int) -> int:
    return x + 1


def _total(*xs: int) -> int:
    return sum(xs)


def _fan() -> Pipeline:
    """Three independent branches joined: the thread pool is used, not the in-order path."""
    branches = [node(_inc, "a", f"b{i}", name=f"branch{i}") for i in range(3)]
    return Pipeline([*branches, node(_total, ["b0", "b1", "b2"], "c", name="join")])


def _run(runner: SequentialRunner | ThreadRunner, a: int) -> int:
    result = runner.run(_fan(), DataCatalog({"a": MemoryDataset(a)}))
    value: int = result["c"].load()
    return value


def _pool_threads(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"{prefix}_")]


@pytest.mark.parametrize("kind", POOLED)
def test_close_shuts_the_pool_down_and_a_later_run_opens_one(kind: str) -> None:
    """The pool outlives a run, close() joins its threads, the next run starts a new one."""
    make, prefix = POOLED[kind]
    before = set(_pool_threads(prefix))
    runner = make()

    assert _run(runner, 1) == 6
    opened = set(_pool_threads(prefix)) - before
    assert opened  # kept between runs
    assert _run(runner, 2) == 9
    # The same pool, reused: the first run's threads still serve (executors may add
    # threads as needed, up to their size).
    after_second = set(_pool_threads(prefix)) - before
    assert opened <= after_second
    opened = after_second

    runner.close()
    assert not any(t.is_alive() for t in opened)
    runner.close()  # closing twice is fine

    assert _run(runner, 3) == 12
    reopened = set(_pool_threads(prefix)) - before
    assert reopened
    assert not reopened & opened
    runner.close()


@pytest.mark.parametrize("kind", POOLED)
def test_with_block_closes_the_runner(kind: str) -> None:
    """Leaving ``with runner:`` closes it, also when the block raises."""
    make, prefix = POOLED[kind]
    before = set(_pool_threads(prefix))
    opened: set[threading.Thread] = set()

    def use_and_fail() -> None:
        with make() as runner:
            assert _run(runner, 1) == 6
            opened.update(set(_pool_threads(prefix)) - before)
            raise RuntimeError("leaving")

    with pytest.raises(RuntimeError, match="leaving"):
        use_and_fail()
    assert opened
    assert not any(t.is_alive() for t in opened)


@pytest.mark.parametrize("kind", POOLED)
def test_pickling_keeps_settings_and_drops_pools(kind: str) -> None:
    """A copy has the settings, none of the open pool, and runs; the original is untouched."""
    make, _ = POOLED[kind]
    runner = make()
    try:
        assert _run(runner, 1) == 6
        state = runner.__getstate__()
        assert "_pool" not in state
        assert "_plans" not in state

        copy = pickle.loads(pickle.dumps(runner))
        assert copy.copy_policy == CopyPolicy("deepcopy")
        assert repr(copy) == repr(runner)
        if isinstance(runner, ThreadRunner):
            assert isinstance(copy, ThreadRunner)
            assert copy.max_workers == runner.max_workers == 3
        assert _run(copy, 5) == 18
        copy.close()
        assert _run(runner, 2) == 9  # the original's pool was not the copy's to close
    finally:
        runner.close()


def test_a_sequential_run_without_async_opens_no_pool() -> None:
    """Only is_async=True needs threads: a plain sequential run starts none."""
    before = set(_pool_threads("pipelineml"))
    with SequentialRunner() as runner:
        assert _run(runner, 1) == 6
        assert set(_pool_threads("pipelineml")) == before
