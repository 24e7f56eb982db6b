"""Package attributes imported on first use (PEP 562), shared by pipelineml's packages."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str, sources: Mapping[str, str], distribution: str | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose names load on first use.

    Example:
        ```python
        __getattr__, __dir__ = lazy_attributes(
            __name__, {"Runner": "pkg.runner"}, distribution="pkg-dist"
        )
        ```

    Args:
        package: The package's ``__name__``.
        sources: ``{attribute: module defining it}``.
        distribution: The distribution that installs ``package``; when given, the
            package's ``__version__`` is that distribution's installed version.

    Returns:
        ``__getattr__`` imports the module of a listed name, stores the value in the
        package (later look-ups skip it) and returns it; other names raise AttributeError.
        ``__dir__`` lists the package's names with the ones not loaded yet.
    """
    namespace = sys.modules[package].__dict__
    names = {*sources, "__version__"} if distribution is not None else set(sources)

    def __getattr__(name: str) -> Any:
        value: Any
        if name == "__version__" and distribution is not None:
            # Read from the installed metadata (one source: VERSION at the repository
            # root, written into the metadata at build time) on first use only: the first
            # look-up scans sys.path, which a process that only scores need not pay for.
            value = importlib.metadata.version(distribution)
        else:
            module = sources.get(name)
            if module is None:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __getattr__, __dir__
