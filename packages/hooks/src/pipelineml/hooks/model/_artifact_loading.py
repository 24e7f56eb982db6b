"""A logged model's artifacts, checked against what was logged and loaded once."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

from kedro.io import AbstractDataset

from pipelineml.core.artifacts import InferenceArtifact, repoint_config
from pipelineml.hooks.errors import KedroPipelineModelError
from pipelineml.hooks.model._integrity import differences, fingerprint


def load_artifacts(
    artifacts: Mapping[str, InferenceArtifact],
    digests: Mapping[str, dict[str, str]],
    paths: Mapping[str, str],
    input_name: str,
) -> dict[str, Any]:
    """Load ``{name: local path}`` with each artifact's own dataset type (or unpickle it).

    Args:
        artifacts: What the model was built with, by inference input.
        digests: The SHA-256 recorded for each artifact when it was logged.
        paths: Where MLflow put each artifact.
        input_name: The inference input that is not an artifact (for the error message).

    Raises:
        KedroPipelineModelError: When ``paths`` do not name exactly the artifacts (both
            sides named), or an artifact's SHA-256 changed since logging.
    """
    expected = set(artifacts)
    given = set(paths)
    if given != expected:
        raise KedroPipelineModelError(
            "The model's artifacts do not match the inference pipeline's inputs: "
            f"missing {sorted(expected - given)}, unexpected {sorted(given - expected)}. "
            f"The pipeline needs {sorted(expected)} (every input but {input_name!r})."
        )
    for name, recorded in digests.items():
        problems = differences(recorded, fingerprint(paths[name]))
        if problems:
            raise KedroPipelineModelError(
                f"Artifact '{name}' at {paths[name]} does not match the file logged with "
                f"the model: {'; '.join(problems)}. Refusing to load a modified artifact."
            )
    loaded: dict[str, Any] = {}
    for name, artifact in artifacts.items():
        path = paths[name]
        if artifact.kind == "parameter":
            with open(path, "rb") as stream:
                loaded[name] = pickle.load(stream)
        else:
            config = repoint_config(artifact.config, path)
            dataset = AbstractDataset.from_config(name, config)
            loaded[name] = dataset.load()
    return loaded
