"""resolve_runner and register_runner: runner instances from registered names, never imports."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import kedro.runner
import pytest

import pipelineml.runners.registry as registry_module
from pipelineml.runners import (
    DaskRunner,
    SequentialRunner,
    ThreadRunner,
    UnknownRunnerError,
    known_runners,
    register_runner,
    resolve_runner,
)

BUILTIN = [
    "DaskRunner",
    "SequentialRunner",
    "ThreadRunner",
    "pipelineml.runners.DaskRunner",
    "pipelineml.runners.SequentialRunner",
    "pipelineml.runners.ThreadRunner",
]


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by the test are undone afterwards (the module keeps a private dict)."""
    monkeypatch.setattr(registry_module, "_factories", dict(registry_module._factories))


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SequentialRunner", SequentialRunner),
        ("ThreadRunner", ThreadRunner),
        ("pipelineml.runners.SequentialRunner", SequentialRunner),
        ("pipelineml.runners.ThreadRunner", ThreadRunner),
    ],
)
def test_names_give_new_instances(name: str, expected: type) -> None:
    """A registered name gives a new instance of its runner class on every call."""
    with resolve_runner(name) as first, resolve_runner(name) as second:
        assert type(first) is expected
        assert first is not second


@pytest.mark.parametrize("name", ["DaskRunner", "pipelineml.runners.DaskRunner"])
def test_dask_runner_resolves_without_connecting(name: str) -> None:
    """'DaskRunner' gives a DaskRunner that is not connected and has not imported distributed."""
    had_distributed = "distributed" in sys.modules
    runner = resolve_runner(name)
    assert type(runner) is DaskRunner
    assert runner.connected is False
    assert ("distributed" in sys.modules) == had_distributed


def test_none_gives_a_sequential_runner() -> None:
    """resolve_runner(None) is a new SequentialRunner."""
    assert type(resolve_runner(None)) is SequentialRunner


@pytest.mark.parametrize(
    "runner",
    [SequentialRunner(copy_policy="assign"), kedro.runner.SequentialRunner()],
    ids=["ours", "kedro"],
)
def test_instances_pass_through(runner: kedro.runner.AbstractRunner) -> None:
    """A runner instance (ours or Kedro's) is returned as is."""
    assert resolve_runner(runner) is runner


@pytest.mark.parametrize("cls", [SequentialRunner, ThreadRunner, kedro.runner.SequentialRunner])
def test_classes_are_refused(cls: type) -> None:
    """A runner class instead of an instance is refused, pointing at the missing ()."""
    with pytest.raises(UnknownRunnerError, match=rf"got the class {cls.__name__}.*\(\)"):
        resolve_runner(cls)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [42, 1.5, ["ThreadRunner"], {"name": "ThreadRunner"}])
def test_other_values_are_refused(value: object) -> None:
    """Values that are neither names nor runner instances are refused, naming their type."""
    with pytest.raises(UnknownRunnerError, match=type(value).__name__):
        resolve_runner(value)  # type: ignore[arg-type]


def test_unknown_name_lists_known_names_and_suggests() -> None:
    """An unknown name lists the registered names and suggests the closest one."""
    with pytest.raises(UnknownRunnerError, match="Unknown runner 'ThredRunner'") as excinfo:
        resolve_runner("ThredRunner")
    message = str(excinfo.value)
    assert "Did you mean 'ThreadRunner'?" in message
    for name in BUILTIN:
        assert name in message


def test_an_unknown_runner_is_caught_where_value_errors_are() -> None:
    """Code that catches ValueError around runner names still catches an unknown one."""
    try:
        resolve_runner("NoSuchRunner")
    except ValueError as caught:
        message = str(caught)
    else:
        pytest.fail("an unknown runner name was accepted")
    assert message.startswith("Unknown runner 'NoSuchRunner'. Known runners: ")


@pytest.mark.parametrize(
    "name",
    ["os.system", "kedro.runner.SequentialRunner", "builtins.eval", "subprocess.Popen"],
)
def test_dotted_paths_are_refused_without_imports(name: str) -> None:
    """Import paths are not registered names: refused, and no module gets imported."""
    before = set(sys.modules)
    with pytest.raises(UnknownRunnerError, match=rf"Unknown runner '{name}'"):
        resolve_runner(name)
    assert set(sys.modules) - before == set()


def test_importable_module_is_never_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a dotted name pointing into an importable module does not import it."""
    module = _unique("runner_bait")
    marker = tmp_path / "imported"
    (tmp_path / f"{module}.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('yes')\n"
        "class Runner:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(UnknownRunnerError, match="Unknown runner"):
        resolve_runner(f"{module}.Runner")

    assert module not in sys.modules
    assert not marker.exists()


@pytest.mark.usefixtures("isolated_registry")
def test_register_runner_adds_a_name() -> None:
    """register_runner makes a new name resolve to what its factory returns, on every call."""
    name = _unique("FourThreads")
    register_runner(name, lambda: ThreadRunner(max_workers=4))

    assert name in known_runners()
    assert known_runners() == sorted(known_runners())
    runner = resolve_runner(name)
    assert type(runner) is ThreadRunner
    assert runner.max_workers == 4
    assert resolve_runner(name) is not runner


@pytest.mark.usefixtures("isolated_registry")
def test_duplicates_need_replace() -> None:
    """Registering an existing name is refused unless replace=True."""
    name = _unique("Mine")
    register_runner(name, SequentialRunner)
    with pytest.raises(UnknownRunnerError, match=rf"'{name}' is already registered.*replace=True"):
        register_runner(name, ThreadRunner)
    assert type(resolve_runner(name)) is SequentialRunner

    register_runner(name, lambda: ThreadRunner(max_workers=2), replace=True)
    assert type(resolve_runner(name)) is ThreadRunner


@pytest.mark.usefixtures("isolated_registry")
def test_builtin_names_are_protected() -> None:
    """Built-in names cannot be taken over without replace=True."""
    with pytest.raises(UnknownRunnerError, match="already registered"):
        register_runner("SequentialRunner", ThreadRunner)


@pytest.mark.parametrize(
    "name", ["", "1Runner", "my runner", "my-runner", "runner()", ".Runner", 42]
)
@pytest.mark.usefixtures("isolated_registry")
def test_malformed_names_are_refused(name: object) -> None:
    """Names must be identifiers (dots allowed); others are refused, quoting the name."""
    with pytest.raises(UnknownRunnerError, match=r"Runner names are identifiers"):
        register_runner(name, SequentialRunner)  # type: ignore[arg-type]
    assert name not in known_runners()


@pytest.mark.usefixtures("isolated_registry")
def test_factory_must_be_callable() -> None:
    """A factory that is not callable is refused at registration."""
    with pytest.raises(UnknownRunnerError, match="must be callable"):
        register_runner(_unique("Broken"), SequentialRunner())  # type: ignore[arg-type]


@pytest.mark.usefixtures("isolated_registry")
def test_factory_returning_a_non_runner_raises() -> None:
    """A factory returning something other than a Kedro runner fails when resolved, naming what it returned."""
    name = _unique("NotARunner")
    register_runner(name, dict)  # type: ignore[arg-type]
    with pytest.raises(
        UnknownRunnerError, match=rf"runner '{name}' returned dict, not a kedro runner"
    ):
        resolve_runner(name)
