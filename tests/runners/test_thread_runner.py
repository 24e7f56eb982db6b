"""ThreadRunner under concurrency: parallel branches, failures, pool size and shared use."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import kedro.runner
import pytest
from kedro.io import AbstractDataset, DataCatalog, DatasetError, MemoryDataset
from kedro.pipeline import Pipeline, node

from pipelineml.runners import SequentialRunner, ThreadRunner
from tests._support.runners import HookRecorder, make_hook_manager, peak_concurrency


class Intervals:
    """Thread-safe record of when each node ran."""

    def __init__(self, barrier: threading.Barrier | None = None) -> None:
        self.spans: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()
        # The first barrier.parties nodes to start wait there for each other.
        self.barrier = barrier
        self.arrived = 0

    def timed(self, name: str, seconds: float) -> Callable[..., int]:
        def run(*_: Any) -> int:
            start = time.perf_counter()
            with self.lock:
                self.arrived += 1
                meets = self.barrier is not None and self.arrived <= self.barrier.parties
            if meets:
                assert self.barrier is not None
                self.barrier.wait()
            time.sleep(seconds)
            end = time.perf_counter()
            with self.lock:
                self.spans[name] = (start, end)
            return len(name)

        return run


def _sleepy_branches(intervals: Intervals, width: int, seconds: float) -> Pipeline:
    return Pipeline(
        [
            node(intervals.timed(f"b{i:02d}", seconds), "shared", f"out{i:02d}", name=f"b{i:02d}")
            for i in range(width)
        ]
    )


@pytest.mark.parametrize("width", [6, 20])
def test_branches_can_all_wait_for_each_other(width: int, closing: Any) -> None:
    """Independent branches meeting at a barrier all run at once (a sequential run, or one
    with fewer threads, would break the barrier)."""
    barrier = threading.Barrier(width, timeout=5)

    def meet(shared: int) -> int:
        return barrier.wait()

    pipe = Pipeline([node(meet, "shared", f"out{i}", name=f"meet{i}") for i in range(width)])
    result = closing(ThreadRunner(max_workers=width)).run(
        pipe, DataCatalog({"shared": MemoryDataset(0)})
    )

    assert sorted(dataset.load() for dataset in result.values()) == list(range(width))


@pytest.mark.parametrize("max_workers", [1, 3])
def test_at_most_max_workers_nodes_run_at_once(max_workers: int, closing: Any) -> None:
    """max_workers nodes run at once (the calling thread included), never more.

    The first max_workers nodes wait at a barrier for each other, so they must run side
    by side; the recorded intervals show that no more ever overlap.
    """
    intervals = Intervals(barrier=threading.Barrier(max_workers, timeout=5))
    runner = closing(ThreadRunner(max_workers=max_workers))
    runner.run(_sleepy_branches(intervals, 9, 0.02), DataCatalog({"shared": MemoryDataset(0)}))

    assert len(intervals.spans) == 9
    assert peak_concurrency(intervals.spans.values()) == max_workers


def test_shared_inputs_reach_every_branch_intact(closing: Any) -> None:
    """Twenty branches read the same inputs; each gets its own copy and the right answer."""

    def make_branch(i: int) -> Callable[[list[int], int], int]:
        def branch(shared: list[int], offset: int) -> int:
            shared.append(i)  # mutating a copy must not reach the other branches
            return sum(shared) + offset

        return branch

    pipe = Pipeline(
        [
            node(make_branch(i), ["shared", "params:offset"], f"out{i:02d}", name=f"branch{i:02d}")
            for i in range(20)
        ]
    )
    catalog = DataCatalog({"shared": MemoryDataset([1, 2, 3])})
    catalog["params:offset"] = 100
    result = closing(ThreadRunner(max_workers=8)).run(pipe, catalog)

    assert {name: dataset.load() for name, dataset in result.items()} == {
        f"out{i:02d}": 6 + i + 100 for i in range(20)
    }
    assert catalog.load("shared") == [1, 2, 3]


class BranchFailure(RuntimeError):
    """The error of the failing branch."""


def test_failure_stops_downstream_and_unstarted_nodes(closing: Any) -> None:
    """A failing branch raises its own error; running nodes finish, its chain and queued nodes never run."""
    # With max_workers=2 the calling thread runs the first ready node and the pool's one
    # thread takes the others in order. b_failing (first in the pool's queue) fails only once
    # a_running has started, and a_running finishes only once b_failing has failed, so the
    # c_queued_* nodes are still queued behind it when it fails: no sleeps, no races.
    ran: list[str] = []
    started = threading.Event()
    failed = threading.Event()
    raised: list[BaseException] = []

    def a_running() -> bool:
        started.set()
        saw_failure = failed.wait(timeout=5)
        ran.append("a_running")
        return saw_failure

    def b_failing() -> int:
        assert started.wait(timeout=5)
        ran.append("b_failing")
        error = BranchFailure("branch b failed on row 7")
        raised.append(error)
        failed.set()
        raise error

    def record(name: str) -> Callable[..., int]:
        def run(*_: Any) -> int:
            ran.append(name)
            return 0

        return run

    pipe = Pipeline(
        [
            node(a_running, None, "a_out", name="a_running"),
            node(b_failing, None, "b_out", name="b_failing"),
            node(record("b_child_1"), "b_out", "b1", name="b_child_1"),
            node(record("b_child_2"), "b1", "b2", name="b_child_2"),
            *(node(record(f"c{i}"), None, f"c{i}", name=f"c_queued_{i}") for i in range(8)),
        ]
    )
    assert [n.name for n in pipe.nodes][:2] == ["a_running", "b_failing"]
    catalog = DataCatalog()

    with pytest.raises(BranchFailure, match=r"^branch b failed on row 7$") as excinfo:
        closing(ThreadRunner(max_workers=2)).run(pipe, catalog)

    assert excinfo.value is raised[0]
    assert sorted(ran) == ["a_running", "b_failing"]
    # The node that was running when b failed finished and saved its output.
    assert catalog.load("a_out") is True


@pytest.mark.parametrize("failing", ["first", "second"])
def test_failure_on_either_thread_raises_the_node_error(failing: str, closing: Any) -> None:
    """The node's own exception is raised whether it failed on the calling thread or in the pool."""
    ran: list[str] = []

    def make(name: str) -> Callable[[int], int]:
        def run(x: int) -> int:
            if name == failing:
                raise KeyError(f"{name} has no key")
            ran.append(name)
            return x

        return run

    pipe = Pipeline(
        [
            node(make("first"), "x", "y1", name="first"),
            node(make("second"), "x", "y2", name="second"),
            node(make("after_first"), "y1", "z1", name="after_first"),
            node(make("after_second"), "y2", "z2", name="after_second"),
        ]
    )
    recorder = HookRecorder()
    with pytest.raises(KeyError, match=f"{failing} has no key"):
        closing(ThreadRunner(max_workers=2)).run(
            pipe, DataCatalog({"x": MemoryDataset(1)}), hook_manager=make_hook_manager(recorder)
        )

    assert f"after_{failing}" not in ran
    assert [call[1] for call in recorder.calls if call[0] == "on_node_error"] == [failing]
    assert isinstance(recorder.errors[0], KeyError)


def test_max_workers_one_runs_one_node_at_a_time(closing: Any) -> None:
    """max_workers=1 runs every node, one at a time."""
    intervals = Intervals()
    runner = closing(ThreadRunner(max_workers=1))
    result = runner.run(
        _sleepy_branches(intervals, 4, 0.01), DataCatalog({"shared": MemoryDataset(0)})
    )

    assert runner.max_workers == 1
    assert {name: dataset.load() for name, dataset in result.items()} == {
        f"out{i:02d}": 3 for i in range(4)
    }
    assert peak_concurrency(intervals.spans.values()) == 1


def test_max_workers_defaults_to_the_cpu_count(closing: Any) -> None:
    """Without max_workers the pool has one thread per CPU."""
    assert closing(ThreadRunner()).max_workers == (os.cpu_count() or 1)


@pytest.mark.parametrize("max_workers", [0, -1])
def test_max_workers_must_be_positive(max_workers: int) -> None:
    """max_workers of 0 or less is a ValueError naming the value."""
    with pytest.raises(ValueError, match=f"max_workers should be positive, got {max_workers}"):
        ThreadRunner(max_workers=max_workers)


def test_is_async_warns_and_is_ignored(closing: Any) -> None:
    """ThreadRunner(is_async=True) warns, like Kedro's, and runs nodes with is_async=False."""
    with pytest.warns(UserWarning, match="'ThreadRunner' doesn't support loading and saving"):
        runner = closing(ThreadRunner(max_workers=2, is_async=True))

    recorder = HookRecorder()
    pipe = Pipeline([node(abs, "x", "y", name="abs"), node(abs, "x", "z", name="abs2")])
    result = runner.run(
        pipe, DataCatalog({"x": MemoryDataset(-3)}), hook_manager=make_hook_manager(recorder)
    )

    assert result["y"].load() == 3
    assert recorder.is_async == [False, False]


def _diamond() -> Pipeline:
    return Pipeline(
        [
            node(lambda x: 2 * x, "x", "doubled", name="double"),
            node(lambda x: x + 1, "x", "incremented", name="increment"),
            node(lambda x: x * x, "x", "squared", name="square"),
            node(lambda a, b, c: a + b + c, ["doubled", "incremented", "squared"], "y", name="sum"),
        ]
    )


def _expected(x: int) -> int:
    return 2 * x + (x + 1) + x * x


@pytest.mark.parametrize(
    "make_runner",
    [partial(ThreadRunner, max_workers=4), SequentialRunner],
    ids=["thread", "sequential"],
)
def test_one_runner_serves_sixteen_threads(make_runner: Callable[[], Any], closing: Any) -> None:
    """One runner used from 16 threads at once gives every thread its own correct answers."""
    runner = closing(make_runner())
    pipe = _diamond()
    start = threading.Barrier(16, timeout=10)
    answers: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def serve(i: int) -> None:
        try:
            start.wait()
            mine = []
            for round_ in range(6):
                x = i * 100 + round_
                mine.append(runner.run_in_memory(pipe, {"x": x})["y"] - _expected(x))
                catalog = DataCatalog({"x": MemoryDataset(x)})
                mine.append(runner.run(pipe, catalog)["y"].load() - _expected(x))
            answers[i] = mine
        except BaseException as exc:  # reported below, with the thread's index
            errors.append(exc)

    threads = [threading.Thread(target=serve, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors
    assert sorted(answers) == list(range(16))
    assert all(differences == [0] * 12 for differences in answers.values())


def test_close_then_run_again(closing: Any) -> None:
    """After close() the runner starts a new pool on its next run; close() twice is harmless."""
    runner = closing(ThreadRunner(max_workers=3))
    assert runner.run_in_memory(_diamond(), {"x": 2}) == {"y": _expected(2)}
    runner.close()
    runner.close()
    assert runner.run_in_memory(_diamond(), {"x": 3}) == {"y": _expected(3)}
    catalog = DataCatalog({"x": MemoryDataset(4)})
    assert runner.run(_diamond(), catalog)["y"].load() == _expected(4)


def test_close_before_any_run_is_harmless() -> None:
    """close() on a runner that never ran does nothing and the runner still works."""
    runner = ThreadRunner(max_workers=2)
    runner.close()
    assert runner.run_in_memory(_diamond(), {"x": 1}) == {"y": _expected(1)}
    runner.close()


class Abort(BaseException):
    """A BaseException that is not an Exception (like SystemExit or KeyboardInterrupt)."""


def _abort_on_pool_thread(ran: list[str]) -> Pipeline:
    # With max_workers=2, of the two children of ``source`` the first continues on the calling
    # thread and the second goes to the pool's thread.
    def source() -> int:
        return 1

    def ok(x: int) -> int:
        ran.append("ok")
        return x

    def abort(x: int) -> int:
        raise Abort("stop now")

    def after(x: int) -> int:
        ran.append("after")
        return x

    return Pipeline(
        [
            node(source, None, "s", name="a_source"),
            node(ok, "s", "o1", name="b_ok"),
            node(abort, "s", "o2", name="c_abort"),
            node(after, "o2", "o3", name="d_after"),
        ]
    )


@pytest.mark.parametrize(
    "make_runner",
    [
        pytest.param(lambda: kedro.runner.ThreadRunner(max_workers=2), id="kedro-thread"),
        pytest.param(lambda: ThreadRunner(max_workers=2), id="thread"),
    ],
)
def test_base_exception_in_a_pool_thread_propagates(
    make_runner: Callable[[], Any], closing: Any
) -> None:
    """A node raising a BaseException (SystemExit, KeyboardInterrupt...) on a worker thread stops the run with it."""
    ran: list[str] = []
    with pytest.raises(Abort, match="stop now"):
        closing(make_runner()).run(_abort_on_pool_thread(ran), DataCatalog())
    assert "after" not in ran


class FailingRelease(AbstractDataset[Any, Any]):
    """A dataset whose release() fails."""

    def __init__(self) -> None:
        self._data: Any = None

    def load(self) -> Any:
        return self._data

    def save(self, data: Any) -> None:
        self._data = data

    def _describe(self) -> dict[str, Any]:
        return {}

    def _release(self) -> None:
        raise OSError("cannot release the lock file")


def _release_on_pool_thread() -> Pipeline:
    # b_left continues on the calling thread; b_right and its chain run on the pool's thread,
    # which releases "right_mid" (last used by c_right) before d_right can run.
    return Pipeline(
        [
            node(lambda: 1, None, "s", name="a_source"),
            node(lambda x: x, "s", "left_mid", name="b_left"),
            node(lambda x: x, "s", "right_mid", name="b_right"),
            node(lambda x: x, "left_mid", "left_out", name="c_left"),
            node(lambda x: x, "right_mid", "right_next", name="c_right"),
            node(lambda x: x + 1, "right_next", "right_out", name="d_right"),
        ]
    )


@pytest.mark.parametrize(
    "make_runner",
    [
        pytest.param(lambda: kedro.runner.ThreadRunner(max_workers=2), id="kedro-thread"),
        pytest.param(SequentialRunner, id="sequential"),
        pytest.param(lambda: ThreadRunner(max_workers=2), id="thread"),
    ],
)
def test_release_errors_propagate(make_runner: Callable[[], Any], closing: Any) -> None:
    """An error from a dataset's release() fails the run, as in Kedro, on whichever thread it happens."""
    catalog = DataCatalog({"right_mid": FailingRelease()})
    with pytest.raises(DatasetError, match="cannot release the lock file"):
        closing(make_runner()).run(_release_on_pool_thread(), catalog)
