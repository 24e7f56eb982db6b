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


def test_logging_disabled_makes_no_record(closing: Any) -> None:
    """Under logging.disable(CRITICAL) a run with hooks hands no record to any handler."""
    seen: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = seen.append  # type: ignore[method-assign]
    ours = logging.getLogger("pipelineml")
    ours.addHandler(handler)
    ours.setLevel(logging.DEBUG)  # even a logger the user turned all the way up
    logging.disable(logging.CRITICAL)
    try:
        for kind in sorted(RUNNERS):
            closing(RUNNERS[kind]()).run(
                diamond(), DataCatalog({"a": MemoryDataset(1)}), hook_manager=make_hook_manager()
            )
    finally:
        logging.disable(logging.NOTSET)
        ours.removeHandler(handler)
        ours.setLevel(logging.NOTSET)
    assert seen == []


def test_a_level_above_info_silences_progress(caplog: pytest.LogCaptureFixture) -> None:
    """With pipelineml's loggers at WARNING (the user's setting), progress is not logged."""
    caplog.set_level(logging.WARNING, logger="pipelineml")
    SequentialRunner().run(
        diamond(), DataCatalog({"a": MemoryDataset(1)}), hook_manager=make_hook_manager()
    )
    assert _ours(caplog) == []


PROGRESS_NODES_PY = (
    "def make():\n    return 1\n\n"
    "def add_one(x):\n    return x + 1\n\n"
    "def double(x):\n    return x * 2\n"
)
PROGRESS_REGISTRY_PY = (
    "from kedro.pipeline import Pipeline, node\n"
    "from .nodes import add_one, double, make\n\n"
    "def register_pipelines():\n"
    "    return {'__default__': Pipeline([\n"
    "        node(make, None, 'a', name='make'),\n"
    "        node(add_one, 'a', 'b', name='add_one'),\n"
    "        node(double, 'b', 'c', name='double'),\n"
    "    ])}\n"
)


def _logging_yml(levels: dict[str, str], root: str | None = None) -> str:
    lines = [
        "version: 1",
        "disable_existing_loggers: false",
        "handlers:",
        "  console: {class: logging.StreamHandler, stream: ext://sys.stdout}",
        "loggers:",
        *(f"  {name}: {{level: {level}}}" for name, level in levels.items()),
        "root:",
        "  handlers: [console]",
    ]
    if root:
        lines.append(f"  level: {root}")
    return "\n".join(lines) + "\n"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("logging_yml", "shown"),
    [
        # Kedro's own default (no conf/logging.yml): INFO for kedro only.
        (None, False),
        # The lines docs/configuration.md gives: kedro's and pipelineml's INFO.
        (_logging_yml({"kedro": "INFO", "pipelineml": "INFO"}), True),
        # A user who wants errors only gets errors only.
        (_logging_yml({"kedro": "ERROR"}, root="ERROR"), False),
    ],
    ids=["kedro-default", "pipelineml-info", "errors-only"],
)
def test_kedro_run_progress_follows_the_project_logging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logging_yml: str | None, shown: bool
) -> None:
    """`kedro run --runner=pipelineml.runners.ThreadRunner` shows the progress lines exactly
    when the project's logging configuration enables pipelineml's INFO."""
    monkeypatch.setenv("COLUMNS", "200")  # Kedro's rich handler wraps to the terminal width
    project = make_kedro_project(
        tmp_path / "project",
        nodes_py=PROGRESS_NODES_PY,
        pipeline_registry_py=PROGRESS_REGISTRY_PY,
        extra_files={"conf/logging.yml": logging_yml} if logging_yml else None,
    )
    done = run_kedro_cli(project, "run", "--runner=pipelineml.runners.ThreadRunner")
    assert done.returncode == 0, done.stdout + done.stderr
    output = " ".join((done.stdout + done.stderr).split())
    assert ("Completed 3 out of 3 tasks" in output) is shown
    assert ("Pipeline execution completed successfully in" in output) is shown
    if logging_yml and "ERROR" in logging_yml:
        # Neither Kedro's INFO nor ours (MLflow configures its own loggers, and says so).
        assert "Running node" not in output, output
        assert "Completed" not in output, output
        assert "MLflow run" not in output, output
