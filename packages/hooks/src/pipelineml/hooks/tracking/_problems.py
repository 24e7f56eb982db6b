"""What stops a model from being logged, and the one block that reports it all."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import click

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """One thing that stops a model from being logged.

    Attributes:
        subject: What is at fault (a dataset or parameter name, a store, a key).
        message: What is wrong and what would be accepted.
        fix: The file to fix, relative to the project, if one file is the place.
        pipeline: The PipelineML concerned, if any.
    """

    subject: str
    message: str
    fix: str | None = None
    pipeline: str | None = None


def format_problems(problems: Iterable[Problem], pipelines: Iterable[str], outcome: str) -> str:
    """The one readable block listing every problem and the file to fix for each.

    Args:
        problems: What was found.
        pipelines: The PipelineMLs whose model the run was to log.
        outcome: The last line: what happened to the run because of them.
    """
    problems = list(problems)
    pipelines = list(pipelines)
    names = ", ".join(f"'{name}'" for name in pipelines)
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    models = "the model of PipelineML" if len(pipelines) == 1 else "the models of PipelineMLs"
    lines = [
        f"pipelineml pre-flight check: {count} would stop {models} {names} from being "
        "logged after training."
    ]
    for number, problem in enumerate(problems, 1):
        # With several PipelineMLs, each problem says whose model it concerns.
        whose = f"[{problem.pipeline}] " if len(pipelines) > 1 and problem.pipeline else ""
        lines.append(f"  {number}. {whose}{problem.message}")
        if problem.fix:
            lines.append(f"     Fix it in {problem.fix}.")
    lines.append(outcome)
    return "\n".join(lines)


def report(problems: list[Problem], pipelines: list[str], outcome: str) -> str:
    """``format_problems``, or only the messages and ``outcome`` when no model was asked for."""
    if not pipelines:
        return "\n".join([*(problem.message for problem in problems), outcome])
    return format_problems(problems, pipelines, outcome)


def warn_block(text: str) -> None:
    """A multi-line warning on stderr, as ``kedro run`` prints its errors: never wrapped."""
    logger.debug("%s", text)
    click.echo(f"Warning: {text}", err=True)
