"""``PipelineML``: a Kedro training pipeline that carries its inference pipeline.

The eleven filters and seven operator methods of Kedro's ``Pipeline`` are each overridden
here with Kedro's own signature and a docstring saying whether the result stays a
PipelineML, so that the reference and an IDE show them; their bodies are a line or two on
``_keep``, ``_drop`` and ``_combine``.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from kedro.pipeline import Pipeline

from pipelineml.core import _validation
from pipelineml.core._kwargs import normalise_kpm_kwargs, normalise_log_model_kwargs
from pipelineml.core.errors import PipelineMLError, PipelineMLWarning

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline.node import Node

__all__ = ["PipelineML"]


def _operation(left: Pipeline, symbol: str, right: Pipeline) -> str:
    return f"{type(left).__name__} {symbol} {type(right).__name__}"


# Kedro's Pipeline operators on node sets: + and | are both the union.
_SET_OPERATIONS: dict[str, Callable[[set[Node], set[Node]], set[Node]]] = {
    "+": operator.or_,
    "|": operator.or_,
    "-": operator.sub,
}


class PipelineML(Pipeline):
    """A training ``Pipeline`` bound to the inference pipeline it fits.

    Its nodes are the training nodes, so Kedro runs it like any pipeline. It also carries
    ``inference`` (the pipeline logged as the model), ``input_name`` (the inference input
    that receives the data to score), ``kpm_kwargs`` (for ``KedroPipelineModel``) and
    ``log_model_kwargs`` (for ``mlflow.pyfunc.log_model``).

    The rules are checked on construction, on every assignment of ``inference`` or
    ``input_name``, and after every filter:

    1. the inference pipeline has exactly one output;
    2. ``input_name`` is an input of the inference pipeline;
    3. every other inference input is a training dataset or a parameter.

    Build it with ``pipeline_ml_factory`` rather than directly.

    Filters that can keep the training/inference pairing (``filter``,
    ``only_nodes_with_tags``, ``from_nodes``, ``to_nodes``, ``from_inputs``, ``to_outputs``,
    ``tag`` and ``&``) return a re-validated ``PipelineML``, or the plain ``Pipeline`` of
    the training nodes they select when that selection breaks a rule (it could not log the
    model). The node pickers (``only_nodes``, ``only_nodes_with_namespaces``,
    ``only_nodes_with_inputs``, ``only_nodes_with_outputs``) return a plain ``Pipeline``.
    None of them warns or raises over the rules: Kedro itself calls them on the pipeline it
    runs (its resume hint after a failed node). ``-``, ``|`` and ``+`` with a non-empty
    pipeline return a plain ``Pipeline`` and emit a ``PipelineMLWarning``, for the place
    where it is written; adding an empty pipeline keeps the PipelineML.
    """

    __module__ = "pipelineml.core"  # its public import path

    def __init__(
        self,
        nodes: Iterable[Node | Pipeline] | Pipeline,
        *,
        inference: Pipeline,
        input_name: str,
        kpm_kwargs: Mapping[str, Any] | None = None,
        log_model_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        """Create a PipelineML; prefer ``pipeline_ml_factory``.

        Args:
            nodes: The training nodes (or pipelines whose nodes are taken).
            inference: The inference pipeline, logged as the model.
            input_name: The inference input receiving the data to score.
            kpm_kwargs: Keyword arguments for ``KedroPipelineModel`` (``runner``,
                ``copy_mode``).
            log_model_kwargs: Keyword arguments for ``mlflow.pyfunc.log_model``; ``name``
                defaults to ``"model"``.

        Raises:
            PipelineMLError: When a rule is broken; the message names the datasets.
        """
        super().__init__(nodes)
        if not isinstance(inference, Pipeline):
            raise PipelineMLError(
                "'inference' must be a kedro Pipeline, got "
                f"{type(inference).__name__} {inference!r}."
            )
        self._training = Pipeline(self.nodes)
        _validation.validate(self._training, inference, input_name)
        self._inference = Pipeline(inference.nodes)
        self._input_name = input_name
        self._kpm_kwargs = normalise_kpm_kwargs(kpm_kwargs)
        self._log_model_kwargs = normalise_log_model_kwargs(log_model_kwargs)

    # ----------------------------------------------------------------- attributes
    @property
    def training(self) -> Pipeline:
        """The training nodes as a plain ``Pipeline``."""
        return self._training

    @property
    def inference(self) -> Pipeline:
        """The inference pipeline that is logged as the model."""
        return self._inference

    @inference.setter
    def inference(self, inference: Pipeline) -> None:
        if not isinstance(inference, Pipeline):
            raise PipelineMLError(
                "'inference' must be a kedro Pipeline, got "
                f"{type(inference).__name__} {inference!r}."
            )
        _validation.validate(self._training, inference, self._input_name)
        self._inference = Pipeline(inference.nodes)

    @property
    def input_name(self) -> str:
        """The inference input that receives the data to score."""
        return self._input_name

    @input_name.setter
    def input_name(self, input_name: str) -> None:
        _validation.validate(self._training, self._inference, input_name)
        self._input_name = input_name

    @property
    def kpm_kwargs(self) -> dict[str, Any]:
        """A copy of the keyword arguments passed to ``KedroPipelineModel``."""
        return dict(self._kpm_kwargs)

    @kpm_kwargs.setter
    def kpm_kwargs(self, kpm_kwargs: Mapping[str, Any] | None) -> None:
        self._kpm_kwargs = normalise_kpm_kwargs(kpm_kwargs)

    @property
    def log_model_kwargs(self) -> dict[str, Any]:
        """A copy of the keyword arguments passed to ``mlflow.pyfunc.log_model``."""
        return dict(self._log_model_kwargs)

    @log_model_kwargs.setter
    def log_model_kwargs(self, log_model_kwargs: Mapping[str, Any] | None) -> None:
        self._log_model_kwargs = normalise_log_model_kwargs(log_model_kwargs)

    def __repr__(self) -> str:
        return (
            f"PipelineML(training={len(self.nodes)} nodes, "
            f"inference={len(self._inference.nodes)} nodes, input_name={self._input_name!r})"
        )

    # ------------------------------------------------------------------ artifacts
    def extract_pipeline_artifacts(
        self,
        catalog: CatalogProtocol[Any, Any],
        parameters_saving_folder: str | Path | None = None,
    ) -> dict[str, str]:
        """Local paths of everything the inference pipeline needs besides ``input_name``.

        The result is ready for ``mlflow.pyfunc.log_model(artifacts=...)``: each persisted
        inference input maps to its file (or folder), and each parameter is pickled into
        ``parameters_saving_folder`` (a new temporary folder when omitted).

        Raises:
            PipelineMLError: When an inference input is not persisted to a local file.
        """
        from pipelineml.core.artifacts import extract_artifacts

        return extract_artifacts(
            catalog, self._inference, self._input_name, parameters_saving_folder
        )

    # ------------------------------------------------------------------ filtering
    def _derive(self, training: Pipeline) -> PipelineML | Pipeline:
        # Invalid: the selection is still a set of training nodes, but no longer one whose
        # run could log the model; MlflowHook says so when such a run asks for the model.
        if _validation.rule_problem(training, self._inference, self._input_name) is not None:
            return training
        # The class is built without running __init__'s normalisation twice: the kwargs
        # are already normalised and only the training nodes changed.
        derived = PipelineML.__new__(PipelineML)
        Pipeline.__init__(derived, training.nodes)
        derived._training = Pipeline(derived.nodes)
        derived._inference = self._inference
        derived._input_name = self._input_name
        derived._kpm_kwargs = dict(self._kpm_kwargs)
        derived._log_model_kwargs = dict(self._log_model_kwargs)
        return derived

    @staticmethod
    def _plain(result: Pipeline, operation: str) -> Pipeline:
        # Called by the operator methods only: user -> __add__ -> _combine -> _plain.
        warnings.warn(
            f"{operation} returns a plain kedro Pipeline, not a PipelineML: the result does "
            "not carry the inference pipeline, and a run of it logs a model only when it "
            "contains every training node of a registered PipelineML. Register the "
            "PipelineML itself, or combine pipelines with filter(), only_nodes_with_tags(), "
            "from_nodes(), to_nodes(), from_inputs(), to_outputs(), tag() or & to keep one.",
            PipelineMLWarning,
            stacklevel=4,
        )
        return result

    def _keep(self, method: str, *args: Any, **kwargs: Any) -> PipelineML | Pipeline:
        """Kedro's filter ``method`` on the training nodes: a PipelineML if still valid."""
        result: Pipeline = getattr(self._training, method)(*args, **kwargs)
        return self._derive(result)

    def _drop(self, method: str, *args: Any) -> Pipeline:
        """Kedro's filter ``method`` on the training nodes, as a plain Pipeline."""
        result: Pipeline = getattr(self._training, method)(*args)
        return result

    def filter(
        self,
        tags: Iterable[str] | None = None,
        from_nodes: Iterable[str] | None = None,
        to_nodes: Iterable[str] | None = None,
        node_names: Iterable[str] | None = None,
        from_inputs: Iterable[str] | None = None,
        to_outputs: Iterable[str] | None = None,
        node_namespaces: Iterable[str] | None = None,
    ) -> Pipeline:
        """Kedro's ``filter`` on the training nodes: a PipelineML, or a plain Pipeline if the
        selection could not log the model."""
        return self._keep(
            "filter",
            tags=tags,
            from_nodes=from_nodes,
            to_nodes=to_nodes,
            node_names=node_names,
            from_inputs=from_inputs,
            to_outputs=to_outputs,
            node_namespaces=node_namespaces,
        )

    def only_nodes_with_tags(self, *tags: str) -> Pipeline:
        """Training nodes with any of ``tags`` (a PipelineML while it can log the model)."""
        return self._keep("only_nodes_with_tags", *tags)

    def from_nodes(self, *node_names: str) -> Pipeline:
        """Training nodes downstream of ``node_names`` (a PipelineML while it can log the model)."""
        return self._keep("from_nodes", *node_names)

    def to_nodes(self, *node_names: str) -> Pipeline:
        """Training nodes upstream of ``node_names`` (a PipelineML while it can log the model)."""
        return self._keep("to_nodes", *node_names)

    def from_inputs(self, *inputs: str) -> Pipeline:
        """Training nodes downstream of ``inputs`` (a PipelineML while it can log the model)."""
        return self._keep("from_inputs", *inputs)

    def to_outputs(self, *outputs: str) -> Pipeline:
        """Training nodes needed for ``outputs`` (a PipelineML while it can log the model)."""
        return self._keep("to_outputs", *outputs)

    def tag(self, tags: str | Iterable[str]) -> Pipeline:
        """Tag every training node; the inference pipeline is left as it is."""
        return self._keep("tag", tags)

    def only_nodes(self, *node_names: str) -> Pipeline:
        """Kedro's ``only_nodes``; returns a plain Pipeline."""
        return self._drop("only_nodes", *node_names)

    def only_nodes_with_namespaces(self, node_namespaces: list[str]) -> Pipeline:
        """Kedro's ``only_nodes_with_namespaces``; returns a plain Pipeline."""
        return self._drop("only_nodes_with_namespaces", node_namespaces)

    def only_nodes_with_inputs(self, *inputs: str) -> Pipeline:
        """Kedro's ``only_nodes_with_inputs``; returns a plain Pipeline."""
        return self._drop("only_nodes_with_inputs", *inputs)

    def only_nodes_with_outputs(self, *outputs: str) -> Pipeline:
        """Kedro's ``only_nodes_with_outputs``; returns a plain Pipeline."""
        return self._drop("only_nodes_with_outputs", *outputs)

    # ------------------------------------------------------------------ operators
    def _combine(self, other: Any, symbol: str, *, reflected: bool = False) -> Pipeline:
        """``self <symbol> other`` (``other <symbol> self`` when ``reflected``), as Kedro would.

        Combining with an empty pipeline keeps the PipelineML: ``KedroSession.run`` starts
        from ``Pipeline([])`` and adds the registered pipelines to it.
        """
        if not isinstance(other, Pipeline):
            # The operator protocol's answer, which the calling dunder hands back to Python.
            return cast("Pipeline", NotImplemented)
        if not other.nodes:
            return self
        left, right = (other, self) if reflected else (self, other)
        nodes = _SET_OPERATIONS[symbol](set(left.nodes), set(right.nodes))
        return self._plain(Pipeline(nodes), _operation(left, symbol, right))

    def __add__(self, other: Any) -> Pipeline:
        return self._combine(other, "+")

    def __radd__(self, other: Any) -> Pipeline:
        if isinstance(other, int) and other == 0:
            return self  # sum([...]) starts from 0
        return self._combine(other, "+", reflected=True)

    def __or__(self, other: Any) -> Pipeline:
        return self._combine(other, "|")

    def __ror__(self, other: Any) -> Pipeline:
        return self._combine(other, "|", reflected=True)

    def __sub__(self, other: Any) -> Pipeline:
        return self._combine(other, "-")

    def _intersect(self, other: Pipeline, operation: str) -> Pipeline:
        nodes = Pipeline(set(self.nodes) & set(other.nodes))
        if isinstance(other, PipelineML) and (
            other._input_name != self._input_name
            or set(other._inference.nodes) != set(self._inference.nodes)
        ):
            return self._plain(nodes, f"{operation} of PipelineMLs with different inference")
        return self._derive(nodes)

    def __and__(self, other: Any) -> Pipeline:
        if not isinstance(other, Pipeline):
            return NotImplemented
        return self._intersect(other, "&")

    def __rand__(self, other: Any) -> Pipeline:
        if not isinstance(other, Pipeline):
            return NotImplemented
        return self._intersect(other, "&")
