"""What a runner needs to know about a pipeline, computed once per pipeline object.

Kedro's runners recompute node order, load counts and pipeline inputs/outputs on every
run (``pipeline.inputs()`` alone walks every node). A serving model runs the same
pipeline for every request, so all of it is computed once and kept in a ``Plan``.
"""

from __future__ import annotations

import inspect
import weakref
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING, Any

from pipelineml.runners._calling import NodeCall, compile_call

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

    from pipelineml.runners._typing import Names


@dataclass(frozen=True, slots=True)
class Step:
    """One node and the bookkeeping around it."""

    index: int
    node: Node
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    confirms: tuple[str, ...]
    is_generator: bool
    # node.run without its per-call logging, for in-memory runs.
    call: NodeCall
    # Datasets to release once this step is done, when steps run in plan order.
    release_after: tuple[str, ...]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # DaskRunner pickles its steps for every run. ``call`` is a closure over the
        # node's function, pickled by value: half the bytes and time of a step. It is
        # compiled again where the step is unpickled, from the node that travels anyway.
        fields = (self.index, self.node, self.inputs, self.outputs, self.confirms)
        return _unpickle_step, (*fields, self.is_generator, self.release_after)


def _unpickle_step(
    index: int,
    node: Node,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    confirms: tuple[str, ...],
    is_generator: bool,
    release_after: tuple[str, ...],
) -> Step:
    call = compile_call(node)
    return Step(index, node, inputs, outputs, confirms, is_generator, call, release_after)


@dataclass(frozen=True, slots=True)
class Plan:
    """Node order, dependencies and dataset bookkeeping of one pipeline."""

    steps: tuple[Step, ...]
    inputs: frozenset[str]
    outputs: tuple[str, ...]
    output_set: frozenset[str]
    datasets: tuple[str, ...]
    load_counts: dict[str, int]
    children: tuple[tuple[int, ...], ...]
    parents: tuple[tuple[int, ...], ...]
    parent_counts: tuple[int, ...]
    max_parallelism: int
    # Per-plan memo of what runners derive from it (catalog routing, copy functions per
    # policy). Living on the plan, it goes away with the pipeline the plan belongs to.
    memo: dict[object, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def nodes(self) -> list[Node]:
        """The nodes in execution order."""
        return [step.node for step in self.steps]


def _release_rule(
    dataset: str, counts: Counter[str], inputs: frozenset[str], outputs: frozenset[str]
) -> bool:
    return counts[dataset] < 1 and dataset not in inputs and dataset not in outputs


def build_plan(pipeline: Pipeline) -> Plan:
    """Compute the plan of ``pipeline`` (Kedro's topological order and release rules)."""
    nodes = pipeline.nodes
    index = {node: i for i, node in enumerate(nodes)}
    free_inputs = frozenset(pipeline.inputs())
    free_outputs = frozenset(pipeline.outputs())
    load_counts: Counter[str] = Counter(chain.from_iterable(n.inputs for n in nodes))

    # Kedro releases a node's inputs when their last consumer is done, and outputs nobody
    # consumes, except the pipeline's own inputs and outputs.
    remaining = Counter(load_counts)
    steps = []
    for i, node in enumerate(nodes):
        release: list[str] = []
        for dataset in node.inputs:
            remaining[dataset] -= 1
            if remaining[dataset] < 1 and dataset not in free_inputs and dataset not in release:
                release.append(dataset)
        for dataset in node.outputs:
            if _release_rule(dataset, remaining, free_inputs, free_outputs):
                release.append(dataset)
        steps.append(
            Step(
                index=i,
                node=node,
                inputs=tuple(node.inputs),
                outputs=tuple(node.outputs),
                confirms=tuple(node.confirms),
                is_generator=inspect.isgeneratorfunction(node.func),
                call=compile_call(node),
                release_after=tuple(release),
            )
        )

    dependencies = pipeline.node_dependencies
    children: list[list[int]] = [[] for _ in nodes]
    parents_of: list[tuple[int, ...]] = [() for _ in nodes]
    for child, parents in dependencies.items():
        parents_of[index[child]] = tuple(sorted(index[parent] for parent in parents))
        for parent in parents:
            children[index[parent]].append(index[child])

    # Kedro's estimate of useful threads: nodes minus layers plus one.
    max_parallelism = len(nodes) - len(pipeline.grouped_nodes) + 1 if nodes else 1
    return Plan(
        steps=tuple(steps),
        inputs=free_inputs,
        outputs=tuple(sorted(free_outputs)),
        output_set=free_outputs,
        datasets=tuple(sorted(pipeline.datasets())),
        load_counts=dict(load_counts),
        children=tuple(tuple(sorted(c)) for c in children),
        parents=tuple(parents_of),
        parent_counts=tuple(len(p) for p in parents_of),
        max_parallelism=max(max_parallelism, 1),
    )


def released_by(step: Step, remaining: dict[str, int], plan: Plan) -> list[str]:
    """Datasets to release after ``step`` when steps finish in any order (threads).

    ``remaining`` holds the run's outstanding load counts and is updated in place.
    """
    release: list[str] = []
    for dataset in step.inputs:
        remaining[dataset] -= 1
        if remaining[dataset] < 1 and dataset not in plan.inputs and dataset not in release:
            release.append(dataset)
    for dataset in step.outputs:
        if (
            remaining.get(dataset, 0) < 1
            and dataset not in plan.inputs
            and dataset not in plan.output_set
        ):
            release.append(dataset)
    return release


class PlanCache:
    """The plans of the pipelines a runner has run, dropped with their pipelines."""

    def __init__(self) -> None:
        self._plans: weakref.WeakKeyDictionary[Pipeline, Plan] = weakref.WeakKeyDictionary()

    def __call__(self, pipeline: Pipeline) -> Plan:
        plan = self._plans.get(pipeline)
        if plan is None:
            plan = build_plan(pipeline)
            self._plans[pipeline] = plan
        return plan


def require_inputs(plan: Plan, available: Names, source: str) -> None:
    """Raise Kedro's "not found" ValueError for free inputs ``available`` lacks.

    Args:
        plan: The plan to run.
        available: A catalog, or the data given to ``run_in_memory``.
        source: How the message names ``available`` (Kedro says the catalog's class).
    """
    missing = {name for name in plan.inputs if name not in available}
    if missing:
        # from None: called while handling a KeyError, which says nothing more.
        raise ValueError(f"Pipeline input(s) {missing} not found in the {source}") from None
