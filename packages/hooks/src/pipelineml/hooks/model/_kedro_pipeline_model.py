"""``KedroPipelineModel``: a Kedro inference pipeline as an MLflow pyfunc model.

One class: its methods are MLflow's ``PythonModel`` interface (build, pickle,
``load_context``, ``predict``) sharing one state.
What they delegate lives beside it: ``_model_arguments`` (what the arguments mean),
``_artifact_loading`` (checking and reading artifacts), ``_integrity``, ``_node_errors``.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cloudpickle
from kedro.pipeline import Pipeline
from mlflow.exceptions import MlflowException
from mlflow.pyfunc.model import PythonModel

from pipelineml.core import PipelineMLError
from pipelineml.core._kedro import import_kedro_runner_for_host
from pipelineml.core._names import parameter_path
from pipelineml.core.artifacts import (
    InferenceArtifact,
    artifact_names,
    artifact_paths,
    check_inference,
    describe_artifacts,
)
from pipelineml.hooks.environment._code_by_value import code_by_value
from pipelineml.hooks.environment._code_path import follow_the_running_copy, model_code_folder
from pipelineml.hooks.environment._mlflow_internals import UnvalidatedPredict
from pipelineml.hooks.errors import KedroPipelineModelError
from pipelineml.hooks.model._artifact_loading import load_artifacts
from pipelineml.hooks.model._from_code import SPEC_ARTIFACT, restore_model
from pipelineml.hooks.model._integrity import fingerprint
from pipelineml.hooks.model._model_arguments import inference_and_input, model_copy_policy
from pipelineml.hooks.model._node_errors import node_failure, run_inference
from pipelineml.hooks.model._request_params import read_params
from pipelineml.hooks.model._runner_choice import (
    IN_PROCESS_RUNNERS,
    allowed_runner_names,
    check_allowed,
    close_runners,
)
from pipelineml.runners import CopyPolicy, resolve_runner
from pipelineml.runners.errors import RunnerError

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.runner import AbstractRunner
    from mlflow.pyfunc.model import PythonModelContext

__all__ = ["KedroPipelineModel"]

logger = logging.getLogger(__name__)

# The runner a model uses when none is given. Such a model holds no runner object: it
# scores with ``run_in_memory`` (the same execution), so loading it never imports
# kedro.runner, which loads Kedro's project settings and reconfigures logging.
DEFAULT_RUNNER = "SequentialRunner"
# The pickled state's key for the artifacts of a loaded model.
_LOADED_STATE = "_loaded_artifacts"
_PORTABLE_STATE = "_cloudpickled_state"


def _runner_name(runner: AbstractRunner | None) -> str:
    return DEFAULT_RUNNER if runner is None else type(runner).__name__


# The model accepts whatever its inference pipeline accepts (DataFrames, arrays, lists), so
# MLflow's type-hint validation of predict() does not apply (nor its warning about it).
class KedroPipelineModel(UnvalidatedPredict, PythonModel):
    """An MLflow pyfunc model that runs a Kedro inference pipeline.

    Every inference input other than ``input_name`` is an artifact logged with the model
    (a persisted dataset's file, or a pickled parameter). ``load_context`` loads each one
    once, with its original dataset type pointed at MLflow's local copy; ``predict`` puts
    the request in ``input_name``, runs the pipeline and returns its single output.

    Example:
        ```python
        model = KedroPipelineModel(pipeline_ml, catalog, copy_mode="assign")
        artifacts = model.extract_pipeline_artifacts()
        mlflow.pyfunc.log_model(name="model", python_model=model, artifacts=artifacts)
        ```

    ``predict`` accepts ``params``: any inference parameter by its short name
    (``{"threshold": 0.7}`` for ``params:threshold``) and ``runner`` (a name known to
    ``pipelineml.runners.resolve_runner``). It mutates nothing shared, so one loaded model
    serves concurrent calls.
    """

    __module__ = "pipelineml.hooks"  # its public import path

    def __init__(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol[Any, Any],
        input_name: str | None = None,
        runner: AbstractRunner | str | None = None,
        copy_mode: str | Mapping[str, str] | CopyPolicy | None = "assign",
        *,
        allowed_runners: Iterable[str] | None = None,
        saved_by_training: Iterable[str] = (),
    ) -> None:
        """Check the pipeline against the catalog and prepare the model.

        Args:
            pipeline: A ``PipelineML`` (its inference pipeline and input name are used) or
                a plain inference ``Pipeline`` (then ``input_name`` is required).
            catalog: The catalog training used: it says where every artifact is persisted.
            input_name: The inference input receiving the data to score; defaults to the
                PipelineML's.
            runner: A runner instance or a registered name; our ``SequentialRunner`` by
                default.
            copy_mode: ``assign``/``copy``/``deepcopy``, a dict of per-dataset rules, or a
                ``CopyPolicy``, for the data handed between nodes. Datasets no rule names
                are assigned (a policy without a default gets ``default="assign"``).
            allowed_runners: The runner names a request's ``params["runner"]`` may choose
                (a request reaching a served model runs code with the server's rights);
                by default ``SequentialRunner``, ``ThreadRunner`` and ``runner``'s own.
            saved_by_training: The datasets the training run that fitted the artifacts
                saved (``MlflowHook`` gives the run's outputs): a versioned artifact among
                them is the version that run saved; any other, the version the catalog
                loads (the latest, or one pinned with ``kedro run --load-versions``).

        Raises:
            KedroPipelineModelError: Naming the dataset at fault: more than one inference
                output, an input_name that is not an inference input, or an artifact that
                is not persisted to a file.
        """
        inference, input_name = inference_and_input(pipeline, input_name)
        try:
            check_inference(inference, input_name)
            described = describe_artifacts(
                catalog, inference, input_name, saved=frozenset(saved_by_training)
            )
            self._policy = model_copy_policy(copy_mode)
            self._runner = None if runner is None else resolve_runner(runner)
            self._allowed_runners = allowed_runner_names(
                allowed_runners, _runner_name(self._runner)
            )
        except (PipelineMLError, RunnerError) as exc:
            raise KedroPipelineModelError(str(exc)) from exc

        self.pipeline = Pipeline(inference.nodes)
        self.input_name = input_name
        self.output_name = next(iter(inference.outputs()))
        self._artifacts: dict[str, InferenceArtifact] = described
        self._parameters = {
            short: name for name in described if (short := parameter_path(name)) is not None
        }
        self._digests: dict[str, dict[str, str]] = {}
        self._catalog: CatalogProtocol[Any, Any] | None = catalog
        # Top-level modules whose source the model carries (set when loaded from code).
        self._code_modules: tuple[str, ...] = ()
        self._init_runtime()

    @classmethod
    def from_code(cls) -> KedroPipelineModel:
        """The model MLflow's loader gives a model logged from code: empty until
        ``load_context`` rebuilds it from the spec the model holds."""
        model = cls.__new__(cls)
        model.pipeline, model.input_name, model.output_name = Pipeline([]), "", ""
        model._artifacts, model._parameters, model._digests = {}, {}, {}
        model._policy, model._runner = CopyPolicy("assign"), None
        model._allowed_runners = IN_PROCESS_RUNNERS
        model._catalog, model._code_modules = None, ()
        model._init_runtime()
        return model

    def _init_runtime(self) -> None:
        # Resolved runners live only in memory (rebuilt after unpickling); what a pickle
        # keeps of the loaded data is decided by __getstate__.
        self._loaded: dict[str, Any] | None = None
        self._runners: dict[str, AbstractRunner | None] = {}
        self._runners_lock = threading.Lock()
        self._default_runner: AbstractRunner | None = None
        weakref.finalize(self, close_runners, self.__dict__)  # a cluster ends with its model

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_catalog", "_loaded", "_runners", "_runners_lock", "_default_runner"):
            state.pop(key, None)
        if self._catalog is None and self._loaded is not None:
            # A model MLflow loaded (it has no catalog) travels with what it loaded, so a
            # copy sent to Dask workers or subprocesses scores; a model built from a
            # training catalog never does, so python_model.pkl holds no artifact data.
            # The state is cloudpickled because MLflow loaded the nodes' code by value:
            # plain pickle (multiprocessing) cannot name those functions by reference.
            state[_LOADED_STATE] = self._loaded
            # The project's code travels by value, for workers that cannot import it.
            with code_by_value(getattr(self, "_code_modules", ())):
                return {_PORTABLE_STATE: cloudpickle.dumps(state)}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if _PORTABLE_STATE in state:
            state = cloudpickle.loads(state[_PORTABLE_STATE])
        loaded = state.pop(_LOADED_STATE, None)
        self.__dict__.update(state)
        self._catalog = None
        self._init_runtime()
        self._loaded = loaded

    def __repr__(self) -> str:
        return (
            f"KedroPipelineModel(input_name={self.input_name!r}, output={self.output_name!r}, "
            f"artifacts={sorted(self._artifacts)}, runner={self._runner or DEFAULT_RUNNER!r}, "
            f"copy_mode={self._policy!r})"
        )

    # --------------------------------------------------------------- attributes
    @property
    def runner(self) -> AbstractRunner:
        """The runner used when a call does not name another one.

        Without a ``runner`` argument this is a ``SequentialRunner`` made on first access
        (and not pickled): the model itself scores with ``pipelineml.runners.run_in_memory``,
        which runs the same way.
        """
        if self._runner is not None:
            return self._runner
        with self._runners_lock:
            if self._default_runner is None:
                self._default_runner = resolve_runner(DEFAULT_RUNNER)
            return self._default_runner

    @property
    def runner_name(self) -> str:
        """The class name of the default runner, as a request's ``runner`` param spells it."""
        return _runner_name(self._runner)

    @property
    def copy_policy(self) -> CopyPolicy:
        """The copy policy applied to the data handed between nodes."""
        return self._policy

    @property
    def artifact_names(self) -> list[str]:
        """The inference inputs logged with the model (everything but ``input_name``)."""
        return artifact_names(self.pipeline, self.input_name)

    @property
    def parameter_defaults(self) -> dict[str, Any]:
        """``{short name: value}`` of the inference parameters, from the catalog or artifacts."""
        if self._loaded is not None:
            source = self._loaded
        elif self._catalog is not None:
            source = {name: self._catalog.load(name) for name in self._parameters.values()}
        else:
            return {}
        return {short: source[name] for short, name in self._parameters.items()}

    @property
    def artifact_sources(self) -> dict[str, dict[str, str]]:
        """``{name: {"location": ..., "version": ...}}`` of the dataset artifacts (``version``
        for versioned ones): what the model's metadata records of where each came from."""
        return {
            name: {"location": a.location, **({"version": a.version} if a.version else {})}
            for name, a in sorted(self._artifacts.items())
            if a.kind == "dataset" and a.location is not None
        }

    @property
    def digests(self) -> dict[str, dict[str, str]]:
        """SHA-256 of each artifact recorded by ``extract_pipeline_artifacts``."""
        return {name: dict(files) for name, files in self._digests.items()}

    # --------------------------------------------------------------- logging
    def extract_pipeline_artifacts(
        self, parameters_saving_folder: str | Path | None = None
    ) -> dict[str, str]:
        """``{name: local path}`` for ``mlflow.pyfunc.log_model(artifacts=...)``.

        Parameters are pickled into ``parameters_saving_folder`` (a temporary folder when
        omitted). The SHA-256 of every artifact file is recorded in the model, and checked
        again when MLflow loads it.

        Raises:
            KedroPipelineModelError: When the model was unpickled (no catalog), or an
                artifact is not persisted to a local file or is missing.
        """
        if self._catalog is None:
            raise KedroPipelineModelError(
                "This KedroPipelineModel has no catalog (it was loaded from a pickle); build "
                "it from the training catalog to extract artifacts."
            )
        try:
            # The inputs were described (and checked) once, when the model was built.
            paths = artifact_paths(self._catalog, self._artifacts, parameters_saving_folder)
        except PipelineMLError as exc:
            raise KedroPipelineModelError(str(exc)) from exc
        self._digests = {name: fingerprint(path) for name, path in paths.items()}
        return paths

    # --------------------------------------------------------------- loading
    def load_context(self, context: PythonModelContext) -> None:
        """Check and load every artifact once.

        When this process runs an installed pipelineml rather than the model's own copy,
        the model's ``code/`` folder moves to the end of ``sys.path``, so that processes
        started from here (Dask workers...) import the copy this process runs.

        Raises:
            KedroPipelineModelError: When the artifacts do not match the pipeline's inputs
                (both sides named), or an artifact's SHA-256 changed since logging.
        """
        paths = dict(context.artifacts)
        spec = paths.pop(SPEC_ARTIFACT, None)
        follow_the_running_copy(model_code_folder(context.artifacts.values()), __file__)
        if spec is None:
            # The pickled format (pipelineml 0.1.0, or a pipeline that cannot be data).
            self._loaded = self.load_artifacts(paths)
            return
        restored, self._loaded = restore_model(spec, paths)
        self.__dict__.update(restored.attributes())

    def load_artifacts(self, paths: Mapping[str, str]) -> dict[str, Any]:
        """Load ``{name: local path}`` artifacts as ``load_context`` does, and return them."""
        return load_artifacts(self._artifacts, self._digests, paths, self.input_name)

    # --------------------------------------------------------------- predicting
    def _named_runner(self, name: Any) -> AbstractRunner | None:
        # None stands for the default execution (run_in_memory), under either spelling.
        if name == _runner_name(self._runner):
            return self._runner
        if name in self._runners:
            return self._runners[name]
        try:
            if not isinstance(name, str):
                raise KedroPipelineModelError(
                    f"params['runner'] must be a runner name (str), got {name!r}."
                )
            # A model pickled before allowed_runners existed (None) gets today's default.
            check_allowed(name, getattr(self, "_allowed_runners", None), _runner_name(self._runner))
            import_kedro_runner_for_host()  # a request must not reconfigure the host's logging
            created = resolve_runner(name)
        except RunnerError as exc:
            raise KedroPipelineModelError(str(exc)) from exc
        with self._runners_lock:
            return self._runners.setdefault(name, created)

    def predict(
        self,
        context: PythonModelContext | None,
        model_input: Any,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Run the inference pipeline on ``model_input`` and return its output.

        Args:
            context: MLflow's context (unused: artifacts were loaded in ``load_context``).
            model_input: The data for ``input_name`` (a DataFrame when served).
            params: Inference parameters by short name, and ``runner``.

        Raises:
            KedroPipelineModelError: For an unknown parameter or runner name, or when the
                model was not loaded.
            InferenceNodeError: When an inference node raises; it names the node, carries
                its message, and has the node's exception as ``__cause__``.
        """
        feed = self._loaded
        if feed is None:
            raise KedroPipelineModelError(
                "The model has no loaded artifacts: load it with mlflow.pyfunc.load_model(), "
                "or call load_context() first."
            )
        return self._score(feed, model_input, params, log_failure=True)

    def predict_sample(self, artifacts: Mapping[str, str], sample: Any) -> Any:
        """Score ``sample`` with the artifacts at ``artifacts`` (name -> local path).

        What logging does to infer the signature: the artifacts are loaded for this call
        only, and a failing node raises ``InferenceNodeError`` without the ERROR line
        ``predict`` logs, since the caller reports the failure itself.
        """
        return self._score(self.load_artifacts(artifacts), sample, None, log_failure=False)

    def _score(
        self,
        feed: dict[str, Any],
        model_input: Any,
        params: dict[str, Any] | None,
        *,
        log_failure: bool,
    ) -> Any:
        request = read_params(params, self._parameters, feed)
        runner = self._named_runner(request.runner) if request.names_runner else self._runner
        feed = {**feed, **request.overrides, self.input_name: model_input}
        try:
            return run_inference(self.pipeline, feed, runner, self._policy, self.output_name)
        except MlflowException:
            raise
        except Exception as exc:
            raise node_failure(exc, self.pipeline, log_failure) from exc
