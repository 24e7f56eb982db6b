"""Running a plan's steps: one node (synchronously or with threaded I/O), or all in order.

The per-node sequence (dataset and node hooks, ``before_node_run`` input overrides,
``on_node_error``, generator outputs saved chunk by chunk, ``confirms``) follows Kedro's
``Task`` exactly; what differs is that nothing here is recomputed per run, and that hooks
nobody implements are not called at all.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipelineml.runners._plan import Plan, Step, require_inputs
from pipelineml.runners._store import Store, copiers_for
from pipelineml.runners.errors import mark_failed_node

if TYPE_CHECKING:
    from kedro.pipeline.node import Node

    from pipelineml.runners._node_hooks import Hooks
    from pipelineml.runners._progress import Progress
    from pipelineml.runners.copy_policy import CopyPolicy

logger = logging.getLogger(__name__)
# Node.run logs "Running node: ..." through Kedro's logger: whether that logger shows INFO
# decides whether a run calls Node.run at all (read only, never logged to).
node_logger = logging.getLogger("kedro.pipeline.node")


def _output_items(step: Step, outputs: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    if outputs and step.is_generator:
        # Generator nodes stream chunks: save them interleaved, as Kedro does (its
        # more_itertools.interleave, which stops at the shortest, is this chain of zips).
        keys = list(outputs)
        chunks = itertools.chain.from_iterable(zip(*outputs.values(), strict=False))
        return zip(itertools.cycle(keys), chunks, strict=False)
    return outputs.items()


def _call_without_hooks(step: Step, store: Store, inputs: dict[str, Any]) -> dict[str, Any]:
    if not store.quiet:
        outputs: dict[str, Any] = step.node.run(inputs)
        return outputs
    try:
        return step.call(inputs)
    except Exception as exc:
        if store.log_errors:
            # What Node.run would have said, which a quiet run does not call.
            logger.error("Node %s failed with error: \n%s", step.node, exc, extra={"markup": False})
        else:
            # In-memory runs log nothing: the caller (a model's predict) names the node
            # from the exception itself.
            mark_failed_node(exc, step.node.name)
        raise


def run_step(step: Step, store: Store, hooks: Hooks | None) -> None:
    """Run one node synchronously: load inputs, run, save outputs, confirm."""
    node = step.node
    if hooks is None:
        load = store.load
        inputs = {name: load(name) for name in step.inputs}
        outputs = _call_without_hooks(step, store, inputs)
        for name, data in _output_items(step, outputs):
            store.save(name, data)
    else:
        loaded: dict[str, Any] = {}
        for name in step.inputs:
            if hooks.before_load:
                hooks.hook.before_dataset_loaded(dataset_name=name, node=node)
            loaded[name] = store.load(name)
            if hooks.after_load:
                hooks.hook.after_dataset_loaded(dataset_name=name, data=loaded[name], node=node)
        hooks.node_inputs(node, loaded, is_async=False)
        outputs = hooks.call_node(node, loaded, is_async=False)
        for name, data in _output_items(step, outputs):
            if hooks.before_save:
                hooks.hook.before_dataset_saved(dataset_name=name, data=data, node=node)
            store.save(name, data)
            if hooks.after_save:
                hooks.hook.after_dataset_saved(dataset_name=name, data=data, node=node)
    for name in step.confirms:
        store.confirm(name)


def run_step_async(step: Step, store: Store, hooks: Hooks | None, pool: Executor) -> None:
    """Run one node loading its inputs and saving its outputs concurrently on ``pool``."""
    node = step.node
    if step.is_generator:
        raise ValueError(
            "Async data loading and saving does not work with nodes wrapping generator "
            f"functions. Please make sure you don't use `yield` anywhere in node {node!s}."
        )

    def load(name: str) -> Any:
        if hooks is not None and hooks.before_load:
            hooks.hook.before_dataset_loaded(dataset_name=name, node=node)
        data = store.load(name)
        if hooks is not None and hooks.after_load:
            hooks.hook.after_dataset_loaded(dataset_name=name, data=data, node=node)
        return data

    loading = {name: pool.submit(load, name) for name in step.inputs}
    inputs = {name: future.result() for name, future in loading.items()}
    if hooks is None:
        outputs = _call_without_hooks(step, store, inputs)
    else:
        hooks.node_inputs(node, inputs, is_async=True)
        outputs = hooks.call_node(node, inputs, is_async=True)
    saving: dict[Future[None], tuple[str, Any]] = {}
    for name, data in outputs.items():
        if hooks is not None and hooks.before_save:
            hooks.hook.before_dataset_saved(dataset_name=name, data=data, node=node)
        saving[pool.submit(store.save, name, data)] = (name, data)
    for future, (name, data) in saving.items():
        future.result()  # raises the first save error, after every save was attempted
        if hooks is not None and hooks.after_save:
            hooks.hook.after_dataset_saved(dataset_name=name, data=data, node=node)
    for name in step.confirms:
        store.confirm(name)


@dataclass(slots=True)
class Execution:
    """One run of a plan's steps: where its data lives, its hooks, what is done so far."""

    store: Store
    hooks: Hooks | None = None
    # The nodes finished so far, in the order they finished (Kedro's resume suggestion).
    done: list[Node] = field(default_factory=list)
    # Told of each finished node (runs with hooks only).
    progress: Progress | None = None


def run_in_order(plan: Plan, run: Execution, pool: Executor | None = None) -> None:
    """Run every step in plan order; ``pool`` set means asynchronous loads and saves."""
    store, hooks, done, progress = run.store, run.hooks, run.done, run.progress
    debug = logger.isEnabledFor(logging.DEBUG)
    for step in plan.steps:
        if pool is None:
            run_step(step, store, hooks)
        else:
            run_step_async(step, store, hooks, pool)
        done.append(step.node)
        for name in step.release_after:
            store.release(name)
        if progress is not None:
            progress.node_done(step.node.name)
        elif debug:
            logger.debug("Completed node %s (%d of %d)", step.node.name, len(done), len(plan.steps))


Execute = Callable[[Plan, Execution], None]


def run_plan_in_memory(
    plan: Plan, data: Mapping[str, Any], policy: CopyPolicy, execute: Execute = run_in_order
) -> dict[str, Any]:
    """Run ``plan`` on ``data`` with no catalog and no hooks; return its free outputs' data.

    Args:
        plan: The plan to run.
        data: ``{name: value}`` for (at least) every free input of the plan.
        policy: Copy modes for the data handed between nodes.
        execute: How to run the steps; in plan order on this thread by default.

    Raises:
        ValueError: When ``data`` lacks a free input of the plan.
    """
    try:
        feed = {name: data[name] for name in plan.inputs}
    except KeyError:
        require_inputs(plan, data, "data passed to run_in_memory")
        raise  # only if ``data`` changed meanwhile
    store = Store(None, frozenset(), copiers_for(plan, policy), feed, quiet=True, log_errors=False)
    execute(plan, Execution(store))
    results = store.data
    return {name: results[name] for name in plan.outputs}
