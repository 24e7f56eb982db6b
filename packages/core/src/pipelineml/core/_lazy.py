"""Package attributes imported on first use (PEP 562), shared by pipelineml's packages."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str, sources: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose names load on first use.

    Example:
        ```python
        __getattr__, __dir__ = lazy_attributes(__name__, {"Runner": "pkg.runner"})
        ```

    Args:
        package: The package's ``__name__``.
        sources: ``{attribute: module defining it}``.

    Returns:
        ``__getattr__`` imports the module of a listed name, stores the value in the
        package (later look-ups skip it) and returns it; other names raise AttributeError.
        ``__dir__`` lists the package's names with the ones not loaded yet.
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        module = sources.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *sources})

    return __getattr__, __dir__
