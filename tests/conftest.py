"""Settings shared by every test: no telemetry, no network, nothing left in the checkout."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")

ROOT = Path(__file__).resolve().parents[1]
# What MLflow makes where it runs when nothing told it where to track (its default store,
# its default artifact root): a test that leaves one here ran MLflow from the checkout.
STRAYS = ("mlflow.db", "mlruns")
_AT_START = pytest.StashKey[set[str]]()
# The strays present at the start or already blamed on a test.
_BEFORE = pytest.StashKey[set[str]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    present = {name for name in STRAYS if (ROOT / name).exists()}
    session.stash[_AT_START] = present
    session.stash[_BEFORE] = set(present)


@pytest.fixture(autouse=True)
def _nothing_left_in_the_checkout(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test that made a stray, by name, rather than the whole session at its end."""
    yield
    known = request.session.stash.setdefault(_BEFORE, set())
    left = [name for name in STRAYS if name not in known and (ROOT / name).exists()]
    if left:
        # Reported once: the tests after this one did not make it.
        known.update(left)
        pytest.fail(
            f"{request.node.nodeid} left {', '.join(left)} in the checkout ({ROOT}): it ran "
            "MLflow there without a tracking URI or artifact location of its own.",
            pytrace=False,
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Against the start: a stray made by a fixture's teardown, after every test's own
    # check, fails the session too.
    before = session.stash.get(_AT_START, set())
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
