"""A ``KedroPipelineModel`` logged from code: its files at logging time, itself at loading time.

Logged, the model is three things next to each other, none of them a pickle of pipelineml
or Kedro objects: the loader file (``pipelineml_loader.py``, MLflow's "models from code"),
the spec (``artifacts/pipeline.json``, see ``_spec``), and the code (``code/``:
pipelineml's packages and the project's own modules, as source). Loaded, the loader gives
MLflow an empty model; ``load_context`` reads the spec, checks every file against the
SHA-256 recorded in it, rebuilds the pipeline and loads the artifacts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelineml.core._artifact_files import location_key
from pipelineml.core.artifacts import InferenceArtifact
from pipelineml.hooks.errors import KedroPipelineModelError
from pipelineml.hooks.model._artifact_loading import load_artifacts
from pipelineml.hooks.model._integrity import differences, fingerprint
from pipelineml.hooks.model._spec import (
    LOADER,
    LOADER_NAME,
    SPEC_FORMAT,
    Restored,
    _jsonable,
    digest_of_spec,
    file_digest,
    from_code_problems,
    node_spec,
    policy_data,
    restore,
    runner_spec,
)

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline
    from kedro.runner import AbstractRunner

    from pipelineml.runners import CopyPolicy

# The artifact key of the spec file (no Kedro dataset is named so: refused if one is).
SPEC_ARTIFACT = "__pipelineml__"
SPEC_FILE = "pipeline.json"


def pickled_format_reasons(
    pipeline: Pipeline, runner: AbstractRunner | None, parameters: Mapping[str, Any]
) -> list[str]:
    """Why a model must be logged in the pickled format (empty: it is logged from code)."""
    reasons = from_code_problems(pipeline, runner)
    reasons += [
        f"parameter '{name}' is not plain data (JSON: numbers, strings, lists, dicts)"
        for name, value in sorted(parameters.items())
        if not _jsonable(value)
    ]
    if SPEC_ARTIFACT in pipeline.inputs():
        reasons.append(f"an inference input is named {SPEC_ARTIFACT!r}, the spec's own name")
    return reasons


def _code_fingerprint(code_paths: Iterable[str | os.PathLike[str]]) -> dict[str, str]:
    # MLflow copies each code_paths entry into code/ under its own name.
    digests: dict[str, str] = {}
    for entry in code_paths:
        root = Path(entry)
        for relative, digest in fingerprint(root).items():
            digests[f"{root.name}/{relative}" if relative else root.name] = digest
    return digests


def _as_held(artifact: InferenceArtifact) -> dict[str, Any]:
    # Where the model holds its copy (the model re-points the dataset there when it
    # loads), rather than where training kept it: location and version are kept apart.
    config = dict(artifact.config)
    key = location_key(config)
    if key is not None:
        config[key] = f"artifacts/{Path(str(config[key])).name}"
    return config


def write_model_files(
    folder: Path,
    *,
    pipeline: Pipeline,
    input_name: str,
    output_name: str,
    artifacts: Mapping[str, InferenceArtifact],
    parameters: Mapping[str, Any],
    digests: Mapping[str, Mapping[str, str]],
    runner: AbstractRunner | None,
    policy: CopyPolicy,
    code_paths: list[str],
    code_modules: Iterable[str],
    allowed_runners: Iterable[str],
) -> tuple[Path, Path]:
    """Write the loader and the spec into ``folder``; return their paths.

    ``digests`` are the artifacts' (``KedroPipelineModel.extract_pipeline_artifacts``);
    ``code_paths`` what MLflow copies into the model's ``code/`` folder.
    """
    loader = folder / LOADER_NAME
    loader.write_text(LOADER, encoding="utf-8")
    datasets = {
        name: {
            "config": _as_held(artifact),
            **({"location": artifact.location} if artifact.location else {}),
            **({"version": artifact.version} if artifact.version else {}),
        }
        for name, artifact in sorted(artifacts.items())
        if artifact.kind == "dataset"
    }
    spec: dict[str, Any] = {
        "format": SPEC_FORMAT,
        "input_name": input_name,
        "output": output_name,
        "nodes": [node_spec(node) for node in pipeline.nodes],
        "datasets": datasets,
        "parameters": dict(sorted(parameters.items())),
        "runner": runner_spec(runner),
        "copy_policy": policy_data(policy),
        "code_modules": sorted(set(code_modules)),
        "allowed_runners": list(allowed_runners),
    }
    spec["integrity"] = {
        "artifacts": {name: dict(digests[name]) for name in datasets},
        "code": _code_fingerprint(code_paths),
        "loader": file_digest(loader),
        "spec": digest_of_spec(spec),
    }
    path = folder / SPEC_FILE
    path.write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return loader, path


def _check(what: str, recorded: Mapping[str, str], actual: Mapping[str, str]) -> None:
    problems = differences(dict(recorded), dict(actual))
    if problems:
        raise KedroPipelineModelError(
            f"The model's {what} does not match what was logged with the model: "
            f"{'; '.join(problems)}. Refusing to load a modified model."
        )


def restore_model(spec_path: str, paths: Mapping[str, str]) -> tuple[Restored, dict[str, Any]]:
    """Read the spec at ``spec_path``, check the model's files, rebuild, load the artifacts.

    Args:
        spec_path: Where MLflow put ``artifacts/pipeline.json``.
        paths: Where MLflow put the other artifacts, by name.

    Returns:
        What the spec rebuilds, and ``{input: data}`` of every artifact and parameter.

    Raises:
        KedroPipelineModelError: When a file changed since logging (named), or the spec
            cannot be rebuilt here.
    """
    with open(spec_path, encoding="utf-8") as stream:
        document = json.load(stream)
    restored = restore(document)
    model_dir = Path(spec_path).resolve().parent.parent
    code = model_dir / "code"
    entries = sorted(code.iterdir()) if code.is_dir() else []
    actual_code = _code_fingerprint(e for e in entries if e.name != "__pycache__")
    _check("code/ folder", restored.code_digests, actual_code)
    loader = model_dir / LOADER_NAME
    if restored.loader_digest is not None:
        actual = {"": file_digest(loader)} if loader.is_file() else {}
        _check(f"loader ({LOADER_NAME})", {"": restored.loader_digest}, actual)
    loaded = load_artifacts(restored.artifacts, restored.digests, paths, restored.input_name)
    return restored, {**loaded, **restored.parameters}


__all__ = [
    "SPEC_ARTIFACT",
    "SPEC_FILE",
    "pickled_format_reasons",
    "restore_model",
    "write_model_files",
]
