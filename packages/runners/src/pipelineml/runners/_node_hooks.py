"""A hook manager's node and dataset hooks, with the ones nobody implements switched off."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kedro.pipeline.node import Node
    from pluggy import PluginManager

    from pipelineml.runners._typing import Catalog

# Each flag of ``Hooks`` and the Kedro hook it stands for: the node and dataset hooks,
# the ones that fire where a node runs (on a Dask worker for DaskRunner).
_FLAGS = {
    "before_load": "before_dataset_loaded",
    "after_load": "after_dataset_loaded",
    "before_node": "before_node_run",
    "after_node": "after_node_run",
    "on_error": "on_node_error",
    "before_save": "before_dataset_saved",
    "after_save": "after_dataset_saved",
}
NODE_HOOKS = frozenset(_FLAGS.values())


def _has_impls(caller: Any) -> bool:
    get = getattr(caller, "get_hookimpls", None)
    return bool(get()) if callable(get) else False


class Hooks:
    """A hook manager's node and dataset hooks, each flag true when someone implements it."""

    __slots__ = (*_FLAGS, "catalog", "hook", "run_id")

    before_load: bool
    after_load: bool
    before_node: bool
    after_node: bool
    on_error: bool
    before_save: bool
    after_save: bool

    def __init__(self, hook_manager: PluginManager, catalog: Catalog, run_id: str | None) -> None:
        hook = hook_manager.hook
        self.hook = hook
        self.catalog = catalog
        self.run_id = run_id
        for flag, name in _FLAGS.items():
            setattr(self, flag, _has_impls(getattr(hook, name)))

    @classmethod
    def of(
        cls, hook_manager: PluginManager | None, catalog: Catalog, run_id: str | None
    ) -> Hooks | None:
        """``None`` when there is no hook manager or it has no node/dataset hooks."""
        if hook_manager is None:
            return None
        hooks = cls(hook_manager, catalog, run_id)
        return hooks if any(getattr(hooks, flag) for flag in _FLAGS) else None

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
