"""Loading and scoring a model stays light: no kedro.runner, no Kedro logging set-up.

``kedro.runner`` imports ``kedro.framework.project``, which loads Kedro's settings and
configures logging; a model server has no use for either. Each check runs in a fresh
interpreter, since this test process has long imported everything.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from tests._support.process import interpreter, subprocess_env
from tests._support.toy_model import expected

REPO = Path(__file__).resolve().parents[3]

# Loads the model, scores with the default runner, then with a runner named in params;
# reports which heavy modules were imported at each point and whether logging changed.
PROBE = textwrap.dedent(
    """
    import json, logging, sys
    import mlflow.pyfunc
    import pandas as pd

    def heavy():
        return sorted(m for m in ("kedro.runner", "kedro.framework.project") if m in sys.modules)

    def state():
        # What Kedro's logging set-up would change: the root's handlers and level, and the
        # level of the loggers Kedro's configurations name.
        root = logging.getLogger()
        named = {n: logging.getLogger(n).level for n in ("kedro", sys.argv[2])}
        return (list(root.handlers), root.level, named)

    logging.basicConfig(level=logging.WARNING, format="host: %(message)s")
    before = state()
    model = mlflow.pyfunc.load_model(sys.argv[1])
    after_load = heavy()
    default = model.predict(pd.DataFrame({"x": [1.0, 8.0]}))
    after_predict = heavy()
    logging_unchanged = before == state()
    named = model.predict(pd.DataFrame({"x": [1.0, 8.0]}), params={"runner": "ThreadRunner"})
    logging_unchanged_by_request = before == state()
    print(json.dumps({
        "after_load": after_load,
        "after_predict": after_predict,
        "logging_unchanged": logging_unchanged,
        "after_named_runner": heavy(),
        "logging_unchanged_by_request": logging_unchanged_by_request,
        "default": default.to_dict(orient="list"),
        "named": named.to_dict(orient="list"),
    }))
    """
)


def _probe(script: str, *args: str, cwd: Path) -> dict[str, Any]:
    # Not from the checkout: loading a model, MLflow 3.11 makes its default store
    # (./mlflow.db) where it runs.
    done = subprocess.run(
        [str(interpreter()), "-c", script, *args],
        cwd=cwd,
        env=subprocess_env(extra={"PYTHONPATH": str(REPO)}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_loading_and_scoring_do_not_import_kedro_runner(logged_toy: Path, tmp_path: Path) -> None:
    """load_model + predict (toy model, default runner) import neither kedro.runner nor Kedro's settings."""
    # The host runs where a project's conf/logging.yml is, which Kedro would apply.
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "logging.yml").write_text(
        "version: 1\nloggers: {hostproject: {level: DEBUG}}\nroot: {level: DEBUG}\n"
    )
    result = _probe(PROBE, str(logged_toy), "hostproject", cwd=tmp_path)

    want = expected([1.0, 8.0]).to_dict(orient="list")
    assert result["default"] == want
    assert result["after_load"] == []
    assert result["after_predict"] == []
    assert result["logging_unchanged"] is True
    # A runner named in a request is built on demand: that one does need kedro.runner.
    assert result["named"] == want
    assert result["after_named_runner"] == ["kedro.framework.project", "kedro.runner"]
    # ...and importing it leaves the host's logging as the host set it (#22, finding 7).
    assert result["logging_unchanged_by_request"] is True


def test_runners_package_imports_runner_classes_on_first_use(tmp_path: Path) -> None:
    """`import pipelineml.runners` is light; each runner class arrives when first named."""
    script = textwrap.dedent(
        """
        import json, sys
        import pipelineml.runners as runners
        from kedro.pipeline import Pipeline, node

        report = {"on_import": "kedro.runner" in sys.modules}
        pipe = Pipeline([node(lambda v: v + 1, "a", "b", name="inc")])
        report["function"] = runners.run_in_memory(pipe, {"a": 1})
        report["after_function"] = "kedro.runner" in sys.modules
        report["listed"] = "ThreadRunner" in dir(runners)
        report["resolved"] = type(runners.resolve_runner("ThreadRunner")).__name__
        report["same_class"] = runners.resolve_runner(None).__class__ is runners.SequentialRunner
        report["after_runner"] = "kedro.runner" in sys.modules
        try:
            runners.NoSuchRunner
        except AttributeError as exc:
            report["missing"] = str(exc)
        print(json.dumps(report))
        """
    )
    result = _probe(script, cwd=tmp_path)

    assert result == {
        "on_import": False,
        "function": {"b": 2},
        "after_function": False,
        "listed": True,
        "resolved": "ThreadRunner",
        "same_class": True,
        "after_runner": True,
        "missing": "module 'pipelineml.runners' has no attribute 'NoSuchRunner'",
    }
