"""Which PipelineMLs a Kedro run logs the model of, and why the others are not logged."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelineml.core import PipelineML

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node


def models_to_log(
    pipeline: Pipeline, names: list[str]
) -> tuple[list[tuple[str, PipelineML]], dict[str, str]]:
    """The PipelineMLs whose model the run of ``pipeline`` logs, and why the others are not.

    Args:
        pipeline: What the run executes.
        names: The registered pipelines the run was asked for.

    Returns:
        ``[(name, PipelineML)]`` to log, and ``{name: reason}`` for those that are not.
    """
    # A model is logged only when every training node of a requested PipelineML ran:
    # a filtered run (--nodes, --from-nodes...) would log artifacts it did not fit.
    from kedro.framework.project import pipelines

    to_log: list[tuple[str, PipelineML]] = []
    not_logged: dict[str, str] = {}
    ran = set(pipeline.nodes)
    requested = False
    for name in names:
        try:
            registered = pipelines[name]
        except KeyError:
            continue
        if not isinstance(registered, PipelineML):
            continue
        requested = True
        missing = sorted(node.name for node in registered.nodes if node not in ran)
        if missing:
            not_logged[name] = (
                f"the run does not include every training node of PipelineML '{name}' "
                f"(missing {missing}), so its model is not logged"
            )
        else:
            to_log.append((name, registered))
    if not requested and isinstance(pipeline, PipelineML):
        # A PipelineML run outside the project's registry (a session built by hand).
        to_log.append((",".join(names), pipeline))
    elif not requested:
        not_logged.update(_combined_away(pipelines, names, ran))
    return to_log, not_logged


def _combined_away(
    registry: Mapping[str, Pipeline], names: list[str], ran: set[Node]
) -> dict[str, str]:
    """Registered PipelineMLs whose training nodes all ran inside a plain Pipeline.

    ``training + other`` is a plain Pipeline: a user who registers it (often as
    ``__default__``) runs every training node and gets no model. Said at run time, where it
    matters, rather than when the pipeline is built (Kedro builds such combinations too).
    """
    asked = ", ".join(f"'{name}'" for name in names)
    found: dict[str, str] = {}
    seen: set[int] = set()
    # One PipelineML is often registered twice, as itself and as __default__: named once,
    # by its own name.
    for name, registered in sorted(registry.items(), key=lambda i: (i[0] == "__default__", i[0])):
        if isinstance(registered, PipelineML) and set(registered.nodes) <= ran:
            if id(registered) in seen:
                continue
            seen.add(id(registered))
            found[name] = (
                f"the run executed every training node of PipelineML '{name}' as part of "
                f"{asked}, a plain Pipeline (a PipelineML combined with other nodes by +, | "
                f"or - is one), so no model is logged; run kedro run --pipelines={name}, or "
                "register the PipelineML itself under that name, to log it"
            )
    return found
