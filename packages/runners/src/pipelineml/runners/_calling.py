"""Calling a node's function without ``Node.run``'s per-call logging.

``Node.run`` formats and logs "Running node: ..." at INFO on every call, which is most of
the cost of scoring one row when Kedro's rich logging is configured. For in-memory runs
(serving), the function is called directly with the same argument binding and output
mapping; anything unusual (generators, outputs that do not match the declaration) goes
back to ``Node.run``/Kedro's own mapping so behaviour and error messages stay Kedro's.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from kedro.pipeline.node import Node

from pipelineml.core._kedro import declared_inputs_outputs, outputs_to_dictionary

NodeCall = Callable[[dict[str, Any]], dict[str, Any]]


def compile_call(node: Node) -> NodeCall:
    """A function ``inputs -> outputs`` equivalent to ``node.run`` minus its logging."""
    # If a Kedro release no longer keeps the declared shapes, fall back to node.run
    # rather than guess.
    declared = declared_inputs_outputs(node)
    if declared is None or inspect.isgeneratorfunction(node.func):
        return node.run
    declared_in, declared_out = declared
    func = node.func
    to_outputs = _output_mapper(node, declared_out)

    if declared_in is None:

        def call(inputs: dict[str, Any]) -> dict[str, Any]:
            return to_outputs(func())

    elif isinstance(declared_in, str):
        name = declared_in

        def call(inputs: dict[str, Any]) -> dict[str, Any]:
            return to_outputs(func(inputs[name]))

    elif isinstance(declared_in, list):
        names = tuple(declared_in)

        def call(inputs: dict[str, Any]) -> dict[str, Any]:
            return to_outputs(func(*[inputs[n] for n in names]))

    elif isinstance(declared_in, dict):
        pairs = tuple(declared_in.items())

        def call(inputs: dict[str, Any]) -> dict[str, Any]:
            return to_outputs(func(**{arg: inputs[n] for arg, n in pairs}))

    else:
        return node.run
    return call


def _output_mapper(node: Node, declared: Any) -> Callable[[Any], dict[str, Any]]:
    kedro_mapping = outputs_to_dictionary(node)
    if isinstance(declared, str):
        name = declared
        return lambda result: {name: result}
    if isinstance(declared, list):
        names = tuple(declared)
        count = len(names)

        def from_list(result: Any) -> dict[str, Any]:
            if isinstance(result, list | tuple) and len(result) == count:
                return dict(zip(names, result, strict=True))
            return kedro_mapping(result)  # Kedro's own error message

        return from_list
    if isinstance(declared, dict):
        keys = tuple(declared)
        key_set = frozenset(keys)
        targets = tuple(declared.values())

        def from_dict(result: Any) -> dict[str, Any]:
            if isinstance(result, dict) and result.keys() == key_set:
                return {target: result[key] for key, target in zip(keys, targets, strict=True)}
            return kedro_mapping(result)

        return from_dict
    # outputs=None: Kedro returns {} and warns when something was returned anyway.
    return lambda result: {} if result is None else kedro_mapping(result)
