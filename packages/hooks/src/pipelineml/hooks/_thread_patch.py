"""Replace a function of another library for the current thread only, while a block runs.

MLflow offers no hook for some of what logging a model needs (a different requirement
policy, requests served by a waiting interpreter), so pipelineml replaces one of its
functions while it logs. The replacement is installed once, process-wide, for as long as
any thread needs it, and dispatches to the override of the calling thread: other threads
(another model logged at the same time by other code) keep MLflow's own behaviour.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

# An override receives MLflow's original function first, then the call's arguments.
Override = Callable[..., Any]


class ThreadPatch:
    """``owner.attribute`` replaced by a per-thread override while ``override()`` blocks run."""

    def __init__(self, owner: Any, attribute: str) -> None:
        """Prepare the patch; nothing is replaced until ``override`` is entered."""
        self._owner = owner
        self._attribute = attribute
        self._lock = threading.Lock()
        self._depth = 0
        self._original: Any = None
        self._current = threading.local()

    @property
    def available(self) -> bool:
        """Whether the attribute exists and is callable (MLflow's internals may change)."""
        return callable(getattr(self._owner, self._attribute, None))

    def _dispatch(self, *args: Any, **kwargs: Any) -> Any:
        override: Override | None = getattr(self._current, "override", None)
        if override is None:
            return self._original(*args, **kwargs)
        return override(self._original, *args, **kwargs)

    @contextlib.contextmanager
    def override(self, function: Override) -> Iterator[None]:
        """While in this block, this thread's calls of the attribute go to ``function``."""
        with self._lock:
            if self._depth == 0:
                self._original = getattr(self._owner, self._attribute)
                original = self._original

                @functools.wraps(original)
                def dispatch(*args: Any, **kwargs: Any) -> Any:
                    return self._dispatch(*args, **kwargs)

                setattr(self._owner, self._attribute, dispatch)
            self._depth += 1
        previous = getattr(self._current, "override", None)
        self._current.override = function
        try:
            yield
        finally:
            self._current.override = previous
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    setattr(self._owner, self._attribute, self._original)
