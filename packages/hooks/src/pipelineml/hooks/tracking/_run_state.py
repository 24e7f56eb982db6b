"""What ``MlflowHook`` knows about the MLflow run of the Kedro run in progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from pipelineml.core import PipelineML
    from pipelineml.hooks.environment._capture import ModuleCapture
    from pipelineml.hooks.tracking._interrupts import InterruptGuard
    from pipelineml.hooks.tracking._run_binding import RunBound

TAG_NOT_LOGGED = "pipelineml.model_not_logged"
TAG_MODEL_URI = "pipelineml.model_uri"
TAG_PREFLIGHT = "pipelineml.preflight"
TAG_INTERRUPTED = "pipelineml.interrupted"
# MLflow's limit on a tag value.
MAX_TAG = 5000


@dataclass
class RunState:
    """One Kedro session's MLflow run, from ``before_pipeline_run`` until it ends.

    Attributes:
        session_id: The Kedro session this run belongs to.
        run_id: The MLflow run logged into.
        experiment_id: Its experiment.
        owns_run: Whether the hook opened the run (and so ends it); an orchestrator's
            run is only tagged.
        client: The client bound to the run's tracking and registry stores.
        to_log: The PipelineMLs whose model is logged after training, by registry name.
        not_logged: Why each other requested PipelineML's model is not logged.
        requirements: The module capture started with the run, for the models'
            requirements.
        guard: The SIGINT/SIGTERM handling of the run.
        bound: The tracking datasets writing into the run, unbound when it ends.
        finished: Whether the run has been ended.
    """

    session_id: str
    run_id: str
    experiment_id: str
    owns_run: bool
    client: MlflowClient
    to_log: list[tuple[str, PipelineML]]
    not_logged: dict[str, str]
    requirements: ModuleCapture
    guard: InterruptGuard
    bound: list[RunBound] = field(default_factory=list)
    finished: bool = False

    def ended(self, status: str) -> str:
        """How a message tells what happens to the run: marked ``status``, or left open."""
        # A run the caller opened (an orchestrator's) is theirs to end: it is only tagged.
        return f"is marked {status}" if self.owns_run else "(opened by the caller) is left open"


def registers(pml: PipelineML) -> bool:
    """Whether ``pml``'s model is also registered in the model registry."""
    return bool(pml.log_model_kwargs.get("registered_model_name"))
