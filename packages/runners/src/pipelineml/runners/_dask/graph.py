"""One run of a plan on a Dask cluster: the task graph, submitted and waited for.

The whole run is one graph, one task per group of nodes (``_dask.fusion``: a node, or a
linear chain of in-memory nodes; ``_dask.tasks.execute`` runs it). Persisted datasets are
loaded and saved on the workers; every other dataset travels as a task result, and only
the free outputs that are not persisted come back to the client.
"""

from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipelineml.runners._dask.connection import import_distributed
from pipelineml.runners._dask.fusion import Group, groups_for
from pipelineml.runners._dask.lost import lost_scheduler_error, scheduler_address, scheduler_lost
from pipelineml.runners._dask.tasks import ChainTask, InlineValue, execute, pick, unwrap
from pipelineml.runners._store import copiers_for

if TYPE_CHECKING:
    from distributed import Client, Future

    from pipelineml.runners._dask.hooks import HookSpec
    from pipelineml.runners._plan import Plan
    from pipelineml.runners._progress import Progress
    from pipelineml.runners.copy_policy import CopyPolicy

# Free in-memory inputs up to this pickled size travel inside the task graph.
INLINE_LIMIT = 1 << 20

# Task keys must not collide with another run's on a shared scheduler: a random part per
# process (uuid4 per run costs a millisecond here), the pid (forked servers share the
# random part), and a count.
_PROCESS_TOKEN = uuid.uuid4().hex[:8]
_runs = itertools.count()


def _token() -> str:
    return f"{_PROCESS_TOKEN}{os.getpid():x}-{next(_runs):x}"


@dataclass
class RunGraph:
    """One run's task graph and how to read its answer."""

    graph: dict[str, Any]
    # Each selected free output: the key it is read from, and whether that key's result
    # is the producing task's whole result (the output picked on the client) or the
    # output itself (a ``pick`` task).
    wanted: dict[str, str]
    whole: set[str]
    # Keys no other task reads: the scheduler keeps every result until these are done.
    leaves: list[str]
    # The nodes each task runs, by key.
    nodes: dict[str, list[str]]
    # Large free inputs, scattered to the workers: held until the run ends.
    scattered: list[Future] = field(default_factory=list)


def build_graph(
    client: Client,
    plan: Plan,
    groups: tuple[Group, ...],
    *,
    persisted: dict[str, Any],
    sources: dict[str, Any],
    policy: CopyPolicy,
    hooks: HookSpec | None,
    run_id: str | None,
) -> RunGraph:
    """The task graph of one run of ``plan``, a task per group (see ``submit_and_wait``)."""
    import cloudpickle

    token = _token()
    keys = [_key(plan, group, token) for group in groups]
    graph: dict[str, Any] = {}
    refs, scattered = _sources(client, plan, groups, sources, graph, token)
    copiers = copiers_for(plan, policy)
    producers: dict[str, int] = {}
    for number, group in enumerate(groups):
        steps = tuple(plan.steps[i] for i in group.indices)
        touched = tuple(dict.fromkeys(n for step in steps for n in (*step.inputs, *step.outputs)))
        task = ChainTask(
            steps=steps,
            persisted={n: persisted[n] for n in touched if n in persisted},
            # In-memory data a node reads is copied when it is read, inside a chain too.
            copiers={n: copiers[n] for n in touched if n not in persisted},
            hooks=hooks,
            run_id=run_id,
            source_names=tuple(
                dict.fromkeys(n for step in steps for n in step.inputs if n in refs)
            ),
            exported=group.exported,
            release_after=group.release_after,
        )
        graph[keys[number]] = (
            execute,
            cloudpickle.dumps(task),
            *(refs[n] for n in task.source_names),
            *(keys[parent] for parent in group.parents),
        )
        for name in group.exported:
            producers[name] = number

    # A selected output is read from its producer's whole result when that task hands on
    # nothing else (no task of its own to wait for), or picked out of it by a task of its
    # own, so that only that output travels to the client.
    wanted: dict[str, str] = {}
    whole: set[str] = set()
    for name in (n for n in plan.outputs if n not in persisted):
        producer = producers[name]
        if all(exported in plan.output_set for exported in groups[producer].exported):
            wanted[name] = keys[producer]
            whole.add(name)
        else:
            wanted[name] = f"pipelineml-output-{name}-{token}"
            graph[wanted[name]] = (pick, keys[producer], name)
    read = {parent for group in groups for parent in group.parents}
    return RunGraph(
        graph=graph,
        wanted=wanted,
        whole=whole,
        leaves=[keys[n] for n in range(len(groups)) if n not in read],
        nodes={
            keys[n]: [plan.steps[i].node.name for i in group.indices]
            for n, group in enumerate(groups)
        },
        scattered=scattered,
    )


def _sources(
    client: Client,
    plan: Plan,
    groups: tuple[Group, ...],
    sources: dict[str, Any],
    graph: dict[str, Any],
    token: str,
) -> tuple[dict[str, Any], list[Future]]:
    """How each free in-memory input reaches its tasks: ``{name: argument}``.

    Small ones go into the graph itself, where the scheduler can recompute them after a
    worker is lost: as an argument of the one task that reads them (nothing to wait
    for), or as a task of their own that several tasks read. Large ones are scattered to
    every worker (scattered data cannot be recomputed, so one copy would die with its
    worker). Scattering a list, not a dict, gives keys no other run shares.
    """
    import cloudpickle

    readers: dict[str, set[int]] = {}
    for number, group in enumerate(groups):
        for i in group.indices:
            for name in plan.steps[i].inputs:
                readers.setdefault(name, set()).add(number)
    refs: dict[str, Any] = {}
    large: list[str] = []
    for name, value in sources.items():
        if len(cloudpickle.dumps(value)) > INLINE_LIMIT:
            large.append(name)
        elif len(readers.get(name, ())) == 1:
            refs[name] = InlineValue(value)
        else:
            refs[name] = f"pipelineml-input-{name}-{token}"
            graph[refs[name]] = (unwrap, InlineValue(value))
    scattered: list[Future] = []
    if large:
        scattered = client.scatter([sources[n] for n in large], hash=False, broadcast=True)
        refs.update(zip(large, scattered, strict=True))
    return refs, scattered


def submit_and_wait(
    client: Client,
    plan: Plan,
    *,
    persisted: dict[str, Any],
    sources: dict[str, Any],
    policy: CopyPolicy,
    hooks: HookSpec | None,
    run_id: str | None,
    retries: int,
    progress: Progress | None = None,
    fused: bool = True,
) -> dict[str, Any]:
    """Run ``plan`` on ``client``'s cluster; return ``{name: data}`` of the free outputs
    that are not in ``persisted``.

    Args:
        client: Where to run.
        plan: The plan to run.
        persisted: ``{name: dataset}`` loaded and saved on the workers.
        sources: ``{name: data}`` of the free inputs that are not persisted.
        policy: How each in-memory dataset is copied when a node reads it.
        hooks: How workers build the node and dataset hooks (``None``: no hooks).
        run_id: The run id passed to node hooks.
        retries: How many times a task that raised is re-run.
        progress: Told of each finished node, once its task succeeded.
        fused: Run each linear chain of in-memory nodes as one task (``_dask.fusion``);
            ``False``: one task per node.

    Raises:
        ClusterConnectionError: When the client lost its scheduler meanwhile; the message
            names the address and the nodes not done, in pipeline order.
        Exception: The exception of the node that failed (with a note naming it); the
            rest of the run is cancelled.
    """
    distributed = import_distributed()
    run = build_graph(
        client,
        plan,
        groups_for(plan, persisted, fused),
        persisted=persisted,
        sources=sources,
        policy=policy,
        hooks=hooks,
        run_id=run_id,
    )
    # One graph for the whole run: only the leaves and the selected free outputs are
    # wanted, so the scheduler frees every other result as soon as its readers are done,
    # and still knows how to recompute it if a worker dies.
    kept = list(dict.fromkeys([*run.leaves, *run.wanted.values()]))
    # To report each node as its task succeeds, every task's key is wanted too; those
    # futures live only inside as_completed, which drops each once it is yielded, so the
    # scheduler still frees intermediate results as soon as their readers are done.
    extra = [key for key in run.nodes if key not in kept] if progress else []
    if len(run.graph) == 1:
        # A run that is one task (a chain, say, as a model scores): submitted as a task,
        # which costs the scheduler a third less than a graph of one task.
        ((key, (function, *args)),) = run.graph.items()
        got = [client.submit(function, *args, key=key, pure=False, retries=retries)]
    else:
        got = client.get(run.graph, [*kept, *extra], sync=False, retries=retries)
    futures = dict(zip(kept, got[: len(kept)], strict=True))
    completed = distributed.as_completed(got, loop=client.loop) if progress else None
    del got
    done: set[str] = set()
    try:
        if progress is not None and completed is not None:
            _report(completed, run, progress, done)
        # Without progress to report, gathering is the wait: it raises the first node
        # exception as soon as its task fails (CancelledError when the client lost its
        # scheduler). Leaves that are not wanted hand on nothing ({}).
        values = dict(zip(kept, client.gather([futures[key] for key in kept]), strict=True))
        return {
            name: values[key][name] if name in run.whole else values[key]
            for name, key in run.wanted.items()
        }
    except BaseException as exc:
        if completed is not None:
            completed.clear()
        if scheduler_lost(client, exc):
            # The client has cancelled every future already, and there is no scheduler
            # left to tell: the run ends here, with one error instead of distributed's.
            not_done = [step.node.name for step in plan.steps if step.node.name not in done]
            raise lost_scheduler_error("DaskRunner", scheduler_address(client), not_done) from None
        # Cancelling what the run wants releases, on the scheduler, everything that was
        # only computed for it.
        client.cancel(list(futures.values()), force=True)
        raise
    finally:
        futures.clear()
        run.scattered.clear()


def _report(completed: Any, run: RunGraph, progress: Progress, done: set[str]) -> None:
    """Log each node as its task succeeds (adding it to ``done``); raise as soon as one
    fails."""
    for future in completed:
        if future.status != "finished":
            # Raises the node's exception with its traceback (CancelledError when the
            # client lost its scheduler): such a task's nodes are not reported completed.
            future.result()
            raise RuntimeError(f"DaskRunner task {future.key!r} ended {future.status}")
        for name in run.nodes.get(future.key, ()):
            done.add(name)
            progress.node_done(name)


def _key(plan: Plan, group: Group, token: str) -> str:
    """A task's key: its node's name, or its chain's first and last (and how many)."""
    first = plan.steps[group.indices[0]].node.name
    if len(group.indices) == 1:
        return f"pipelineml-{first}-{token}"
    last = plan.steps[group.indices[-1]].node.name
    return f"pipelineml-{first}..{last}[{len(group.indices)}]-{token}"
