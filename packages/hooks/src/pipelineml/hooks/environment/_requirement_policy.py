"""The environment a logged model rebuilds: its own code inside it, the rest from an index.

A deployment (``mlflow models serve`` with its default env manager, ``--env-manager uv``,
``build-docker``, a cloud platform) rebuilds a model's environment from its folder alone:
``requirements.txt`` (and ``python_env.yaml``/``conda.yaml``, which point to the same
list) installed from a package index. So the model must not name what no index has:

- pipelineml's own packages are not published: their code, as imported by the process
  that logs, is copied into the model's ``code/pipelineml`` (MLflow's ``code_paths``, which
  MLflow puts first on ``sys.path`` before it unpickles the model) and never pinned;
- the Kedro project's code travels by value in the pickle (``code_by_value``): its
  distribution, if installed, is never pinned either;
- every other distribution the model imports when it loads is pinned to the version that
  trained, ``kedro`` included (MLflow's own inference drops what another pinned package
  depends on, which left ``kedro`` unpinned);
- a distribution installed from a local path, a VCS or a plain URL (PEP 610's
  ``direct_url.json`` says so) cannot be rebuilt by an index: logging refuses it, naming
  each one and the ``log_model_kwargs`` that resolve it.

The requirements are computed before the model is logged, from a copy saved for that
purpose: what the model imports when it loads, recorded by MLflow's own capture (run by
``ModuleCapture`` in an interpreter started with the run, or by MLflow's public
``mlflow.models.infer_pip_requirements``), mapped to distributions and put through the
policy above; the result is given to MLflow as the model's ``pip_requirements``.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipelineml.hooks.environment._capture import ModuleCapture
from pipelineml.hooks.environment._distributions import (
    NEVER_PINNED,
    PIPELINEML_DISTRIBUTIONS,
    direct_source,
    distributions_of,
    installed_dependencies,
    normalise,
    package_folder,
    pin,
    pipelineml_dependencies,
)
from pipelineml.hooks.environment._given_requirements import explicit_requirements, requirement_name
from pipelineml.hooks.errors import KedroPipelineModelError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequirementPolicy:
    """What a model's inferred requirements may name (see the module's docstring).

    Attributes:
        bundled_modules: Top-level modules whose code is inside the model (pipelineml, the
            project's package and its by-value modules, the user's ``code_paths``).
        always: Distributions pinned whatever the capture saw.
        user_named: Distributions the user names in ``extra_pip_requirements``: theirs win.
    """

    bundled_modules: frozenset[str]
    always: frozenset[str]
    user_named: frozenset[str]

    @classmethod
    def for_model(
        cls, bundled_modules: Iterable[str], dask: bool, log_model_kwargs: Mapping[str, Any]
    ) -> RequirementPolicy:
        """The policy of one model; ``dask`` when its runner runs on Dask."""
        extra = explicit_requirements(log_model_kwargs).get("extra_pip_requirements", [])
        named = {name for line in extra if (name := requirement_name(line)) is not None}
        return cls(
            bundled_modules=frozenset({"pipelineml", *bundled_modules}),
            always=frozenset(pipelineml_dependencies(dask)),
            user_named=frozenset(named),
        )

    def _distributions(
        self, modules: Iterable[str], mapping: Mapping[str, list[str]]
    ) -> tuple[set[str], set[str]]:
        """The distributions of captured ``modules``, and those of the bundled modules."""
        needed = {
            normalise(dist)
            for module in modules
            if module not in self.bundled_modules
            for dist in mapping.get(module, [])
        }
        bundled = {
            normalise(dist) for module in self.bundled_modules for dist in mapping.get(module, [])
        }
        return needed, bundled

    def select(self, distributions: Iterable[str], bundled: Iterable[str]) -> list[str]:
        """Pinned requirements of ``distributions`` plus ``always`` and everything they
        depend on here, minus what is bundled.

        The dependencies are pinned too (a lock of what trained, not a range): MLflow's
        capture misses what MLflow itself imported first (numpy, for one), and a library
        left unpinned is resolved anew by each deployment.

        Raises:
            KedroPipelineModelError: When one of them was not installed from an index.
        """
        excluded = PIPELINEML_DISTRIBUTIONS | NEVER_PINNED | set(bundled) | self.user_named
        # Each distribution with the markers under which it is needed ("" = always).
        conditions: dict[str, set[str]] = {}
        pending = [(name, "") for name in sorted((set(distributions) | self.always) - excluded)]
        while pending:
            name, marker = pending.pop()
            seen = name in conditions
            conditions.setdefault(name, set()).add(marker)
            if not seen:
                pending.extend(
                    (dependency, condition)
                    for dependency, condition in installed_dependencies(name)
                    if dependency not in excluded
                )
        chosen = sorted(conditions)
        unpublished = {name: source for name in chosen if (source := direct_source(name))}
        if unpublished:
            raise KedroPipelineModelError(self._unpublished_message(unpublished))
        pins = []
        for name in chosen:
            pinned = pin(name)
            if pinned is None:
                continue
            markers = sorted(conditions[name])
            if "" not in markers:
                pinned += "; " + " or ".join(f"({marker})" for marker in markers)
            pins.append(pinned)
        return pins

    @staticmethod
    def _unpublished_message(unpublished: Mapping[str, str]) -> str:
        mapping = importlib.metadata.packages_distributions()
        lines = []
        for name, source in sorted(unpublished.items()):
            modules = sorted(m for m, dists in mapping.items() if name in map(normalise, dists))
            folders = [folder for module in modules if (folder := package_folder(module))]
            where = f"; its code: {', '.join(folders)}" if folders else ""
            lines.append(f"  - {name}: installed from {source}{where}")
        first = next(iter(sorted(unpublished)))
        return (
            "The model imports distribution(s) that were not installed from a package index, "
            "so a deployment could not rebuild its environment:\n"
            + "\n".join(lines)
            + "\nIn log_model_kwargs (pipeline_ml_factory or log_pipeline_model), either put "
            'their code inside the model with "code_paths": ["<its code folder above>"], or '
            'name a requirement a deployment can install with "extra_pip_requirements": '
            f'["{first}==<version on your index>"] (or "{first} @ https://...").'
        )

    def requirements(
        self, model_path: str | os.PathLike[str], capture: ModuleCapture | None = None
    ) -> list[str]:
        """The pinned requirements of the model saved at ``model_path``, under this policy.

        Args:
            model_path: A local copy of the model, saved to be loaded by the capture.
            capture: The run's ``ModuleCapture``, started early; without one, a new
                capture interpreter is started now. Where MLflow has no capture script,
                MLflow's public ``infer_pip_requirements`` captures instead.

        Raises:
            KedroPipelineModelError: When the model does not load in the capture, or one
                of its distributions was not installed from an index.
        """
        captured = (capture if capture is not None else ModuleCapture()).capture(model_path)
        if captured is not None:
            needed, bundled = self._distributions(captured.modules, captured.distributions)
            return self.select(needed, bundled)
        import mlflow.models

        try:
            inferred = mlflow.models.infer_pip_requirements(  # type: ignore[no-untyped-call]  # MLflow has no hints
                os.fspath(model_path), "python_function"
            )
        except Exception as exc:
            raise KedroPipelineModelError(
                f"MLflow could not find what the model imports when it loads ({exc}); "
                "without that its requirements would be incomplete. Give them with "
                'log_model_kwargs={"pip_requirements": [...]}.'
            ) from exc
        names = [name for line in inferred if (name := requirement_name(line))]
        return self.select(names, distributions_of(self.bundled_modules))
