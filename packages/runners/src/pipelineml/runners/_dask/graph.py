"""One run of a plan on a Dask cluster: the task graph, submitted and waited for.

The whole run is one graph, one task per node (``_dask_tasks.execute``). Persisted
datasets are loaded and saved on the workers; every other dataset travels as a task
result, and only the free outputs that are not persisted come back to the client.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from pipelineml.runners._dask.connection import import_distributed
from pipelineml.runners._dask.tasks import InlineValue, NodeTask, execute, pick, unwrap

if TYPE_CHECKING:
    from distributed import Client, Future

    from pipelineml.runners._dask.hooks import HookSpec
    from pipelineml.runners._plan import Plan
    from pipelineml.runners._progress import Progress
    from pipelineml.runners._store import Copier

# Free in-memory inputs up to this pickled size travel inside the task graph.
INLINE_LIMIT = 1 << 20


def submit_and_wait(
    client: Client,
    plan: Plan,
    *,
    persisted: dict[str, Any],
    sources: dict[str, Any],
    copiers: dict[str, Copier],
    hooks: HookSpec | None,
    run_id: str | None,
    retries: int,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run ``plan`` on ``client``'s cluster; return ``{name: data}`` of the free outputs
    that are not in ``persisted``.

    Args:
        client: Where to run.
        plan: The plan to run.
        persisted: ``{name: dataset}`` loaded and saved on the workers.
        sources: ``{name: data}`` of the free inputs that are not persisted.
        copiers: How each in-memory dataset is copied when a node reads it.
        hooks: How workers build the node and dataset hooks (``None``: no hooks).
        run_id: The run id passed to node hooks.
        retries: How many times a task that raised is re-run.
        progress: Told of each finished node.

    Raises:
        Exception: The exception of the node that failed (with a note naming it); the
            rest of the run is cancelled.
    """
    import cloudpickle

    distributed = import_distributed()
    token = uuid.uuid4().hex[:12]
    keys = [f"pipelineml-{step.node.name}-{token}" for step in plan.steps]
    graph: dict[str, Any] = {}
    # Free in-memory inputs: small ones go into the graph itself, where the scheduler
    # can recompute them after a worker is lost; large ones are scattered to every
    # worker (scattered data cannot be recomputed, so one copy would die with its
    # worker). Scattering a list, not a dict, gives keys no other run shares.
    refs: dict[str, Any] = {}
    large: list[str] = []
    for name, value in sources.items():
        if len(cloudpickle.dumps(value)) <= INLINE_LIMIT:
            refs[name] = f"pipelineml-input-{name}-{token}"
            graph[refs[name]] = (unwrap, InlineValue(value))
        else:
            large.append(name)
    scattered: list[Future] = []
    if large:
        scattered = client.scatter([sources[n] for n in large], hash=False, broadcast=True)
        refs.update(zip(large, scattered, strict=True))

    # One graph for the whole run: only the leaves and the selected free outputs are
    # wanted, so the scheduler frees every other result as soon as its readers are done,
    # and still knows how to recompute it if a worker dies.
    producers: dict[str, int] = {}
    for step in plan.steps:
        task = NodeTask(
            step=step,
            persisted={n: persisted[n] for n in (*step.inputs, *step.outputs) if n in persisted},
            copiers={n: copiers[n] for n in step.inputs if n not in persisted},
            hooks=hooks,
            run_id=run_id,
            source_names=tuple(n for n in dict.fromkeys(step.inputs) if n in refs),
        )
        graph[keys[step.index]] = (
            execute,
            cloudpickle.dumps(task),
            *(refs[n] for n in task.source_names),
            *(keys[parent] for parent in plan.parents[step.index]),
        )
        for name in step.outputs:
            producers[name] = step.index
    selections = {
        name: f"pipelineml-output-{name}-{token}" for name in plan.outputs if name not in persisted
    }
    for name, key in selections.items():
        graph[key] = (pick, keys[producers[name]], name)
    leaves = [keys[s.index] for s in plan.steps if not plan.children[s.index]]
    kept = [*leaves, *selections.values()]
    # To report each node as it finishes, every node's key is wanted too; those futures
    # live only inside as_completed, which drops each once it is yielded, so the
    # scheduler still frees intermediate results as soon as their readers are done.
    names = {keys[s.index]: s.node.name for s in plan.steps} if progress else {}
    extra = [key for key in names if key not in kept]
    got = client.get(graph, [*kept, *extra], sync=False, retries=retries)
    futures = dict(zip(kept, got[: len(kept)], strict=True))
    completed = distributed.as_completed(got, loop=client.loop)
    del got
    try:
        for future in completed:
            if future.status == "error":
                future.result()  # raises the node's exception with its traceback
            if progress is not None and future.key in names:
                progress.node_done(names[future.key])
        values = client.gather([futures[key] for key in selections.values()])
        return dict(zip(selections, values, strict=True))
    except BaseException:
        # Cancelling what the run wants releases, on the scheduler, everything that was
        # only computed for it.
        completed.clear()
        client.cancel(list(futures.values()), force=True)
        raise
    finally:
        futures.clear()
        scattered.clear()
