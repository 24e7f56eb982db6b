"""``SequentialRunner``: Kedro's sequential runner, planned once per pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelineml.runners._lean_runner import LeanRunner
from pipelineml.runners._steps import run_in_order

if TYPE_CHECKING:
    from pipelineml.runners._base_runner import CopyPolicySpec
    from pipelineml.runners._plan import Plan
    from pipelineml.runners._steps import Execution

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
        with SequentialRunner(copy_policy="assign") as runner:
            outputs = runner.run(pipeline, catalog)
        ```
    """

    __module__ = "pipelineml.runners"  # its public import path

    _pool_prefix = "pipelineml-io"

    def __init__(self, is_async: bool = False, *, copy_policy: CopyPolicySpec = None) -> None:
        """Create the runner.

        Args:
            is_async: Load each node's inputs and save its outputs on threads (a pool
                created on first use; ``close()`` shuts it down).
            copy_policy: Copy modes for the in-memory datasets the runner creates: a
                mode, a dict of rules or a ``CopyPolicy``; ``None`` keeps Kedro's inference.
        """
        super().__init__(is_async=is_async, copy_policy=copy_policy)

    def _run_steps(self, plan: Plan, run: Execution) -> None:
        run_in_order(plan, run, self._thread_pool() if self._async else None)
