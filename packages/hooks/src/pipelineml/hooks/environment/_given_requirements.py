"""Requirements the user gives in ``log_model_kwargs``: read them, refuse what cannot install."""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pipelineml.hooks.environment._distributions import (
    PIPELINEML_DISTRIBUTIONS,
    distributions_of,
    normalise,
)
from pipelineml.hooks.errors import KedroPipelineModelError

logger = logging.getLogger(__name__)

# Keys of log_model_kwargs that give the model's requirements in place of inference.
REQUIREMENT_KEYS = ("pip_requirements", "extra_pip_requirements", "conda_env")


def _parse(line: str) -> Any:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return Requirement(line)
    except InvalidRequirement:
        return None


def requirement_name(line: str) -> str | None:
    requirement = _parse(line)
    return None if requirement is None else normalise(requirement.name)


def _requirement_lines(value: Any) -> list[str]:
    """The lines of ``pip_requirements``/``extra_pip_requirements`` (a list or a file)."""
    if value is None:
        return []
    if isinstance(value, str | os.PathLike):
        text = Path(value).read_text(encoding="utf-8")
        return [line.strip() for line in text.splitlines()]
    return [str(line).strip() for line in value]


def _conda_pip_lines(conda_env: Any) -> list[str]:
    if isinstance(conda_env, str | os.PathLike):
        import yaml  # type: ignore[import-untyped]  # MLflow's dependency, shipped without stubs

        conda_env = yaml.safe_load(Path(conda_env).read_text(encoding="utf-8"))
    lines: list[str] = []
    for dependency in (conda_env or {}).get("dependencies", []) or []:
        if isinstance(dependency, Mapping):
            lines.extend(str(line).strip() for line in dependency.get("pip", []) or [])
    return lines


def infers_requirements(log_model_kwargs: Mapping[str, Any]) -> bool:
    """Whether the model's requirements are inferred (``pip_requirements`` or a
    ``conda_env`` give them whole otherwise)."""
    return all(log_model_kwargs.get(key) is None for key in ("pip_requirements", "conda_env"))


def explicit_requirements(log_model_kwargs: Mapping[str, Any]) -> dict[str, list[str]]:
    """The requirement lines the user gave, by the ``log_model_kwargs`` key that gave them."""
    given: dict[str, list[str]] = {}
    for key in REQUIREMENT_KEYS:
        if log_model_kwargs.get(key) is None:
            continue
        if key == "conda_env":
            given[key] = _conda_pip_lines(log_model_kwargs[key])
        else:
            given[key] = _requirement_lines(log_model_kwargs[key])
    return given


def _line_problem(line: str, project_distributions: frozenset[str]) -> str | None:
    if not line or line.startswith("#"):
        return None
    if line.startswith(("-e ", "--editable")):
        return "an editable install, which needs the source tree where the model is deployed"
    if line.startswith("-"):
        return None  # pip options (--index-url, -c, -r ...) are the user's to choose
    requirement = _parse(line)
    if requirement is None:
        if "://" in line and not line.startswith("file:"):
            return None
        return "a local path, which does not exist where the model is deployed"
    name = normalise(requirement.name)
    if name in PIPELINEML_DISTRIBUTIONS:
        return "pipelineml's own code travels inside the model (code/pipelineml) instead"
    if name in project_distributions:
        return "the Kedro project's code travels inside the model (pickled by value) instead"
    if str(requirement.url or "").startswith("file:"):
        return "a local file, which does not exist where the model is deployed"
    return None


INFER_CODE_PATHS = (
    "log_model_kwargs 'infer_code_paths' is not supported: pipelineml puts its own code in "
    "the model's code_paths; list the folders of your own code under 'code_paths' instead."
)


def requirement_problems(
    log_model_kwargs: Mapping[str, Any], project_modules: Iterable[str]
) -> list[str]:
    """What, in ``log_model_kwargs``, would give a model an environment no deployment builds.

    Args:
        log_model_kwargs: The kwargs the model is logged with.
        project_modules: Top-level modules whose code travels inside the model.

    Returns:
        One message per problem: ``infer_code_paths``, and one naming every requirement
        line that cannot install, the key it came from and why.
    """
    problems = [INFER_CODE_PATHS] if log_model_kwargs.get("infer_code_paths") else []
    given = explicit_requirements(log_model_kwargs)
    if not given:
        return problems
    project = frozenset(distributions_of(project_modules))
    lines = [
        f"  - {key}: '{line}': {problem}"
        for key, given_lines in given.items()
        for line in given_lines
        if (problem := _line_problem(line, project)) is not None
    ]
    if lines:
        problems.append(
            "The model's requirements name what a deployment could not install:\n"
            + "\n".join(lines)
            + "\nRemove these lines from log_model_kwargs (pipeline_ml_factory or "
            "log_pipeline_model): a model rebuilds its environment from its own folder and "
            "a package index."
        )
    return problems


def check_explicit_requirements(
    log_model_kwargs: Mapping[str, Any], project_modules: Iterable[str]
) -> None:
    """Refuse ``requirement_problems``; warn when given requirements leave kedro out.

    Raises:
        KedroPipelineModelError: With every problem, one after the other.
    """
    problems = requirement_problems(log_model_kwargs, project_modules)
    if problems:
        raise KedroPipelineModelError("\n".join(problems))
    given = explicit_requirements(log_model_kwargs)
    complete = {key: lines for key, lines in given.items() if key != "extra_pip_requirements"}
    named = {requirement_name(line) for lines in complete.values() for line in lines}
    if complete and "kedro" not in named:
        logger.warning(
            "The model's %s do not name kedro, which the model imports when it loads; a "
            "deployment will install whatever version its index resolves (add 'kedro==%s').",
            " and ".join(sorted(complete)),
            importlib.metadata.version("kedro"),
        )
