"""``SequentialRunner``: Kedro's sequential runner, planned once per pipeline."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from pipelineml.runners._engine import Hooks, Store, run_in_order
from pipelineml.runners._lean_runner import LeanRunner

if TYPE_CHECKING:
    from kedro.pipeline.node import Node

    from pipelineml.runners._plan import Plan
    from pipelineml.runners._progress import Progress

__all__ = ["SequentialRunner"]


class SequentialRunner(LeanRunner):
    """Runs nodes one after the other in Kedro's topological order.

    A drop-in replacement for ``kedro.runner.SequentialRunner``
    (``kedro run --runner=pipelineml.runners.SequentialRunner``): same outputs, same hooks
    in the same order, same errors. Node order and dataset bookkeeping are computed once
    per pipeline object; data not registered in the catalog stays in the runner instead of
    becoming catalog ``MemoryDataset`` objects; hooks nobody implements are not called.

    Example:
        ```python
        runner = SequentialRunner(copy_policy="assign")
        outputs = runner.run(pipeline, catalog)
        ```
    """

    def __init__(
        self,
        is_async: bool = False,
        *,
        copy_policy: str | dict[str, str] | object | None = None,
    ) -> None:
        """Create the runner.

        Args:
            is_async: Load each node's inputs and save its outputs on threads.
            copy_policy: Copy modes for the in-memory datasets the runner creates: a
                mode, a dict of rules or a ``CopyPolicy``; ``None`` keeps Kedro's inference.
        """
        super().__init__(is_async=is_async, copy_policy=copy_policy)  # type: ignore[arg-type]
        self._pool: ThreadPoolExecutor | None = None

    def _io_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(thread_name_prefix="pipelineml-io")
        return self._pool

    def _execute(
        self,
        plan: Plan,
        store: Store,
        hooks: Hooks | None,
        done: list[Node],
        progress: Progress | None = None,
    ) -> None:
        pool = self._io_pool() if self._is_async else None
        run_in_order(plan, store, hooks, done, pool, progress)

    def __setstate__(self, state: dict[str, object]) -> None:
        super().__setstate__(state)
        self._pool = None
