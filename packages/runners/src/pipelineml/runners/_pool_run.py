"""Running a plan on a thread pool, each node as soon as its parents are done."""

from __future__ import annotations

import threading
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from pipelineml.runners._plan import Plan, Step, released_by
from pipelineml.runners._steps import Execution, run_step

if TYPE_CHECKING:
    pass


class _PoolRun:
    """One run of a plan on a thread pool, the calling thread taking part.

    Each thread runs a *chain*: after a node, one newly ready child continues on the same
    thread and the other ready children become new chains on the pool. A linear pipeline
    therefore never changes thread, and the caller is never idle while it waits.
    """

    def __init__(self, plan: Plan, run: Execution, pool: Executor) -> None:
        self.plan = plan
        self.progress = run.progress
        self.store = run.store
        self.hooks = run.hooks
        self.done = run.done
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


def run_on_pool(plan: Plan, run: Execution, pool: Executor) -> None:
    """Run steps on ``pool`` (and the calling thread) as soon as their parents are done.

    On the first failure, steps not started are not started, running ones finish, and the
    failing node's own exception is raised.
    """
    _PoolRun(plan, run, pool).run()
