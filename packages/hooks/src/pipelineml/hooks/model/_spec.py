"""The inference pipeline as data: what a model logged from code holds instead of a pickle.

The spec is plain JSON data, kept in the model's ``artifacts/pipeline.json``:

* ``nodes``: each node's function by import path (``module:qualified.name``), its inputs
  and outputs as declared (a name, a list or a dict), name, namespace, tags, confirms;
* ``input_name`` and ``output``;
* ``datasets``: each dataset artifact's Kedro dataset configuration (without credentials
  or versioning; the model re-points it at its local copy when it loads), where it came
  from and which version it is;
* ``parameters``: each inference parameter's value;
* ``runner`` (a pipelineml runner's class and settings, or none) and ``copy_policy``;
* ``integrity``: the SHA-256 of every artifact file, of the model's ``code/`` folder, of
  the loader file, and of the spec itself.

Loading rebuilds Kedro's ``Pipeline`` and ``Node`` objects with whatever Kedro is
installed there, and imports each function from the model's ``code/`` folder (the
project's code travels as source) or from an installed package.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node

import pipelineml.runners
from pipelineml.core._kedro import (
    declared_inputs_outputs,
    declared_name,
    import_kedro_runner_for_host,
)
from pipelineml.core._names import parameter_path
from pipelineml.core.artifacts import InferenceArtifact
from pipelineml.hooks.errors import KedroPipelineModelError
from pipelineml.runners import CopyPolicy

if TYPE_CHECKING:
    from kedro.runner import AbstractRunner

SPEC_FORMAT = 1
# Our runners, by the name a spec stores them under (their classes are imported only when a
# model has one: importing kedro.runner loads Kedro's project settings and its logging).
RUNNER_CLASSES = ("SequentialRunner", "ThreadRunner", "DaskRunner")

# What MLflow runs to load the model: set_model() with a model that builds itself from the
# spec in load_context(). Written into the model folder when it is logged.
LOADER_NAME = "pipelineml_loader.py"
LOADER = '''\
"""Loads a pipelineml model: its inference pipeline is rebuilt from artifacts/pipeline.json
when MLflow calls load_context. Nothing is unpickled."""

import mlflow

from pipelineml.hooks import KedroPipelineModel

mlflow.models.set_model(KedroPipelineModel.from_code())
'''


def _function_path(func: Any) -> str | None:
    """``module:qualname`` of a function that can be imported back, else ``None``."""
    module, qualname = getattr(func, "__module__", None), getattr(func, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return None
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return f"{module}:{qualname}" if found is func else None


def _jsonable(value: Any) -> bool:
    try:
        return bool(json.loads(json.dumps(value, allow_nan=False)) == value)
    except (TypeError, ValueError):
        return False


def _function_spec(func: Any) -> dict[str, Any] | None:
    if isinstance(func, functools.partial):
        inner = _function_spec(func.func)
        if inner is None or not _jsonable(list(func.args)) or not _jsonable(func.keywords):
            return None
        return {**inner, "args": list(func.args), "kwargs": dict(func.keywords)}
    path = _function_path(func)
    return None if path is None else {"function": path}


def _import(path: str) -> Any:
    module, _, qualname = path.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def from_code_problems(pipeline: Pipeline, runner: AbstractRunner | None) -> list[str]:
    """Why this inference pipeline cannot be stored as data (empty: it can).

    Each reason names the node (or the runner) and what would make it importable.
    """
    problems = []
    for node in pipeline.nodes:
        if _function_spec(node.func) is None:
            func = node.func.func if isinstance(node.func, functools.partial) else node.func
            where = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', '?')}"
            problems.append(
                f"node '{node.name}' calls {where}, which cannot be imported by its path (a "
                "lambda, a nested function, one defined in __main__ or a notebook, or a "
                "functools.partial of such, or with arguments that are not plain data): "
                "define it at the top level of a module of your project's package"
            )
        if declared_inputs_outputs(node) is None:
            problems.append(f"node '{node.name}': this Kedro keeps no declared inputs")
    if runner is not None and type(runner).__name__ not in RUNNER_CLASSES:
        problems.append(
            f"the runner {type(runner).__module__}.{type(runner).__qualname__} is not one of "
            f"pipelineml's ({', '.join(RUNNER_CLASSES)}): name one of those in kpm_kwargs"
        )
    return problems


def node_spec(node: Node) -> dict[str, Any]:
    """One node as data (``from_code_problems`` says it can be)."""
    declared = declared_inputs_outputs(node)
    assert declared is not None
    inputs, outputs = declared
    return {
        **(_function_spec(node.func) or {}),
        "inputs": inputs,
        "outputs": outputs,
        "name": declared_name(node),
        "namespace": node.namespace,
        "tags": sorted(node.tags),
        "confirms": list(node.confirms),
    }


def _node(spec: Mapping[str, Any]) -> Node:
    func = _import(spec["function"])
    if "args" in spec or "kwargs" in spec:
        func = functools.partial(func, *spec.get("args", []), **spec.get("kwargs", {}))
    return Node(
        func,
        spec["inputs"],
        spec["outputs"],
        name=spec["name"],
        tags=spec["tags"],
        confirms=spec["confirms"] or None,
        namespace=spec["namespace"],
    )


def runner_spec(runner: AbstractRunner | None) -> dict[str, Any] | None:
    """A pipelineml runner as its class name and settings; ``None`` for the default."""
    if runner is None:
        return None
    return {"class": type(runner).__name__, "settings": runner.settings()}  # type: ignore[attr-defined]


def runner_from_spec(spec: Mapping[str, Any] | None) -> AbstractRunner | None:
    if spec is None:
        return None
    import_kedro_runner_for_host()  # a model loads inside a host: leave its logging alone
    cls = getattr(pipelineml.runners, spec["class"])
    settings = dict(spec["settings"])
    settings["copy_policy"] = cls.policy_from_settings(settings.get("copy_policy"))
    runner: AbstractRunner = cls(**settings)
    return runner


def policy_data(policy: CopyPolicy) -> dict[str, Any]:
    return {"modes": dict(policy.rules) or None, "default": policy.default}


def digest_of_spec(spec: Mapping[str, Any]) -> str:
    """The SHA-256 of a spec without its ``integrity`` section (canonical JSON)."""
    content = {key: value for key, value in spec.items() if key != "integrity"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Restored:
    """What a model rebuilds from its spec."""

    pipeline: Pipeline
    input_name: str
    output_name: str
    artifacts: dict[str, InferenceArtifact]
    parameters: dict[str, Any]
    runner: AbstractRunner | None
    policy: CopyPolicy
    digests: dict[str, dict[str, str]]
    code_digests: dict[str, str]
    loader_digest: str | None
    code_modules: tuple[str, ...]
    allowed_runners: tuple[str, ...]

    def attributes(self) -> dict[str, Any]:
        """The attributes of the ``KedroPipelineModel`` this rebuilds (its private state)."""
        return {
            "pipeline": self.pipeline,
            "input_name": self.input_name,
            "output_name": self.output_name,
            "_artifacts": self.artifacts,
            "_parameters": {
                short: name for name in self.parameters if (short := parameter_path(name))
            },
            "_digests": self.digests,
            "_policy": self.policy,
            "_runner": self.runner,
            "_code_modules": self.code_modules,
            "_allowed_runners": self.allowed_runners,
        }


def restore(spec: Mapping[str, Any]) -> Restored:
    """Rebuild the inference pipeline and the rest from a spec.

    Raises:
        KedroPipelineModelError: When the spec is of a format this pipelineml does not know,
            was changed since logging, or a node's function cannot be imported.
    """
    if spec.get("format") != SPEC_FORMAT:
        raise KedroPipelineModelError(
            f"This model's pipeline spec has format {spec.get('format')!r}; this pipelineml "
            f"reads format {SPEC_FORMAT}. Load it with the pipelineml version that logged it "
            "(its code is in the model's code/ folder)."
        )
    integrity = spec.get("integrity") or {}
    if integrity.get("spec") != digest_of_spec(spec):
        raise KedroPipelineModelError(
            "The model's pipeline spec (artifacts/pipeline.json) does not match "
            "the one logged with the model: it was changed. Refusing to load a modified model."
        )
    nodes = []
    for node in spec["nodes"]:
        try:
            nodes.append(_node(node))
        except (ImportError, AttributeError) as exc:
            raise KedroPipelineModelError(
                f"Inference node '{node['name']}' calls {node['function']}, which cannot be "
                f"imported here ({type(exc).__name__}: {exc}); the model's code/ folder "
                "should hold it."
            ) from exc
    artifacts = {
        name: InferenceArtifact(
            name=name,
            kind="dataset",
            config=dict(dataset["config"]),
            location=dataset.get("location"),
            version=dataset.get("version"),
        )
        for name, dataset in spec["datasets"].items()
    }
    policy = spec["copy_policy"]
    return Restored(
        pipeline=Pipeline(nodes),
        input_name=spec["input_name"],
        output_name=spec["output"],
        artifacts=artifacts,
        parameters=dict(spec["parameters"]),
        runner=runner_from_spec(spec["runner"]),
        policy=CopyPolicy(policy["modes"], default=policy["default"]),
        digests={name: dict(files) for name, files in integrity.get("artifacts", {}).items()},
        code_digests=dict(integrity.get("code", {})),
        loader_digest=integrity.get("loader"),
        code_modules=tuple(spec.get("code_modules", ())),
        allowed_runners=tuple(spec["allowed_runners"]),
    )


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
