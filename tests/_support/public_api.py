"""A package's documented public surface, read from its API reference page.

``docs/reference/<name>.md`` documents each public name with a mkdocstrings directive,
``::: pipelineml.<name>.Thing`` or, for a name re-exported from the module that defines it,
``::: pipelineml.<name>.<module>.Thing``. The names a package exports are the ones such a
directive documents and that the package itself exposes under the same name; the
``test_public_api.py`` of each package compares them with its ``__all__``.

Imports nothing but the package asked about, so it works where only ``pipelineml-core`` is
installed.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

__all__ = ["documented_exports", "namespace_exports"]

ROOT = Path(__file__).resolve().parents[2]

_DIRECTIVE = re.compile(r"^::: (pipelineml\.[\w.]+)\s*$", re.MULTILINE)

# What `from __future__ import annotations`, `typing` and the lazy-import helper leave in a
# package's namespace: names of the import machinery, not of the API.
_IMPORT_MACHINERY = frozenset({"annotations", "TYPE_CHECKING", "Any", "lazy_attributes"})

_MISSING = object()


def _resolve(path: str) -> Any:
    """The object a dotted ``module.attribute`` path names (the longest importable module)."""
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            value: Any = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            value = getattr(value, attribute)
        return value
    raise ModuleNotFoundError(path)


def documented_exports(package: str) -> set[str]:
    """The names ``package`` exposes that its reference page documents.

    Args:
        package: ``pipelineml.core``, ``pipelineml.runners`` or ``pipelineml.hooks``.

    Returns:
        The last component of every ``::: <path>`` directive of
        ``docs/reference/<name>.md`` whose object is also ``getattr(package, name)``.
    """
    module = importlib.import_module(package)
    page = ROOT / "docs" / "reference" / f"{package.rsplit('.', 1)[1]}.md"
    names = set()
    for path in _DIRECTIVE.findall(page.read_text(encoding="utf-8")):
        name = path.rsplit(".", 1)[1]
        if getattr(module, name, _MISSING) is _resolve(path):
            names.add(name)
    return names


def namespace_exports(package: str) -> set[str]:
    """Every public name of ``package``'s namespace, the lazily loaded ones included.

    Submodules and the import machinery (``annotations``, ``TYPE_CHECKING``...) are left out.
    """
    module = importlib.import_module(package)
    return {
        name
        for name in dir(module)
        if not name.startswith("_")
        and name not in _IMPORT_MACHINERY
        and not inspect.ismodule(getattr(module, name))
    }
