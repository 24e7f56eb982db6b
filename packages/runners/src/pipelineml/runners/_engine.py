"""Executing a plan: node by node in order, or on a thread pool.

The per-node sequence (dataset and node hooks, ``before_node_run`` input overrides,
``on_node_error``, generator outputs saved chunk by chunk, ``confirms``) follows Kedro's
``Task`` exactly; what differs is that nothing here is recomputed per run, and that hooks
nobody implements are not called at all.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any

from kedro.io.core import DatasetError

from pipelineml.runners._copying import COPIERS, copy_inferred
from pipelineml.runners._memory import RuntimeMemoryDataset
from pipelineml.runners._plan import Plan, Step, released_by, require_inputs

if TYPE_CHECKING:
    from kedro.pipeline.node import Node

    from pipelineml.runners._progress import Progress
    from pipelineml.runners.copy_policy import CopyPolicy

logger = logging.getLogger(__name__)
# Node.run logs through this logger; quiet runs log its failures the same way.
node_logger = logging.getLogger("kedro.pipeline.node")

Copier = Callable[[Any], Any]


def copiers_for(plan: Plan, policy: CopyPolicy) -> dict[str, Copier]:
    """The copy function of every dataset of ``plan`` under ``policy`` (memoised on the plan)."""
    key = ("copiers", policy)
    cached = plan.memo.get(key)
    if isinstance(cached, dict):
        return cached
    copiers: dict[str, Copier] = {}
    for name in plan.datasets:
        mode = policy.mode_for(name)
        copiers[name] = copy_inferred if mode is None else COPIERS[mode]
    plan.memo[key] = copiers
    return copiers


class Store:
    """Where one run's data lives.

    Datasets registered in the catalog are loaded and saved through it; every other
    dataset (Kedro would create a MemoryDataset for it) lives in a plain dict, copied on
    save and load with the mode its copy policy (or Kedro's inference) gives.
    """

    __slots__ = ("catalog", "copiers", "data", "log_errors", "quiet", "sinks", "via_catalog")

    def __init__(
        self,
        catalog: Any,
        via_catalog: frozenset[str],
        copiers: dict[str, Copier],
        data: dict[str, Any] | None = None,
        quiet: bool = False,
        log_errors: bool = True,
        sinks: dict[str, RuntimeMemoryDataset] | None = None,
    ) -> None:
        self.catalog = catalog
        self.via_catalog = via_catalog
        self.copiers = copiers
        self.data: dict[str, Any] = {} if data is None else data
        # Quiet runs call node functions directly, without Node.run's INFO logging
        # ("Running node: ..."), logging only failures (log_errors), as Node.run does.
        self.quiet = quiet
        self.log_errors = log_errors
        # Free outputs the runner registered in the catalog: written directly.
        self.sinks = sinks or {}

    def load(self, name: str) -> Any:
        if name in self.via_catalog:
            return self.catalog.load(name)
        try:
            value = self.data[name]
        except KeyError:
            raise DatasetError(f"{name}: Data for MemoryDataset has not been saved yet.") from None
        return self.copiers.get(name, copy_inferred)(value)

    def save(self, name: str, data: Any) -> None:
        sink = self.sinks.get(name)
        if sink is not None:
            sink.put(data)
        elif name in self.via_catalog:
            self.catalog.save(name, data)
        else:
            self.data[name] = self.copiers.get(name, copy_inferred)(data)

    def release(self, name: str) -> None:
        if name in self.via_catalog:
            self.catalog.release(name)
        else:
            self.data.pop(name, None)

    def confirm(self, name: str) -> None:
        if self.catalog is not None:
            self.catalog.confirm(name)


def _has_impls(caller: Any) -> bool:
    get = getattr(caller, "get_hookimpls", None)
    return bool(get()) if callable(get) else False


class Hooks:
    """A hook manager's node and dataset hooks, with the unimplemented ones switched off."""

    __slots__ = (
        "after_load",
        "after_node",
        "after_save",
        "before_load",
        "before_node",
        "before_save",
        "catalog",
        "hook",
        "on_error",
        "run_id",
    )

    def __init__(self, hook_manager: Any, catalog: Any, run_id: str | None) -> None:
        hook = hook_manager.hook
        self.hook = hook
        self.catalog = catalog
        self.run_id = run_id
        self.before_load = _has_impls(hook.before_dataset_loaded)
        self.after_load = _has_impls(hook.after_dataset_loaded)
        self.before_node = _has_impls(hook.before_node_run)
        self.after_node = _has_impls(hook.after_node_run)
        self.on_error = _has_impls(hook.on_node_error)
        self.before_save = _has_impls(hook.before_dataset_saved)
        self.after_save = _has_impls(hook.after_dataset_saved)

    @classmethod
    def of(cls, hook_manager: Any, catalog: Any, run_id: str | None) -> Hooks | None:
        """``None`` when there is no hook manager or it has no node/dataset hooks."""
        if hook_manager is None:
            return None
        hooks = cls(hook_manager, catalog, run_id)
        if not (
            hooks.before_load
            or hooks.after_load
            or hooks.before_node
            or hooks.after_node
            or hooks.on_error
            or hooks.before_save
            or hooks.after_save
        ):
            return None
        return hooks

    def node_inputs(self, node: Node, inputs: dict[str, Any], is_async: bool) -> None:
        """Fire before_node_run and merge the inputs it returns (as Kedro's Task does)."""
        if not self.before_node:
            return
        responses = self.hook.before_node_run(
            node=node,
            catalog=self.catalog,
            inputs=dict(inputs),
            is_async=is_async,
            run_id=self.run_id,
        )
        for response in responses or ():
            if response is not None and not isinstance(response, dict):
                raise TypeError(
                    "'before_node_run' must return either None or a dictionary mapping "
                    f"dataset names to updated values, got '{type(response).__name__}' instead."
                )
            inputs.update(response or {})

    def call_node(self, node: Node, inputs: dict[str, Any], is_async: bool) -> dict[str, Any]:
        try:
            outputs: dict[str, Any] = node.run(inputs)
        except Exception as exc:
            if self.on_error:
                self.hook.on_node_error(
                    error=exc,
                    node=node,
                    catalog=self.catalog,
                    inputs=inputs,
                    is_async=is_async,
                    run_id=self.run_id,
                )
            raise
        if self.after_node:
            self.hook.after_node_run(
                node=node,
                catalog=self.catalog,
                inputs=inputs,
                outputs=outputs,
                is_async=is_async,
                run_id=self.run_id,
            )
        return outputs


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
            node_logger.error(
                "Node %s failed with error: \n%s", step.node, exc, extra={"markup": False}
            )
        else:
            # In-memory runs log nothing: the caller (a model's predict) names the node
            # from this note, worded as DaskRunner's tasks word it.
            exc.add_note(f"Raised by Kedro node '{step.node.name}'.")
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


def run_in_order(
    plan: Plan,
    store: Store,
    hooks: Hooks | None,
    done: list[Node],
    pool: Executor | None = None,
    progress: Progress | None = None,
) -> None:
    """Run every step in plan order; ``pool`` set means asynchronous loads and saves."""
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


Execute = Callable[[Plan, "Store", "Hooks | None", "list[Node]"], None]


def run_plan_in_memory(
    plan: Plan, data: Mapping[str, Any], policy: CopyPolicy, execute: Execute | None = None
) -> dict[str, Any]:
    """Run ``plan`` on ``data`` with no catalog and no hooks; return its free outputs' data.

    Args:
        plan: The plan to run.
        data: ``{name: value}`` for (at least) every free input of the plan.
        policy: Copy modes for the data handed between nodes.
        execute: How to run the steps; in plan order on this thread when omitted.

    Raises:
        ValueError: When ``data`` lacks a free input of the plan.
    """
    try:
        feed = {name: data[name] for name in plan.inputs}
    except KeyError:
        require_inputs(plan, data, "data passed to run_in_memory")
        raise  # only if ``data`` changed meanwhile
    store = Store(None, frozenset(), copiers_for(plan, policy), feed, quiet=True, log_errors=False)
    if execute is None:
        run_in_order(plan, store, None, [])
    else:
        execute(plan, store, None, [])
    results = store.data
    return {name: results[name] for name in plan.outputs}


class _PoolRun:
    """One run of a plan on a thread pool, the calling thread taking part.

    Each thread runs a *chain*: after a node, one newly ready child continues on the same
    thread and the other ready children become new chains on the pool. A linear pipeline
    therefore never changes thread, and the caller is never idle while it waits.
    """

    def __init__(
        self,
        plan: Plan,
        store: Store,
        hooks: Hooks | None,
        done: list[Node],
        pool: Executor,
        progress: Progress | None = None,
    ) -> None:
        self.plan = plan
        self.progress = progress
        self.store = store
        self.hooks = hooks
        self.done = done
        self.pool = pool
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.active = 0
        self.error: BaseException | None = None
        self.parents_left = list(plan.parent_counts)
        self.remaining = dict(plan.load_counts)

    def run(self) -> None:
        ready = [step for step in self.plan.steps if self.parents_left[step.index] == 0]
        self.active = len(ready)
        for step in ready[1:]:
            self.pool.submit(self.chain, step)
        if ready:
            self.chain(ready[0])
        with self.idle:
            while self.active:
                self.idle.wait()
        if self.error is not None:
            raise self.error

    def chain(self, first: Step) -> None:
        step: Step | None = first
        try:
            while step is not None:
                if self.error is not None:
                    return  # another branch failed: nodes not started are cancelled
                try:
                    run_step(step, self.store, self.hooks)
                    step = self._finish(step)
                except BaseException as exc:  # re-raised in the caller by run()
                    with self.lock:
                        if self.error is None:
                            self.error = exc
                    return
        finally:
            with self.idle:
                self.active -= 1
                if not self.active:
                    self.idle.notify_all()

    def _finish(self, step: Step) -> Step | None:
        plan = self.plan
        ready: list[Step] = []
        with self.lock:
            self.done.append(step.node)
            release = released_by(step, self.remaining, plan)
            for child in plan.children[step.index]:
                self.parents_left[child] -= 1
                if self.parents_left[child] == 0:
                    ready.append(plan.steps[child])
            if len(ready) > 1:
                self.active += len(ready) - 1
            if self.progress is not None:
                self.progress.node_done(step.node.name)
        for name in release:
            self.store.release(name)
        for other in ready[1:]:
            self.pool.submit(self.chain, other)
        return ready[0] if ready else None


def run_on_pool(
    plan: Plan,
    store: Store,
    hooks: Hooks | None,
    done: list[Node],
    pool: Executor,
    progress: Progress | None = None,
) -> None:
    """Run steps on ``pool`` (and the calling thread) as soon as their parents are done.

    On the first failure, steps not started are not started, running ones finish, and the
    failing node's own exception is raised.
    """
    _PoolRun(plan, store, hooks, done, pool, progress).run()
