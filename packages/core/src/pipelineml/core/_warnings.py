"""Warnings that point at the caller's code, not at pipelineml's."""

from __future__ import annotations

import sys
import warnings

# Kedro's runners call PipelineML filters to word their "resume from" hint after a node
# failed; what they get back never reaches the user, so it must neither warn nor raise.
_KEDRO_RUNNERS = "kedro.runner."


def _caller() -> tuple[str, int]:
    """The module of the first frame outside pipelineml, and its stack level from here."""
    level = 2
    frame = sys._getframe(2)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(
        "pipelineml."
    ):
        frame = frame.f_back
        level += 1
    return frame.f_globals.get("__name__", ""), level


def called_by_kedro_runner() -> bool:
    """Whether the current pipelineml call comes from one of Kedro's runners."""
    return _caller()[0].startswith(_KEDRO_RUNNERS)


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first frame outside the pipelineml packages."""
    module, level = _caller()
    if module.startswith(_KEDRO_RUNNERS):
        return
    warnings.warn(message, category, stacklevel=level)
