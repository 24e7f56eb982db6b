"""Which PipelineMLs a Kedro run logs the model of, and why the others are not logged."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelineml.core import PipelineML

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline


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
    return to_log, not_logged


def infers_requirements(pipeline: PipelineML) -> bool:
    """Whether MLflow infers the model's requirements (they are not given in full)."""
    return not {"pip_requirements", "conda_env"} & pipeline.log_model_kwargs.keys()
