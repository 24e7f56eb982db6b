"""Fixtures of the runner tests (their helpers live in ``tests/_support/runners.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from tests._support.runners import managed

R = TypeVar("R")


@pytest.fixture
def closing() -> Iterator[Callable[[R], R]]:
    """Register runners (ours or Kedro's) to be closed when the test ends."""
    with contextlib.ExitStack() as stack:

        def track(runner: R) -> R:
            stack.enter_context(managed(runner))
            return runner

        yield track
