"""Warnings that point at the caller's code, not at pipelineml's."""

from __future__ import annotations

import sys
import warnings


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first frame outside the pipelineml packages."""
    level = 2  # the caller of warn_user
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(
        "pipelineml."
    ):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
