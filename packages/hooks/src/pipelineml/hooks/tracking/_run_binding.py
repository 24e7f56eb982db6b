"""How the tracking datasets know the MLflow run of the ``kedro run`` they save into.

Before the first node, ``MlflowHook`` gives every tracking dataset of the run's catalog a
``RunBinding`` (the run id and its stores, three strings) and the dataset's catalog name.
The binding is plain data on the dataset object, so it travels with it: a thread of
``ThreadRunner`` uses the very object, and a Dask task carries a pickled copy made when the
run's graph is submitted (after the hook ran). Each save then writes through an
``MlflowClient`` of those stores with the explicit run id, never through MLflow's
thread-local active run, so every runner logs into the one run of the session, and what
was saved before a failure stays logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mlflow
from mlflow.tracking import MlflowClient

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunBinding:
    """The MLflow run of one ``kedro run``, as the tracking datasets write into it.

    Attributes:
        run_id: The run.
        tracking_uri: Its tracking store.
        registry_uri: Its registry store.
    """

    run_id: str
    tracking_uri: str
    registry_uri: str

    def client(self) -> MlflowClient:
        """A client of the run's stores (made on use: a binding is pickled without one)."""
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)


class RunBound:
    """What a tracking dataset shares: its catalog name and the run it is bound to.

    Subclasses call ``RunBound.__init__`` and read ``_binding``, ``_name`` and
    ``_client_for`` (the run to read from: the given ``run_id``, else the bound run). The
    methods are private: only ``MlflowHook`` binds a dataset (``bind_datasets``).
    """

    _binding: RunBinding | None
    _name: str | None

    def __init__(self) -> None:
        self._binding = None
        self._name = None

    def _bind_run(self, binding: RunBinding | None, name: str | None) -> None:
        """Write into ``binding``'s run from now on (``None``: into no run); ``name`` is the
        dataset's name in the catalog, the default MLflow key."""
        self._binding = binding
        if name is not None:
            self._name = name

    def _label(self) -> str:
        """How messages name the dataset: its catalog name once known."""
        kind = type(self).__name__
        return f"{kind} '{self._name}'" if self._name else kind

    def _client_for(self, run_id: str | None) -> tuple[MlflowClient, str]:
        """The client and run that ``load`` reads: ``run_id`` if given, else the bound run.

        A ``run_id`` given outside a ``kedro run`` is read from MLflow's current tracking
        store (``MLFLOW_TRACKING_URI``, or what ``mlflow.set_tracking_uri`` set).

        Raises:
            DatasetError: When there is neither.
        """
        from kedro.io import DatasetError

        if run_id is not None:
            if self._binding is not None:
                return self._binding.client(), run_id
            return MlflowClient(tracking_uri=mlflow.get_tracking_uri()), run_id
        if self._binding is None:
            raise DatasetError(
                f"{self._label()} has no MLflow run to read from: give it a run_id in the "
                "catalog, or load it in a kedro run tracked by MlflowHook."
            )
        return self._binding.client(), self._binding.run_id


def bind_datasets(
    pipeline: Pipeline,
    catalog: CatalogProtocol[Any, Any],
    run_id: str,
    tracking_uri: str,
    registry_uri: str,
) -> list[RunBound]:
    """Bind every tracking dataset the run reads or writes to run ``run_id`` of these
    stores; return them."""
    binding = RunBinding(run_id, tracking_uri, registry_uri)
    bound: list[RunBound] = []
    for name in sorted(pipeline.datasets()):
        if name not in catalog:
            continue
        dataset = catalog.get(name)
        if isinstance(dataset, RunBound):
            dataset._bind_run(binding, name)
            bound.append(dataset)
    if bound:
        logger.debug("Tracking datasets bound to MLflow run %s: %s", binding.run_id, bound)
    return bound


def unbind_datasets(bound: list[RunBound]) -> None:
    """After the run: the datasets write into no run any more."""
    for dataset in bound:
        dataset._bind_run(None, None)
