"""Runs with hooks (kedro run) log Kedro-style progress at INFO; in-memory runs stay silent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node

from pipelineml.runners import SequentialRunner, ThreadRunner, run_in_memory
from tests._support.kedro_project import make_kedro_project, run_kedro_cli
from tests._support.runners import make_hook_manager


def _add_one(x: int) -> int:
    return x + 1


def _double(x: int) -> int:
    return x * 2


def _total(a: int, b: int) -> int:
    return a + b


def diamond() -> Pipeline:
    """a -> b, a -> c, (b, c) -> d."""
    return Pipeline(
        [
            node(_add_one, "a", "b", name="left"),
            node(_double, "a", "c", name="right"),
            node(_total, ["b", "c"], "d", name="join"),
        ]
    )


RUNNERS: dict[str, Callable[[], Any]] = {
    "sequential": SequentialRunner,
    "sequential-async": lambda: SequentialRunner(is_async=True),
    "thread": lambda: ThreadRunner(max_workers=3),
}


def _ours(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("pipelineml.runners")]


@pytest.mark.parametrize("kind", sorted(RUNNERS))
def test_run_with_hooks_logs_each_node_and_the_end(
    kind: str, caplog: pytest.LogCaptureFixture, closing: Any
) -> None:
    """A run given a hook manager, as KedroSession gives one, logs progress lines at INFO."""
    runner = closing(RUNNERS[kind]())
    caplog.set_level(logging.INFO, logger="pipelineml.runners")
    catalog = DataCatalog({"a": MemoryDataset(1)})
    runner.run(diamond(), catalog, hook_manager=make_hook_manager())
    lines = _ours(caplog)
    assert [line for line in lines if line.startswith("Completed ") and "tasks" in line] == [
        "Completed 1 out of 3 tasks",
        "Completed 2 out of 3 tasks",
        "Completed 3 out of 3 tasks",
    ]
    assert sorted(line for line in lines if line.startswith("Completed node: ")) == [
        "Completed node: join",
        "Completed node: left",
        "Completed node: right",
    ]
    assert lines[-1].startswith("Pipeline execution completed successfully in ")
    assert lines.index("Completed node: join") > lines.index("Completed node: left")
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "pipelineml.runners")


@pytest.mark.parametrize("kind", sorted(RUNNERS))
def test_in_memory_runs_log_nothing_above_debug(
    kind: str, caplog: pytest.LogCaptureFixture, closing: Any
) -> None:
    """The paths models score with log nothing above DEBUG, even with INFO enabled."""
    runner = closing(RUNNERS[kind]())
    caplog.set_level(logging.DEBUG)
    assert runner.run_in_memory(diamond(), {"a": 1}) == {"d": 4}
    assert run_in_memory(diamond(), {"a": 1}) == {"d": 4}
    loud = [(r.name, r.getMessage()) for r in caplog.records if r.levelno > logging.DEBUG]
    assert loud == []


@pytest.mark.parametrize("kind", sorted(RUNNERS))
def test_runs_without_hooks_log_no_progress(
    kind: str, caplog: pytest.LogCaptureFixture, closing: Any
) -> None:
    """A catalog run without a hook manager logs no progress line above DEBUG."""
    runner = closing(RUNNERS[kind]())
    caplog.set_level(logging.DEBUG)
    runner.run(diamond(), DataCatalog({"a": MemoryDataset(1)}))
    ours = [r for r in caplog.records if r.name.startswith("pipelineml.runners")]
    assert ours, "the DEBUG lines are still there for whoever enables them"
    assert [r.getMessage() for r in ours if r.levelno > logging.DEBUG] == []


def test_failed_run_does_not_claim_success(caplog: pytest.LogCaptureFixture) -> None:
    """A node that raises stops the count and no completion line is logged."""

    def boom(x: int) -> int:
        raise RuntimeError("no")

    pipeline = Pipeline([node(_add_one, "a", "b", name="first"), node(boom, "b", "c", name="bad")])
    caplog.set_level(logging.INFO, logger="pipelineml.runners")
    with pytest.raises(RuntimeError, match="no"):
        SequentialRunner().run(
            pipeline, DataCatalog({"a": MemoryDataset(1)}), hook_manager=make_hook_manager()
        )
    lines = _ours(caplog)
    assert "Completed 1 out of 2 tasks" in lines
    assert not any("completed successfully" in line for line in lines)


@pytest.mark.slow
def test_kedro_run_shows_progress_with_kedro_default_logging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kedro run --runner=pipelineml.runners.ThreadRunner`, no logging.yml: progress shows."""
    monkeypatch.setenv("COLUMNS", "200")  # Kedro's rich handler wraps to the terminal width
    project = make_kedro_project(
        tmp_path / "project",
        nodes_py=(
            "def make():\n    return 1\n\n"
            "def add_one(x):\n    return x + 1\n\n"
            "def double(x):\n    return x * 2\n"
        ),
        pipeline_registry_py=(
            "from kedro.pipeline import Pipeline, node\n"
            "from .nodes import add_one, double, make\n\n"
            "def register_pipelines():\n"
            "    return {'__default__': Pipeline([\n"
            "        node(make, None, 'a', name='make'),\n"
            "        node(add_one, 'a', 'b', name='add_one'),\n"
            "        node(double, 'b', 'c', name='double'),\n"
            "    ])}\n"
        ),
    )
    done = run_kedro_cli(project, "run", "--runner=pipelineml.runners.ThreadRunner")
    assert done.returncode == 0, done.stdout + done.stderr
    output = " ".join((done.stdout + done.stderr).split())
    assert "Completed 3 out of 3 tasks" in output
    assert "Pipeline execution completed successfully in" in output
