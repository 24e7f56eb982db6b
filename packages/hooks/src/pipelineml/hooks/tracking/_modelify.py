"""``kedro pipelineml modelify``: a PipelineML's model from the artifacts already on disk.

No node runs: the inference pipeline of a registered PipelineML is logged, in a new MLflow
run tagged ``pipelineml.modelify``, from what the catalog holds now. It goes through the
training run's own steps (``_preflight``, ``_mlflow_run``): the same pre-flight, with no
node counted as writing anything, and the same one-line summary.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from kedro.pipeline import Pipeline
from mlflow.tracking import MlflowClient

from pipelineml.core import PipelineML, PipelineMLError, pipeline_ml_factory
from pipelineml.core._kedro import package_name
from pipelineml.core._names import did_you_mean
from pipelineml.hooks.environment._capture import ModuleCapture
from pipelineml.hooks.environment._given_requirements import infers_requirements
from pipelineml.hooks.errors import MlflowRunError
from pipelineml.hooks.tracking._conf_files import ConfFiles, read_mlflow_yml
from pipelineml.hooks.tracking._config import parse_config
from pipelineml.hooks.tracking._interrupts import InterruptGuard
from pipelineml.hooks.tracking._mlflow_run import (
    discard_incomplete_models,
    experiment_id,
    log_model_of,
    log_params,
    open_run,
    run_stores,
)
from pipelineml.hooks.tracking._preflight import preflight_problems
from pipelineml.hooks.tracking._problems import report
from pipelineml.hooks.tracking._run_state import MAX_TAG, TAG_NOT_LOGGED, RunState
from pipelineml.hooks.tracking._run_tags import run_tags

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["TAG_MODELIFY", "modelify"]

logger = logging.getLogger(__name__)

#: The tag of a run ``modelify`` opened: the PipelineML's name.
TAG_MODELIFY = "pipelineml.modelify"


def _pipeline_ml(pipelines: Mapping[str, Pipeline], name: str) -> PipelineML:
    models = sorted(n for n, p in pipelines.items() if isinstance(p, PipelineML))
    pipeline = pipelines.get(name)
    if isinstance(pipeline, PipelineML):
        return pipeline
    listed = ", ".join(models) or "none"
    if pipeline is None:
        problem = f"No pipeline '{name}' is registered in the project."
    else:
        problem = f"Pipeline '{name}' is a plain Pipeline, not a PipelineML."
    raise MlflowRunError(
        f"{problem} modelify logs the model of a PipelineML; the project's PipelineMLs: "
        f"{listed}.{did_you_mean(name, models)}"
    )


def _with_options(
    pml: PipelineML, name: str, input_name: str | None, registered_model_name: str | None
) -> PipelineML:
    """``pml`` with the command's ``--input-name`` and ``--registered-model-name``."""
    if input_name is None and registered_model_name is None:
        return pml
    log_model_kwargs = dict(pml.log_model_kwargs)
    if registered_model_name is not None:
        log_model_kwargs["registered_model_name"] = registered_model_name
    try:
        return pipeline_ml_factory(
            training=pml.training,
            inference=pml.inference,
            input_name=input_name or pml.input_name,
            kpm_kwargs=pml.kpm_kwargs,
            log_model_kwargs=log_model_kwargs,
        )
    except PipelineMLError as exc:
        raise MlflowRunError(
            f"PipelineML '{name}' cannot be logged with these options: {exc}"
        ) from None


def modelify(
    project_path: Path,
    pipeline_name: str,
    *,
    env: str | None = None,
    input_name: str | None = None,
    registered_model_name: str | None = None,
) -> str:
    """Log the model of PipelineML ``pipeline_name`` in a new run; return the run id.

    Args:
        project_path: The Kedro project (already bootstrapped).
        pipeline_name: A PipelineML of the project's pipeline registry.
        env: The configuration environment (Kedro's default when ``None``).
        input_name: Replaces the PipelineML's ``input_name``.
        registered_model_name: Also register the model under this name.

    Raises:
        MlflowRunError: When ``pipeline_name`` is no PipelineML, the pre-flight finds
            problems (no run is opened), or the model was not logged (the run is FAILED).
    """
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession

    # Not `with KedroSession.create(...) as session`: __enter__ is typed as returning
    # AbstractSession, which has no load_context.
    session = KedroSession.create(project_path=project_path, env=env)
    with session:
        context = session.load_context()
        catalog = context.catalog
        config = parse_config(read_mlflow_yml(context.config_loader))
        conf = ConfFiles.of(Path(context.project_path), context.config_loader, context.env)
        pml = _with_options(
            _pipeline_ml(pipelines, pipeline_name), pipeline_name, input_name, registered_model_name
        )
        to_log = [(pipeline_name, pml)]
        # No node runs: every artifact must already be on disk.
        nothing = Pipeline([])
        problems = preflight_problems(to_log, nothing, catalog, conf)
        if problems:
            raise MlflowRunError(
                report(problems, [pipeline_name], "No MLflow run was opened and no node has run.")
            )
        tracking_uri, registry_uri = run_stores(config, Path(context.project_path), None)
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
        # The experiment a training run of the project logs into (MlflowHook's rule).
        experiment_name = config.experiment_name or package_name() or project_path.name
        experiment = experiment_id(client, experiment_name)
        tags = run_tags({"run_id": session.session_id, "env": context.env}, [pipeline_name], None)
        tags.pop("kedro.runner", None)  # no runner ran anything
        tags[TAG_MODELIFY] = pipeline_name
        run_name = config.run_name or f"modelify {pipeline_name}"
        run_id, run_experiment, _ = open_run(client, run_name, tags, None, False, experiment)
        capture = ModuleCapture()
        if config.prepare_requirements and infers_requirements(pml.log_model_kwargs):
            capture.start()
        state = RunState(
            session_id=session.session_id,
            run_id=run_id,
            experiment_id=run_experiment,
            owns_run=True,
            client=client,
            to_log=to_log,
            not_logged={},
            requirements=capture,
            guard=InterruptGuard(lambda _: None),
        )
        status = "FAILED"
        try:
            log_params(state, nothing, catalog, config, {})
            error = log_model_of(state, pipeline_name, pml, catalog, saved_by_training=())
            if error is None:
                status = "FINISHED"
                return run_id
            discard_incomplete_models(state)
            message = (
                f"The model of PipelineML '{pipeline_name}' was not logged: {error}\n"
                f"MLflow run {run_id} is marked FAILED."
            )
            client.set_tag(run_id, TAG_NOT_LOGGED, f"{pipeline_name}: {error}"[:MAX_TAG])
            raise MlflowRunError(message)
        except KeyboardInterrupt:
            # Ctrl-C while the model is logged: the run ends KILLED, as a training run's.
            status = "KILLED"
            discard_incomplete_models(state)
            raise
        finally:
            capture.close()
            client.set_terminated(run_id, status)
