"""Settings shared by every test: no telemetry, no network, nothing left in the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")

ROOT = Path(__file__).resolve().parents[1]
# What MLflow makes where it runs when nothing told it where to track (its default store,
# its default artifact root): a test that leaves one here ran MLflow from the checkout.
STRAYS = ("mlflow.db", "mlruns")
_BEFORE = pytest.StashKey[set[str]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.stash[_BEFORE] = {name for name in STRAYS if (ROOT / name).exists()}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.stash.get(_BEFORE, set())
    left = [name for name in STRAYS if (ROOT / name).exists() and name not in before]
    if left:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(
                f"The tests left {', '.join(left)} in the checkout ({ROOT}): a test ran "
                "MLflow there without a tracking URI or artifact location of its own.",
                red=True,
            )
