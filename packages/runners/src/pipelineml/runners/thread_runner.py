"""``ThreadRunner``: Kedro's threaded runner, planned once per pipeline."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from pipelineml.core._kedro import validate_max_workers
from pipelineml.runners._lean_runner import LeanRunner
from pipelineml.runners._pool_run import run_on_pool
from pipelineml.runners._steps import run_in_order

if TYPE_CHECKING:
    from pipelineml.runners._base_runner import CopyPolicySpec
    from pipelineml.runners._plan import Plan
    from pipelineml.runners._steps import Execution

__all__ = ["ThreadRunner"]


class ThreadRunner(LeanRunner):
    """Runs each node on a thread as soon as the nodes it depends on are done.

    A drop-in replacement for ``kedro.runner.ThreadRunner``. The thread pool is created on
    first use and kept for later runs (a serving model does not pay for new threads on
    every request); ``close()`` shuts it down. The calling thread runs nodes too, so at most
    ``max_workers`` nodes run at once. When a node fails, nodes not yet started are
    cancelled, running ones finish, and the failing node's own exception is raised.
    """

    __module__ = "pipelineml.runners"  # its public import path

    _pool_prefix = "pipelineml-thread"

    def __init__(
        self,
        max_workers: int | None = None,
        is_async: bool = False,
        *,
        copy_policy: CopyPolicySpec = None,
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
        super().__init__(is_async=False, copy_policy=copy_policy)
        if max_workers is not None and max_workers <= 0:
            # Kedro's own message does not say which value it refused.
            raise ValueError(f"max_workers should be positive, got {max_workers}")
        # Kedro's rule for the default: the CPU count, capped on Windows.
        self._max_workers = validate_max_workers(max_workers)

    def settings(self) -> dict[str, Any]:
        """The constructor's arguments as plain data (see ``BaseRunner.settings``)."""
        return {"max_workers": self._max_workers, **super().settings()}

    @property
    def max_workers(self) -> int:
        """The size of the thread pool."""
        return self._max_workers

    def _pool_size(self) -> int:
        # The calling thread runs nodes too, so the pool holds one thread fewer.
        return self._max_workers - 1

    def _run_steps(self, plan: Plan, run: Execution) -> None:
        if self._max_workers == 1 or plan.max_parallelism == 1:
            # Nothing can run side by side.
            run_in_order(plan, run)
        else:
            run_on_pool(plan, run, self._thread_pool())
