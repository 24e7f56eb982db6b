"""SIGINT and SIGTERM during a tracked run: end the MLflow run KILLED, then stop.

Kedro's session calls ``on_pipeline_error`` for ``Exception`` only: a ``KeyboardInterrupt``
(Ctrl-C) or the ``SystemExit`` of a SIGTERM handler leaves through ``session.run`` without
any hook being called, and SIGTERM's default action kills the process on the spot. So while
a run is tracked, ``InterruptGuard`` owns both signals:

* while nodes run (code that is not the hook's), the handler itself ends the MLflow run
  (in a helper thread, bounded in time, so that a lock the interrupted code holds cannot
  hang it), then raises;
* while the hook's own code runs (opening the run, logging the model), the handler only
  raises, and that code, which catches ``BaseException``, cleans up on its way out.

Either signal then raises ``RunInterrupted``, a ``SystemExit`` with the status a shell
reports for a process killed by it (128 + the signal's number: 130 for Ctrl-C, 143 for
SIGTERM). Not ``KeyboardInterrupt`` for Ctrl-C: Kedro's CLI (click) turns that into
"Aborted!" and status 1, where scripts and orchestrators look for 130. The previous
handlers are put back when the run ends. Signals can only be handled in the main thread:
a run started from another thread is not guarded.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)

CLEANUP_SECONDS = 15.0
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(SystemExit):
    """SIGINT or SIGTERM arrived during a tracked run (exit status 128 + signal number)."""


class InterruptGuard:
    """Handlers for SIGINT/SIGTERM installed for the duration of one tracked run."""

    def __init__(self, on_interrupt: Callable[[str], None]) -> None:
        """``on_interrupt(signal_name)`` ends the run; it is called at most once."""
        self._on_interrupt = on_interrupt
        self._previous: dict[int, Any] = {}
        self._deferred = 0
        self._pending: int | None = None
        self._protected = 0
        self.interrupted: str | None = None
        self._cleaned = False
        self._cleaning = False

    def install(self) -> None:
        """Take over SIGINT (unless ignored) and SIGTERM, from the main thread only."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in _SIGNALS:
            previous = signal.getsignal(signum)
            if previous == signal.SIG_IGN or previous is None:
                # Ignored on purpose (a background job's SIGINT) or set outside Python.
                continue
            self._previous[signum] = previous
            signal.signal(signum, self._handle)

    def restore(self) -> None:
        """Put back the handlers that were there before ``install`` (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                if signal.getsignal(signum) == self._handle:
                    signal.signal(signum, handler)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """A few statements no signal may split (opening the run and recording it).

        A SIGINT or SIGTERM arriving inside is handled when the block ends, so a run is
        never created without the hook knowing that it must end it. (Blocking the signal
        with ``pthread_sigmask`` would not do: the kernel delivers it to another thread.)
        """
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1
            pending, self._pending = self._pending, None
            if pending is not None and not self._deferred:
                self._handle(pending, None)

    @contextlib.contextmanager
    def protected(self) -> Iterator[None]:
        """A block of the hook's code that cleans up itself on ``BaseException``."""
        self._protected += 1
        try:
            yield
        finally:
            self._protected -= 1

    def cleanup(self) -> None:
        """Run ``on_interrupt`` once, from a thread, waiting at most ``CLEANUP_SECONDS``."""
        if self._cleaned or self.interrupted is None:
            return
        self._cleaned = True
        name = self.interrupted
        worker = threading.Thread(
            target=self._cleanup_quietly, args=(name,), name="pipelineml-interrupt", daemon=True
        )
        self._cleaning = True
        try:
            worker.start()
            worker.join(CLEANUP_SECONDS)
        finally:
            self._cleaning = False
        if worker.is_alive():
            logger.warning(
                "Ending the MLflow run after %s took more than %.0f s; stopping without it",
                name,
                CLEANUP_SECONDS,
            )

    def _cleanup_quietly(self, name: str) -> None:
        try:
            self._on_interrupt(name)
        except Exception as exc:  # the process is stopping: report, never mask the signal
            logger.warning("Could not end the MLflow run after %s: %s", name, exc)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self._deferred:
            self._pending = self._pending or signum
            return
        if self._cleaning:
            # Ending the run after the first signal: a second one must not cut it short.
            return
        if self.interrupted is None:
            self.interrupted = name
        previous = self._previous.get(signum)
        if not self._protected:
            self.cleanup()
            self.restore()
        if callable(previous) and previous is not signal.default_int_handler:
            previous(signum, frame)
        raise RunInterrupted(128 + signum)
