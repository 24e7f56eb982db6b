"""``ThreadRunner``: Kedro's threaded runner, planned once per pipeline."""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from pipelineml.runners._engine import Hooks, Store, run_in_order, run_on_pool
from pipelineml.runners._lean_runner import LeanRunner

if TYPE_CHECKING:
    from kedro.pipeline.node import Node

    from pipelineml.runners._plan import Plan
    from pipelineml.runners._progress import Progress

__all__ = ["ThreadRunner"]


class ThreadRunner(LeanRunner):
    """Runs each node on a thread as soon as the nodes it depends on are done.

    A drop-in replacement for ``kedro.runner.ThreadRunner``. The thread pool is created on
    first use and kept for later runs (a serving model does not pay for new threads on
    every request); ``close()`` shuts it down. The calling thread runs nodes too, so at most
    ``max_workers`` nodes run at once. When a node fails, nodes not yet started are
    cancelled, running ones finish, and the failing node's own exception is raised.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        is_async: bool = False,
        *,
        copy_policy: str | dict[str, str] | object | None = None,
    ) -> None:
        """Create the runner.

        Args:
            max_workers: Threads in the pool; defaults to the number of CPUs.
            is_async: Not supported (as with Kedro's ThreadRunner): warns and is ignored.
            copy_policy: Copy modes for the in-memory datasets the runner creates.

        Raises:
            ValueError: When ``max_workers`` is not positive.
        """
        if is_async:
            warnings.warn(
                "'ThreadRunner' doesn't support loading and saving the node inputs and "
                "outputs asynchronously with threads. Setting 'is_async' to False.",
                stacklevel=2,
            )
        super().__init__(is_async=False, copy_policy=copy_policy)  # type: ignore[arg-type]
        if max_workers is not None and max_workers <= 0:
            raise ValueError(f"max_workers should be positive, got {max_workers}")
        self._max_workers = max_workers or os.cpu_count() or 1
        self._pool: ThreadPoolExecutor | None = None

    @property
    def max_workers(self) -> int:
        """The size of the thread pool."""
        return self._max_workers

    def _thread_pool(self) -> ThreadPoolExecutor:
        pool = self._pool
        if pool is None:
            # The calling thread runs nodes too, so the pool holds one thread fewer.
            pool = ThreadPoolExecutor(
                max_workers=self._max_workers - 1, thread_name_prefix="pipelineml-thread"
            )
            self._pool = pool
        return pool

    def _execute(
        self,
        plan: Plan,
        store: Store,
        hooks: Hooks | None,
        done: list[Node],
        progress: Progress | None = None,
    ) -> None:
        if self._max_workers == 1 or plan.max_parallelism == 1:
            # Nothing can run side by side.
            run_in_order(plan, store, hooks, done, progress=progress)
        else:
            run_on_pool(plan, store, hooks, done, self._thread_pool(), progress)

    def close(self) -> None:
        """Shut the thread pool down (a later run starts a new one)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def __setstate__(self, state: dict[str, object]) -> None:
        super().__setstate__(state)
        self._pool = None
