"""Which nodes share a Dask task: each linear chain of in-memory nodes is fused into one.

A task per node costs a scheduler round trip per node (about 6 ms on a 2-core machine, for
nodes that often take microseconds). A node whose outputs stay in memory and feed exactly
one node, which reads nothing else produced by the run, gains nothing from being a task of
its own: the two can only run one after the other, and the data between them may as well
stay inside one task. Everything else keeps a task boundary: a node with two children
(a branch: the children may run in parallel), a node with two parents (a join: its parents
may), and a node that saves a persisted dataset (its output lives in the catalog, and a
task boundary there keeps a retried task from re-running the nodes before the save).

Importable without ``distributed``: it only reads a ``Plan``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from pipelineml.runners._plan import Plan, Step


@dataclass(frozen=True, slots=True)
class Group:
    """The steps one Dask task runs, in order, and what it hands on."""

    # Plan indices of the steps, in the order the task runs them.
    indices: tuple[int, ...]
    # The other groups this one reads results of (indices into the list of groups).
    parents: tuple[int, ...]
    # In-memory outputs read outside the group (by another group, or free outputs):
    # the task's result.
    exported: tuple[str, ...]
    # For each step, the in-memory datasets no later step of the group reads and that
    # are not exported: dropped from the task's data once that step is done.
    release_after: tuple[tuple[str, ...], ...]


def _fusable(plan: Plan, step: Step, persisted: Collection[str]) -> int | None:
    """The parent ``step`` joins the group of, or ``None`` when it starts a group."""
    parents = plan.parents[step.index]
    if len(parents) != 1:
        return None
    parent = parents[0]
    if plan.children[parent] != (step.index,):
        return None
    if any(name in persisted for name in plan.steps[parent].outputs):
        return None
    return parent


def groups_for(plan: Plan, persisted: Collection[str], enabled: bool = True) -> tuple[Group, ...]:
    """``fuse(plan, persisted, enabled)``, memoised on the plan (a model scores the same
    plan with the same persisted datasets on every call)."""
    key = ("dask-groups", frozenset(persisted), enabled)
    groups = plan.memo.get(key)
    if not isinstance(groups, tuple):
        groups = fuse(plan, persisted, enabled)
        plan.memo[key] = groups
    return groups


def fuse(plan: Plan, persisted: Collection[str], enabled: bool = True) -> tuple[Group, ...]:
    """Group ``plan``'s steps into Dask tasks, each a maximal linear in-memory chain.

    Step ``s`` joins the group of its parent ``p`` when ``p`` is ``s``'s only parent, ``s``
    is ``p``'s only child, and none of ``p``'s outputs is persisted. Contracting such an
    edge never makes a cycle (every path out of ``p`` goes through ``s``), and the groups
    come out in plan order (each after the groups it reads).

    Args:
        plan: The plan to run.
        persisted: Names of the datasets loaded and saved through the catalog.
        enabled: ``False`` gives one group per step (``DaskRunner(fuse=False)``).
    """
    group_of: list[int] = [0] * len(plan.steps)
    members: list[list[int]] = []
    for step in plan.steps:
        parent = _fusable(plan, step, persisted) if enabled else None
        if parent is None:
            group_of[step.index] = len(members)
            members.append([step.index])
        else:
            group_of[step.index] = group_of[parent]
            members[group_of[parent]].append(step.index)

    readers: dict[str, set[int]] = {}
    for step in plan.steps:
        for name in step.inputs:
            readers.setdefault(name, set()).add(group_of[step.index])

    groups: list[Group] = []
    for number, indices in enumerate(members):
        steps = [plan.steps[i] for i in indices]
        parents = sorted(
            {group_of[p] for i in indices for p in plan.parents[i] if group_of[p] != number}
        )
        exported = tuple(
            name
            for step in steps
            for name in step.outputs
            if name not in persisted
            and (name in plan.output_set or readers.get(name, set()) - {number})
        )
        # Each in-memory dataset goes after the last step of the group that touches it.
        last: dict[str, int] = {}
        for position, step in enumerate(steps):
            for name in (*step.inputs, *step.outputs):
                last[name] = position
        release: list[list[str]] = [[] for _ in steps]
        for name, position in last.items():
            if name not in persisted and name not in exported:
                release[position].append(name)
        groups.append(
            Group(tuple(indices), tuple(parents), exported, tuple(tuple(r) for r in release))
        )
    return tuple(groups)
