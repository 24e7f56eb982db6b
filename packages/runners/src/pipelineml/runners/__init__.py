"""Kedro runners for pipelineml (no public names yet)."""

from __future__ import annotations

__all__: list[str] = []
