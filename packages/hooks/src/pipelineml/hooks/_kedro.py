"""Kedro project globals, typed."""

from __future__ import annotations


def package_name() -> str | None:
    """The package of the Kedro project configured in this process, if any."""
    from kedro.framework import project

    name: str | None = getattr(project, "PACKAGE_NAME", None)
    return name
