"""``resolve_runner``: runner instances from short names, never from import paths."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from pipelineml.core._names import did_you_mean
from pipelineml.runners.errors import UnknownRunnerError

if TYPE_CHECKING:
    from kedro.runner import AbstractRunner

__all__ = ["known_runners", "register_runner", "resolve_runner"]

RunnerFactory = Callable[[], "AbstractRunner"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_lock = threading.Lock()
_factories: dict[str, RunnerFactory] = {}


def register_runner(name: str, factory: RunnerFactory, *, replace: bool = False) -> None:
    """Make ``name`` resolve to ``factory()``.

    Example:
        ```python
        register_runner("FourThreads", lambda: ThreadRunner(max_workers=4))
        model.predict(df, params={"runner": "FourThreads"})
        ```

    Args:
        name: The short name callers will use (letters, digits, ``_`` and ``.``).
        factory: A callable with no arguments returning a new runner instance.
        replace: Allow replacing an existing registration.

    Raises:
        UnknownRunnerError: When ``name`` is malformed or already registered.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise UnknownRunnerError(
            f"Runner names are identifiers such as 'ThreadRunner', got {name!r}."
        )
    if not callable(factory):
        raise UnknownRunnerError(
            f"The factory for runner '{name}' must be callable, got {factory!r}."
        )
    with _lock:
        if name in _factories and not replace:
            raise UnknownRunnerError(
                f"A runner named '{name}' is already registered; pass replace=True to replace it."
            )
        _factories[name] = factory


def known_runners() -> list[str]:
    """The registered runner names, sorted."""
    with _lock:
        return sorted(_factories)


def resolve_runner(name_or_runner: str | AbstractRunner | None) -> AbstractRunner:
    """A runner instance from a registered name, or the instance itself.

    ``None`` gives a new ``SequentialRunner``. The names are looked up in a registry
    (``SequentialRunner``, ``ThreadRunner``, ``DaskRunner``, their
    ``pipelineml.runners.`` spellings, and names added with ``register_runner``); a string
    is never imported as a module path, so names coming from requests are safe.

    Raises:
        UnknownRunnerError: For an unknown name (listing the known ones, with a
            suggestion) or a value that is neither a name nor a runner instance.
    """
    value: object = "SequentialRunner" if name_or_runner is None else name_or_runner
    if not isinstance(value, str):
        # Imported here: kedro.runner configures Kedro's logging on import, and a name
        # resolves without it until its runner is built.
        from kedro.runner import AbstractRunner

        if isinstance(value, AbstractRunner):
            return value
    if isinstance(value, type):
        raise UnknownRunnerError(
            f"resolve_runner expects a runner instance or name, got the class "
            f"{value.__name__}; did you forget the ()?"
        )
    if not isinstance(value, str):
        raise UnknownRunnerError(
            "A runner must be a registered name or a kedro runner instance, got "
            f"{type(value).__name__} {value!r}."
        )
    with _lock:
        factory = _factories.get(value)
        names = sorted(_factories)
    if factory is None:
        raise UnknownRunnerError(
            f"Unknown runner {value!r}. Known runners: {', '.join(names)}."
            f"{did_you_mean(value, names)} "
            "Register others with pipelineml.runners.register_runner()."
        )
    runner = factory()
    from kedro.runner import AbstractRunner  # loaded by now: runners subclass it

    if not isinstance(runner, AbstractRunner):
        raise UnknownRunnerError(
            f"The factory registered for runner '{value}' returned "
            f"{type(runner).__name__}, not a kedro runner."
        )
    return runner


# Their public import path (pickles and tracebacks name them by it).
register_runner.__module__ = "pipelineml.runners"
known_runners.__module__ = "pipelineml.runners"
resolve_runner.__module__ = "pipelineml.runners"
