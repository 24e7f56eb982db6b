"""The tags that say which Kedro command, pipelines and runner an MLflow run records."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from pipelineml.core._kedro import package_name
from pipelineml.hooks.tracking._recovery import owner_tags

_DEFAULT_STR = re.compile(r"<([\w.]+) object at 0x[0-9a-f]+>")


def runner_label(runner: Any) -> str:
    """The runner's dotted class name, from what ``KedroSession`` records of it.

    The session records ``str(runner)``: our runners say their dotted path; any other
    runner without a ``__str__`` of its own gets Python's default, ``<path object at 0x..>``,
    of which the path is kept.
    """
    text = str(runner)
    match = _DEFAULT_STR.fullmatch(text)
    return match.group(1) if match else text


def kedro_command() -> str:
    """The command line of this process, spelt ``kedro ...`` when Kedro's CLI runs it."""
    argv = sys.argv
    program = Path(argv[0]).name if argv else ""
    if program in {"kedro", "__main__.py"} or program.startswith("kedro"):
        return " ".join(["kedro", *argv[1:]])
    return " ".join(argv)


def run_tags(run_params: dict[str, Any], names: list[str], env: str | None) -> dict[str, str]:
    """The ``kedro.*`` tags of the run started with ``run_params`` for pipelines ``names``,
    and the ``pipelineml.owner.*`` tags that name this process as the run's owner.

    Args:
        run_params: Kedro's ``run_params`` of ``before_pipeline_run``.
        names: The pipelines the run executes.
        env: The environment of the Kedro context, when ``run_params`` names none.
    """
    from kedro import __version__ as kedro_version

    project_package = package_name()
    tags = {
        "kedro.command": kedro_command(),
        "kedro.pipeline": ",".join(names),
        "kedro.session_id": str(run_params.get("run_id")),
        "kedro.env": str(run_params.get("env") or env or "local (default)"),
        "kedro.runner": runner_label(run_params.get("runner")),
        "kedro.version": kedro_version,
        **owner_tags(),
    }
    if project_package:
        tags["kedro.package_name"] = project_package
    for key in ("tags", "node_names", "from_nodes", "to_nodes", "namespaces"):
        if run_params.get(key):
            tags[f"kedro.{key}"] = ",".join(map(str, run_params[key]))
    return tags
