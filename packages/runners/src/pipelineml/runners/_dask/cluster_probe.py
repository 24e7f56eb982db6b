"""What runs on a Dask worker (or the scheduler) before pipelineml's code is there.

These functions are sent by value (``cloudpickle.register_pickle_by_value`` on this
module, see ``shipping``), so a process without pipelineml can run them: they use the
standard library only and import it inside their bodies.
"""

from __future__ import annotations

from typing import Any


def environment(distributions: list[str], portions: list[str], marker: str) -> dict[str, Any]:
    """The versions of ``distributions`` here, and whether pipelineml's code is ready.

    Returns:
        ``{"versions": {name: version or None}, "pipelineml": state}`` where ``state`` is
        ``"ready"`` (installed, or this very upload, whose zip is named ``marker``),
        ``"missing"``, or ``"stale"`` (an earlier upload of other code: forgotten here so
        that the new one is imported afresh).
    """
    import importlib
    import importlib.metadata
    import importlib.util
    import os
    import sys

    versions: dict[str, str | None] = {}
    for name in distributions:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    state = "ready"
    for portion in portions:
        module = sys.modules.get(portion)
        origin = getattr(module, "__file__", None) if module is not None else None
        if origin is None:
            try:
                spec = importlib.util.find_spec(portion)
            except ModuleNotFoundError:
                spec = None
            origin = spec.origin if spec is not None else None
        if origin is None:
            state = "missing"
            break
        uploaded = [part for part in origin.split(os.sep) if part.startswith("pipelineml-")]
        if uploaded and uploaded[-1] != marker:
            state = "stale"
            break
    if state == "stale":
        for name in [n for n in sys.modules if n == "pipelineml" or n.startswith("pipelineml.")]:
            del sys.modules[name]
        sys.path[:] = [
            entry
            for entry in sys.path
            if not (os.path.basename(entry).startswith("pipelineml-") and entry.endswith(".zip"))
        ]
        importlib.invalidate_caches()
    return {"versions": versions, "pipelineml": state}


def import_errors(modules: list[str]) -> dict[str, str]:
    """The modules of ``modules`` that do not import here: ``{module: missing module}``.

    Only a missing module is reported (what a ``pip install`` fixes); any other error
    raised while importing is left for the node that needs the module to show.
    """
    import importlib

    missing: dict[str, str] = {}
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            missing[module] = exc.name or module
        except Exception:  # any other error: the node that imports the module shows it
            continue
    return missing
