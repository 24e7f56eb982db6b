"""run_in_memory (how a served model scores a request) and runners surviving pickling.

The in-memory tests run on both runners and on the module-level ``run_in_memory`` function
(``KedroPipelineModel``'s default), wrapped to look like a runner.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node

from pipelineml.runners import (
    CopyPolicy,
    SequentialRunner,
    ThreadRunner,
    failed_node,
    run_in_memory,
)


class FunctionAsRunner(contextlib.AbstractContextManager["FunctionAsRunner"]):
    """``run_in_memory`` (the function) with a runner's copy_policy and methods."""

    def __exit__(self, *exc_info: object) -> None:
        """Nothing to close: the function holds no pool."""

    def __init__(self, copy_policy: Any = None) -> None:
        self.copy_policy = copy_policy

    def run_in_memory(
        self, pipeline: Pipeline, data: dict[str, Any], *, copy_policy: Any = None
    ) -> dict[str, Any]:
        chosen = self.copy_policy if copy_policy is None else copy_policy
        return run_in_memory(pipeline, data, copy_policy=chosen)

    def run(self, pipeline: Pipeline, catalog: DataCatalog) -> dict[str, Any]:
        # The function has no catalog mode: compare with what our SequentialRunner does.
        return SequentialRunner(copy_policy=self.copy_policy).run(pipeline, catalog)


RUNNERS: dict[str, Callable[..., Any]] = {
    "sequential": SequentialRunner,
    "thread": partial(ThreadRunner, max_workers=3),
    "function": FunctionAsRunner,
}
KINDS = list(RUNNERS)


def scale(values: list[int], factor: int) -> list[int]:
    """Multiply every value."""
    return [v * factor for v in values]


def total(values: list[int]) -> int:
    """Sum."""
    return sum(values)


def count(values: list[int]) -> int:
    """Length."""
    return len(values)


def _pipeline() -> Pipeline:
    return Pipeline(
        [
            node(scale, ["values", "params:factor"], "scaled", name="scale"),
            node(total, "scaled", "total", name="total"),
            node(count, "scaled", "count", name="count"),
        ]
    )


class Seen:
    """Objects nodes received, by name."""

    def __init__(self) -> None:
        self.objects: dict[str, Any] = {}


def _mutating(seen: Seen) -> Pipeline:
    def grow(values: list[int]) -> list[int]:
        seen.objects["received"] = values
        values.append(99)
        return values

    return Pipeline([node(grow, "values", "grown", name="grow")])


@pytest.mark.parametrize("kind", KINDS)
def test_returns_free_outputs_data(kind: str, closing: Any) -> None:
    """run_in_memory returns {free output: data}, nothing else."""
    runner = closing(RUNNERS[kind]())
    result = runner.run_in_memory(_pipeline(), {"values": [1, 2, 3], "params:factor": 10})
    assert result == {"total": 60, "count": 3}


@pytest.mark.parametrize("kind", KINDS)
def test_missing_input_is_named(kind: str, closing: Any) -> None:
    """A free input missing from the data is a ValueError naming it."""
    runner = closing(RUNNERS[kind]())
    with pytest.raises(ValueError, match=r"Pipeline input\(s\) \{'params:factor'\} not found"):
        runner.run_in_memory(_pipeline(), {"values": [1]})


@pytest.mark.parametrize("kind", KINDS)
def test_extra_keys_are_ignored(kind: str, closing: Any) -> None:
    """Keys that are not free inputs of the pipeline are ignored."""
    runner = closing(RUNNERS[kind]())
    result = runner.run_in_memory(
        _pipeline(), {"values": [1, 2], "params:factor": 2, "unused": object(), "scaled": [0]}
    )
    assert result == {"total": 6, "count": 2}


@pytest.mark.parametrize("policy", [None, "deepcopy", {"values": "deepcopy"}])
@pytest.mark.parametrize("kind", KINDS)
def test_callers_input_is_not_mutated(kind: str, policy: Any, closing: Any) -> None:
    """With no policy (Kedro's inference) or deepcopy, a node mutating its input leaves the caller's object alone."""
    seen = Seen()
    runner = closing(RUNNERS[kind](copy_policy=policy))
    values = [1, 2]
    result = runner.run_in_memory(_mutating(seen), {"values": values})

    assert values == [1, 2]
    assert seen.objects["received"] is not values
    assert result == {"grown": [1, 2, 99]}


@pytest.mark.parametrize("kind", KINDS)
def test_assign_hands_over_the_callers_object(kind: str, closing: Any) -> None:
    """With 'assign' the node receives the caller's very object, and returns its own."""
    seen = Seen()
    runner = closing(RUNNERS[kind](copy_policy="assign"))
    values = [1, 2]
    result = runner.run_in_memory(_mutating(seen), {"values": values})

    assert seen.objects["received"] is values
    assert result["grown"] is values
    assert values == [1, 2, 99]


@pytest.mark.parametrize("kind", KINDS)
def test_copy_policy_argument_overrides_the_runners(kind: str, closing: Any) -> None:
    """copy_policy= on the call replaces the runner's own policy for that call only."""
    seen = Seen()
    pipe = _mutating(seen)
    runner = closing(RUNNERS[kind](copy_policy="assign"))
    values = [1, 2]
    runner.run_in_memory(pipe, {"values": values}, copy_policy=CopyPolicy("deepcopy"))
    assert seen.objects["received"] is not values
    assert values == [1, 2]

    runner.run_in_memory(pipe, {"values": values})
    assert seen.objects["received"] is values


@pytest.mark.parametrize("kind", KINDS)
def test_node_errors_propagate(kind: str, closing: Any) -> None:
    """A node's own exception comes out of run_in_memory, and says which node raised it."""

    def fail(values: list[int]) -> int:
        raise ZeroDivisionError(f"{len(values)} values, no divisor")

    runner = closing(RUNNERS[kind]())
    pipe = Pipeline([node(fail, "values", "out", name="fail")])
    with pytest.raises(ZeroDivisionError) as info:
        runner.run_in_memory(pipe, {"values": [1, 2, 3]})
    assert str(info.value) == "3 values, no divisor"
    assert failed_node(info.value) == "fail"
    assert not getattr(info.value, "__notes__", None)  # the message is the node's own


@pytest.mark.parametrize("kind", KINDS)
def test_generator_output_is_its_last_chunk(kind: str, closing: Any) -> None:
    """A generator node's in-memory output holds its last chunk, as with a MemoryDataset."""

    def chunks(n: int) -> Any:
        yield from range(n)

    runner = closing(RUNNERS[kind]())
    pipe = Pipeline(
        [
            node(chunks, "params:n", "chunk", name="chunks"),
            node(lambda c: c * 10, "chunk", "out", name="use"),
        ]
    )
    assert runner.run_in_memory(pipe, {"params:n": 4}) == {"out": 30}


@pytest.mark.parametrize("kind", KINDS)
def test_same_answers_as_run_with_a_catalog(kind: str, closing: Any) -> None:
    """run_in_memory returns what run() with an equivalent catalog returns."""
    runner = closing(RUNNERS[kind]())
    pipe = _pipeline()
    catalog = DataCatalog({"values": MemoryDataset([4, 5])})
    catalog["params:factor"] = 3
    from_catalog = {name: ds.load() for name, ds in runner.run(pipe, catalog).items()}
    assert runner.run_in_memory(pipe, {"values": [4, 5], "params:factor": 3}) == from_catalog


def _alternating(i: int) -> tuple[Pipeline, str, str]:
    source, target = ("a", "b") if i % 2 == 0 else ("x", "y")
    return Pipeline([node(lambda v: v, source, target, name="identity")]), source, target


@pytest.mark.parametrize("kind", KINDS)
def test_policy_holds_for_many_short_lived_pipelines(kind: str, closing: Any) -> None:
    """A runner serving many short-lived pipelines applies its copy policy to each of them."""
    runner = closing(RUNNERS[kind](copy_policy="assign"))
    handed_over = []
    for i in range(200):
        pipe, source, target = _alternating(i)
        value = [i]
        handed_over.append(runner.run_in_memory(pipe, {source: value})[target] is value)
        del pipe
    assert all(handed_over)


# --------------------------------------------------------------------------- pickling

POLICY = {"model": "assign", "*_df": "copy"}


def _receives(model: Any) -> Pipeline:
    """A pipeline telling whether its node received ``model`` itself."""
    return Pipeline([node(lambda m: m is model, "model", "same_object", name="check")])


def test_sequential_runner_survives_pickling() -> None:
    """A pickled SequentialRunner loads with the same copy policy and runs."""
    pipe, model = _pipeline(), {"weights": [1.0]}
    check = _receives(model)
    runner = SequentialRunner(copy_policy=POLICY)
    runner.run_in_memory(pipe, {"values": [1], "params:factor": 2})  # fill the caches
    restored = pickle.loads(pickle.dumps(runner))

    assert type(restored) is SequentialRunner
    assert restored.copy_policy == CopyPolicy(POLICY)
    assert restored.run_in_memory(pipe, {"values": [1, 2], "params:factor": 2}) == {
        "total": 6,
        "count": 2,
    }
    assert restored.run_in_memory(check, {"model": model}) == {"same_object": True}


def test_async_sequential_runner_survives_pickling_after_a_run() -> None:
    """A SequentialRunner(is_async=True) that created its I/O pool still pickles and runs."""
    pipe = _pipeline()
    runner = SequentialRunner(is_async=True, copy_policy="assign")
    catalog = DataCatalog({"values": MemoryDataset([1, 2])})
    catalog["params:factor"] = 2
    runner.run(pipe, catalog)
    restored = pickle.loads(pickle.dumps(runner))

    catalog = DataCatalog({"values": MemoryDataset([3])})
    catalog["params:factor"] = 2
    assert restored.run(pipe, catalog)["total"].load() == 6
    assert restored.copy_policy == CopyPolicy("assign")


def test_thread_runner_survives_pickling_after_a_run(closing: Any) -> None:
    """A ThreadRunner that has run (its pool exists) pickles; the copy keeps max_workers and policy."""
    pipe, model = _pipeline(), {"weights": [1.0]}
    check = _receives(model)
    runner = closing(ThreadRunner(max_workers=3, copy_policy=POLICY))
    assert runner.run_in_memory(pipe, {"values": [1], "params:factor": 5}) == {
        "total": 5,
        "count": 1,
    }
    restored = closing(pickle.loads(pickle.dumps(runner)))

    assert type(restored) is ThreadRunner
    assert restored.max_workers == 3
    assert restored.copy_policy == CopyPolicy(POLICY)
    assert restored.run_in_memory(pipe, {"values": [2, 3], "params:factor": 5}) == {
        "total": 25,
        "count": 2,
    }
    assert restored.run_in_memory(check, {"model": model}) == {"same_object": True}
    # The original is unaffected by having been pickled.
    assert runner.run_in_memory(pipe, {"values": [1], "params:factor": 1})["total"] == 1
