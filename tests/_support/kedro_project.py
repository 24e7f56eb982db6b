"""Generate real Kedro 1.x projects on disk and run them in-process or through the CLI.

A generated project is a complete Kedro project (``pyproject.toml`` with ``[tool.kedro]``,
``src/<package>``, ``conf/base``, ``conf/local``) that runs without being installed:

* ``bootstrap_project(root)`` reads ``[tool.kedro]`` from ``root/pyproject.toml``, puts
  ``root/<source_dir>`` first on ``sys.path`` (and on ``os.environ["PYTHONPATH"]``) and calls
  ``configure_project(package_name)``; ``KedroSession.create(project_path=root)`` then loads
  ``conf/`` and the package's ``settings.py`` and ``pipeline_registry.py``.
* ``python -m kedro run`` with ``cwd=root`` finds the project by looking for a
  ``pyproject.toml`` containing ``[tool.kedro]`` in the working directory and its parents, and
  bootstraps it the same way; no ``PYTHONPATH`` is required (``kedro_cli_env`` sets one anyway
  for anything else started with that environment).

Kedro keeps per-process global state, which matters when one pytest process runs several
projects:

* ``kedro.framework.project.PACKAGE_NAME``, ``settings`` and ``pipelines`` describe the last
  project configured. ``configure_project`` resets them (the ``pipelines`` cache is emptied
  and re-read from ``<package>.pipeline_registry`` on next access), so sequential runs of
  different projects are fine.
* Modules stay in ``sys.modules``: a second project with the same package name would get the
  first one's ``nodes`` and ``pipeline_registry`` from the import cache, and ``sys.path``
  keeps every ``src`` bootstrapped so far (the first one wins). Hence ``make_kedro_project``
  gives every project a unique package name by default (``unique_package_name``), and
  ``run_in_session`` moves the project's ``src`` to the front of ``sys.path`` and forgets
  cached modules of the same package name that come from another directory. Modules of the
  project being run are kept, so functions pickled during one run still unpickle after it.
* Importing ``kedro.framework.project``, and ``configure_project`` the first time it sees a
  package name, apply Kedro's logging configuration (``logging.config.dictConfig``), which
  replaces the root logger's handlers (pytest's ``caplog`` handler among them) with Kedro's
  ``RichHandler``. This module imports ``kedro.framework.project`` when it is imported and
  ``run_in_session`` wraps ``configure_project``, both putting the previous root handlers
  back, so ``caplog`` sees the run's records. A test module importing
  ``kedro.framework.project`` before this module still installs Kedro's handler for the
  whole session (harmless: pytest adds its own handlers to each test).
* ``run_in_session`` changes the working directory to the project root while it runs, as
  ``kedro run`` would have it, so it must not run concurrently with code relying on the
  working directory.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import keyword
import logging
import os
import subprocess
import sys
import textwrap
import tomllib
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

# types-PyYAML may or may not be installed; either way this import is fine.
import yaml  # type: ignore[import-untyped, unused-ignore]

from tests._support.net import stop_process
from tests._support.process import interpreter, subprocess_env

__all__ = [
    "KEDRO_VERSION",
    "PIPELINEML_INFO_LOGGING",
    "SKLEARN_CATALOG",
    "SKLEARN_NODES_PY",
    "SKLEARN_PARAMETERS",
    "installed_plugin_hooks",
    "kedro_cli_env",
    "make_kedro_project",
    "make_sklearn_project",
    "run_in_session",
    "run_kedro_cli",
    "settings_py_without_plugin_hooks",
    "sklearn_registry_py",
    "unique_package_name",
]


@contextlib.contextmanager
def _keep_interpreter_hooks() -> Iterator[None]:
    """Undo what Kedro's logging set-up does to process-wide hooks.

    Importing ``kedro.framework.project`` and ``configure_project`` (for each new package
    name) call ``logging.config.dictConfig`` with Kedro's configuration: the root logger's
    handlers are replaced by a ``kedro.logging.RichHandler``, which also installs rich's
    ``sys.excepthook`` and ``sys.displayhook`` and routes warnings to logging
    (``logging.captureWarnings(True)``). Under pytest that removes the handlers ``caplog``
    and live logging attach for the test, so records logged during and after the run would
    be missed, and warnings would bypass pytest's recorder. All of it is put back.
    """
    root_logger = logging.getLogger()
    handlers = list(root_logger.handlers)
    level = root_logger.level
    excepthook, displayhook = sys.excepthook, sys.displayhook
    showwarning = warnings.showwarning
    try:
        yield
    finally:
        if warnings.showwarning is not showwarning:
            logging.captureWarnings(False)
            warnings.showwarning = showwarning
        for handler in list(root_logger.handlers):
            if handler not in handlers:
                root_logger.removeHandler(handler)
        for handler in handlers:
            if handler not in root_logger.handlers:
                root_logger.addHandler(handler)
        root_logger.setLevel(level)
        sys.excepthook, sys.displayhook = excepthook, displayhook


def _kedro_version() -> str:
    from kedro import __version__

    return str(__version__)


#: The installed Kedro version, written as ``kedro_init_version`` (Kedro refuses a project
#: whose major version differs from its own).
KEDRO_VERSION = _kedro_version()

# Importing kedro.framework.project applies Kedro's logging configuration, once per process.
# Doing it here, undone at once, makes a later first import inside a test (which would
# detach pytest's log handlers for that test) a no-op.
with _keep_interpreter_hooks():
    importlib.import_module("kedro.framework.project")

_DEFAULT_PREFIX = "demo_project"
_DEFAULT_SETTINGS_PY = '"""Project settings: Kedro\'s defaults."""\n'
_DATA_LAYERS = (
    "01_raw",
    "02_intermediate",
    "03_primary",
    "04_feature",
    "05_model_input",
    "06_models",
    "07_model_output",
    "08_reporting",
)


def unique_package_name(prefix: str = _DEFAULT_PREFIX) -> str:
    """Return ``<prefix>_<8 hex digits>``, a package name no other generated project uses.

    Args:
        prefix: Start of the name; must itself be a valid Python identifier.

    Returns:
        The package name.

    Raises:
        ValueError: When ``prefix`` is not a valid Python identifier.
    """
    _check_identifier(prefix, "prefix")
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _check_identifier(name: str, what: str) -> None:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(
            f"Invalid {what}: {name!r}. It must be a valid Python identifier that is not a "
            "keyword, e.g. 'demo_project'."
        )


def _toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string.
    return json.dumps(value)


def _pyproject_toml(package_name: str) -> str:
    name = _toml_string(package_name)
    project_name = _toml_string(package_name.replace("_", " ").title())
    return textwrap.dedent(
        f"""\
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = {name}
        version = "0.1.0"
        requires-python = ">=3.10"
        dependencies = []

        [tool.setuptools.packages.find]
        where = ["src"]
        namespaces = false

        [tool.kedro]
        package_name = {name}
        project_name = {project_name}
        kedro_init_version = {_toml_string(KEDRO_VERSION)}
        source_dir = "src"
        """
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _dump_yaml(data: Mapping[str, Any] | None) -> str:
    return str(yaml.safe_dump(dict(data or {}), sort_keys=False))


def _inside(root: Path, relative: str, what: str) -> Path:
    candidate = Path(relative)
    target = (root / candidate).resolve()
    if candidate.is_absolute() or not target.is_relative_to(root.resolve()):
        raise ValueError(
            f"Invalid {what}: {relative!r}. Paths must be relative and stay inside the "
            f"project root {root}, e.g. 'conf/local/credentials.yml'."
        )
    return target


#: conf/logging.yml with the lines docs/configuration.md gives: Kedro's and pipelineml's INFO
#: (pipelineml's progress lines and messages show), on Kedro's rich handler.
PIPELINEML_INFO_LOGGING = """\
version: 1
disable_existing_loggers: false
handlers:
  rich:
    class: kedro.logging.RichHandler
    rich_tracebacks: true
loggers:
  kedro:
    level: INFO
  pipelineml:
    level: INFO
root:
  handlers: [rich]
"""


def make_kedro_project(
    root: Path,
    package_name: str | None = None,
    *,
    nodes_py: str,
    pipeline_registry_py: str,
    catalog: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    settings_py: str | None = None,
    extra_conf: Mapping[str, Mapping[str, Any]] | None = None,
    extra_files: Mapping[str, str] | None = None,
) -> Path:
    """Write a Kedro 1.x project under ``root`` and return ``root``.

    The project holds ``pyproject.toml`` (``[tool.kedro]`` plus a minimal setuptools
    ``[project]``, so ``pip install -e root`` works too), ``.telemetry`` (consent false),
    ``src/<package>/{__init__,nodes,pipeline_registry,settings}.py``,
    ``conf/base/{catalog,parameters}.yml``, ``conf/local/.gitkeep`` and the empty
    ``data/0X_*`` layer directories. ``pipeline_registry.py`` can import the nodes with
    ``from .nodes import ...``, which does not depend on the package name.

    Args:
        root: Project root; created if missing.
        package_name: Python package name; ``None`` gives a unique one
            (``unique_package_name()``), which keeps Kedro's per-process caches apart
            when several projects run in one pytest process (see the module docstring).
        nodes_py: Source of ``src/<package>/nodes.py``.
        pipeline_registry_py: Source of ``src/<package>/pipeline_registry.py``; it must
            define ``register_pipelines()``.
        catalog: Content of ``conf/base/catalog.yml``; empty when omitted.
        parameters: Content of ``conf/base/parameters.yml``; empty when omitted.
        settings_py: Source of ``src/<package>/settings.py``; Kedro's defaults when omitted.
        extra_conf: More configuration files for ``conf/base``, by file name (e.g.
            ``{"mlflow.yml": {...}}``), dumped as YAML.
        extra_files: More files by path relative to ``root``, written last (they may
            replace any file above).

    Returns:
        ``root``.

    Raises:
        ValueError: When ``package_name`` is not a Python identifier, or an extra file or
            configuration name points outside the project.
    """
    package_name = package_name or unique_package_name()
    _check_identifier(package_name, "package_name")
    root.mkdir(parents=True, exist_ok=True)
    package_dir = root / "src" / package_name

    _write(root / "pyproject.toml", _pyproject_toml(package_name))
    # Belt and braces with KEDRO_DISABLE_TELEMETRY: kedro-telemetry reads this file too.
    _write(root / ".telemetry", "consent: false\n")
    _write(
        package_dir / "__init__.py",
        f'"""{package_name}: a Kedro project generated for a test."""\n\n__version__ = "0.1.0"\n',
    )
    _write(package_dir / "nodes.py", nodes_py)
    _write(package_dir / "pipeline_registry.py", pipeline_registry_py)
    _write(package_dir / "settings.py", settings_py or _DEFAULT_SETTINGS_PY)
    _write(root / "conf" / "base" / "catalog.yml", _dump_yaml(catalog))
    _write(root / "conf" / "base" / "parameters.yml", _dump_yaml(parameters))
    _write(root / "conf" / "local" / ".gitkeep", "")
    for layer in _DATA_LAYERS:
        (root / "data" / layer).mkdir(parents=True, exist_ok=True)
    for name, content in (extra_conf or {}).items():
        _write(_inside(root / "conf" / "base", name, "extra_conf name"), _dump_yaml(content))
    for relative, text in (extra_files or {}).items():
        _write(_inside(root, relative, "extra_files path"), text)
    return root


def installed_plugin_hooks() -> list[str]:
    """Return the distributions whose Kedro hooks every session here registers on its own.

    Kedro registers the hooks of every ``kedro.hooks`` entry point in the environment
    (``kedro-telemetry``, ``pipelineml-hooks`` once installed, ...) in each session, unless
    ``settings.DISABLE_HOOKS_FOR_PLUGINS`` names the distribution.

    Returns:
        Distribution names, sorted, as Kedro matches them.
    """
    from importlib.metadata import entry_points

    names = set()
    for entry_point in entry_points(group="kedro.hooks"):
        if entry_point.dist is not None:
            names.add(str(entry_point.dist.metadata["Name"]))
    return sorted(names)


def settings_py_without_plugin_hooks(body: str = "") -> str:
    """Return a ``settings.py`` disabling every auto-registered plugin hook, then ``body``.

    For tests that must not depend on which Kedro plugins the environment holds; hooks
    under test are registered explicitly in ``body`` (an import and ``HOOKS = (MyHook(),)``).
    The plugin list is read when this is called, from the running interpreter's
    environment.

    Args:
        body: More ``settings.py`` source, appended.

    Returns:
        The module source.
    """
    return (
        '"""Project settings: no auto-registered plugin hooks."""\n\n'
        f"DISABLE_HOOKS_FOR_PLUGINS = {tuple(installed_plugin_hooks())!r}\n"
        + (f"\n{body}" if body else "")
    )


def _project_package(root: Path) -> tuple[str, Path]:
    with (root / "pyproject.toml").open("rb") as stream:
        kedro_table = tomllib.load(stream)["tool"]["kedro"]
    source_dir = (root / kedro_table.get("source_dir", "src")).resolve()
    return str(kedro_table["package_name"]), source_dir


def _module_dir(module: Any) -> Path | None:
    locations = list(getattr(module, "__path__", []) or [])
    file = getattr(module, "__file__", None)
    if file:
        locations.append(os.path.dirname(file))
    return Path(locations[0]).resolve() if locations else None


def _forget_other_copies(package_name: str, source_dir: Path) -> None:
    """Drop cached modules named like the project's package but imported from elsewhere."""
    top = sys.modules.get(package_name)
    if top is None:
        return
    location = _module_dir(top)
    if location is not None and location.is_relative_to(source_dir):
        return
    for name in list(sys.modules):
        if name == package_name or name.startswith(f"{package_name}."):
            del sys.modules[name]
    importlib.invalidate_caches()


_MLFLOW_VARIABLES = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_RUN_ID",
)


@contextlib.contextmanager
def _project_process_state(root: Path) -> Iterator[None]:
    """Prepare sys.path/sys.modules for ``root`` and restore cwd and PYTHONPATH after."""
    package_name, source_dir = _project_package(root)
    _forget_other_copies(package_name, source_dir)
    # bootstrap_project only inserts src when absent; an older copy further up would win.
    with contextlib.suppress(ValueError):
        sys.path.remove(os.fspath(source_dir))
    sys.path.insert(0, os.fspath(source_dir))
    saved_pythonpath = os.environ.get("PYTHONPATH")
    # The hook's mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI (and the registry's):
    # left set, the `kedro run` subprocesses of later tests would track to this project.
    saved_mlflow = {name: os.environ.get(name) for name in _MLFLOW_VARIABLES}
    try:
        with contextlib.chdir(root):
            yield
    finally:
        for name, value in saved_mlflow.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        # bootstrap_project prepends src to PYTHONPATH for subprocesses of the run; it must
        # not leak into subprocesses that later tests start.
        if saved_pythonpath is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved_pythonpath


def run_in_session(
    root: Path,
    pipeline_names: list[str] | None = None,
    runner: Any = None,
    env: str | None = None,
    extra_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Bootstrap the project at ``root`` and run it in this process with a ``KedroSession``.

    Equivalent to ``kedro run`` in ``root`` (the working directory is ``root`` during the
    run), but in-process, so hooks, runners and datasets under test run where pytest can
    see them. See the module docstring for the process-wide state this touches.

    Args:
        root: The project root.
        pipeline_names: Pipelines to run; ``None`` runs ``__default__``.
        runner: A runner instance; ``None`` means Kedro's ``SequentialRunner``.
        env: Configuration environment (``conf/<env>``); ``None`` means ``local``.
        extra_params: Runtime parameters overriding ``parameters.yml`` (like
            ``kedro run --params``).

    Returns:
        What ``KedroSession.run`` returns: the pipeline's output datasets by name.
    """
    root = root.resolve()
    with _project_process_state(root):
        with _keep_interpreter_hooks():
            from kedro.framework.session import KedroSession
            from kedro.framework.startup import bootstrap_project

            bootstrap_project(root)
        # Not `with KedroSession.create(...) as session`: __enter__ is typed as returning
        # AbstractSession, whose run() lacks these arguments.
        session = KedroSession.create(project_path=root, env=env, runtime_params=extra_params)
        with session:
            result: dict[str, Any] = session.run(pipeline_names=pipeline_names, runner=runner)
    return result


def kedro_cli_env(root: Path, python: Path | None = None) -> dict[str, str]:
    """Return the environment for running the Kedro CLI of the project at ``root``.

    ``python -m kedro run`` needs no ``PYTHONPATH``: run with ``cwd=root``, Kedro finds
    ``pyproject.toml`` and puts ``src`` on ``sys.path`` itself. ``PYTHONPATH`` is set to
    ``root/src`` anyway (ahead of any inherited value) so that other commands started with
    this environment (``python -c``, ``mlflow models serve`` of a model that unpickles the
    project's functions) import the project's package too. Telemetry is off and the
    interpreter's ``bin`` directory is first on ``PATH``.

    Args:
        root: The project root.
        python: The interpreter; defaults to ``sys.executable``.

    Returns:
        The complete environment.
    """
    _, source_dir = _project_package(root.resolve())
    inherited = os.environ.get("PYTHONPATH")
    pythonpath = os.fspath(source_dir) + (os.pathsep + inherited if inherited else "")
    return subprocess_env(python, {"PYTHONPATH": pythonpath})


def run_kedro_cli(
    root: Path,
    *args: str,
    python: Path | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``<python> -m kedro <args>`` in ``root`` and capture its output.

    The exit code is not checked; assert on ``returncode`` and show ``stdout``/``stderr``
    on failure. The command runs in its own process group, stopped as a whole on timeout.

    Args:
        root: The project root (the working directory of the command).
        *args: Arguments after ``kedro``, e.g. ``"run", "--pipeline", "training"``.
        python: The interpreter; defaults to ``sys.executable``.
        timeout: Seconds before the command is stopped.

    Returns:
        The completed process, with text ``stdout`` and ``stderr``.

    Raises:
        subprocess.TimeoutExpired: When the command runs longer than ``timeout``; it
            carries the output so far.
    """
    command = [os.fspath(interpreter(python)), "-m", "kedro", *args]
    with subprocess.Popen(
        command,
        cwd=root,
        env=kedro_cli_env(root, python),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process(proc)
            stdout, stderr = proc.communicate()
            raise subprocess.TimeoutExpired(command, timeout, stdout, stderr) from None
        except BaseException:
            stop_process(proc)
            raise
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


# --- A small real ML project: scaler + logistic regression on scikit-learn's bundled data.

#: ``nodes.py`` of the scikit-learn example: ``make_data`` (bundled breast-cancer data, four
#: features and ``target``), ``fit_scaler`` (``StandardScaler``), ``fit_model``
#: (``LogisticRegression``) and ``predict(instances, scaler, model, threshold)`` returning a
#: DataFrame with ``score`` (probability of class 1) and ``prediction`` (0/1).
SKLEARN_NODES_PY = '''\
"""Nodes of the generated demo project: a scaled logistic regression."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

FEATURES = ["mean_radius", "mean_texture", "mean_smoothness", "mean_compactness"]
TARGET = "target"


def make_data(n_rows: int, seed: int) -> pd.DataFrame:
    """Sample rows of scikit-learn's bundled breast-cancer data (no download)."""
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [str(column).replace(" ", "_") for column in frame.columns]
    frame = frame.loc[:, [*FEATURES, TARGET]]
    if n_rows < len(frame):
        frame = frame.sample(n=n_rows, random_state=seed)
    return frame.reset_index(drop=True)


def fit_scaler(data: pd.DataFrame) -> StandardScaler:
    """Fit a scaler on the feature columns."""
    return StandardScaler().fit(data.loc[:, FEATURES])


def fit_model(
    data: pd.DataFrame, scaler: StandardScaler, model_options: dict[str, Any]
) -> LogisticRegression:
    """Fit a logistic regression on the scaled features."""
    features = scaler.transform(data.loc[:, FEATURES])
    return LogisticRegression(**model_options).fit(features, data[TARGET])


def predict(
    instances: pd.DataFrame,
    scaler: StandardScaler,
    model: LogisticRegression,
    threshold: float,
) -> pd.DataFrame:
    """Score instances (extra columns such as the target are ignored)."""
    scores = model.predict_proba(scaler.transform(instances.loc[:, FEATURES]))[:, 1]
    return pd.DataFrame(
        {"score": scores, "prediction": (scores >= threshold).astype(int)},
        index=instances.index,
    )
'''

#: Catalog of the scikit-learn example. ``instances`` reads the file ``raw_data`` is saved
#: to, so ``inference`` can run right after ``training`` on real rows.
SKLEARN_CATALOG: Mapping[str, Mapping[str, str]] = {
    "raw_data": {"type": "pandas.CSVDataset", "filepath": "data/01_raw/raw_data.csv"},
    "instances": {"type": "pandas.CSVDataset", "filepath": "data/01_raw/raw_data.csv"},
    "scaler": {"type": "pickle.PickleDataset", "filepath": "data/06_models/scaler.pkl"},
    "model": {"type": "pickle.PickleDataset", "filepath": "data/06_models/model.pkl"},
    "predictions": {
        "type": "pandas.CSVDataset",
        "filepath": "data/07_model_output/predictions.csv",
    },
}

#: Parameters of the scikit-learn example.
SKLEARN_PARAMETERS: Mapping[str, Any] = {
    "n_rows": 200,
    "seed": 42,
    "threshold": 0.5,
    "model_options": {"C": 1.0, "max_iter": 200},
}

_SKLEARN_REGISTRY_HEAD = '''\
"""Pipelines of the generated demo project."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node
{extra_import}
from .nodes import fit_model, fit_scaler, make_data, predict


def create_pipeline() -> Pipeline:
    """One modular pipeline; its nodes are tagged "training" or "inference"."""
    return Pipeline(
        [
            node(
                make_data,
                ["params:n_rows", "params:seed"],
                "raw_data",
                name="make_data",
                tags="training",
            ),
            node(fit_scaler, "raw_data", "scaler", name="fit_scaler", tags="training"),
            node(
                fit_model,
                ["raw_data", "scaler", "params:model_options"],
                "model",
                name="fit_model",
                tags="training",
            ),
            node(
                predict,
                ["instances", "scaler", "model", "params:threshold"],
                "predictions",
                name="predict",
                tags="inference",
            ),
        ]
    )
'''

_SKLEARN_REGISTER_PIPELINE_ML = '''

def register_pipelines() -> dict[str, Pipeline]:
    """Register a PipelineML "training" carrying "inference"; training is the default."""
    ds_pipeline = create_pipeline()
    training = pipeline_ml_factory(
        training=ds_pipeline.only_nodes_with_tags("training"),
        inference=ds_pipeline.only_nodes_with_tags("inference"),
        input_name="instances",
    )
    inference = ds_pipeline.only_nodes_with_tags("inference")
    return {"training": training, "inference": inference, "__default__": training}
'''

_SKLEARN_REGISTER_PLAIN = '''

def register_pipelines() -> dict[str, Pipeline]:
    """Register plain "training" and "inference" pipelines; training is the default."""
    ds_pipeline = create_pipeline()
    training = ds_pipeline.only_nodes_with_tags("training")
    inference = ds_pipeline.only_nodes_with_tags("inference")
    return {"training": training, "inference": inference, "__default__": training}
'''


def sklearn_registry_py(pipeline_ml: bool) -> str:
    """Return the ``pipeline_registry.py`` source of the scikit-learn example.

    Both variants register ``training`` (also ``__default__``) and ``inference``.
    ``__default__`` is not training + inference: ``instances`` reads the file that
    ``make_data`` writes, so they must run one after the other.

    Args:
        pipeline_ml: When true, ``training`` is ``pipeline_ml_factory(training=...,
            inference=..., input_name="instances")`` from ``pipelineml.core``; otherwise
            it is a plain ``Pipeline``.

    Returns:
        The module source.
    """
    if pipeline_ml:
        head = _SKLEARN_REGISTRY_HEAD.format(
            extra_import="\nfrom pipelineml.core import pipeline_ml_factory\n"
        )
        return head + _SKLEARN_REGISTER_PIPELINE_ML
    return _SKLEARN_REGISTRY_HEAD.format(extra_import="") + _SKLEARN_REGISTER_PLAIN


def make_sklearn_project(
    root: Path,
    *,
    pipeline_ml: bool = True,
    package_name: str | None = None,
    settings_py: str | None = None,
    extra_conf: Mapping[str, Mapping[str, Any]] | None = None,
    extra_files: Mapping[str, str] | None = None,
) -> Path:
    """Write the scikit-learn example project (``make_kedro_project`` with the constants).

    Args:
        root: Project root.
        pipeline_ml: Whether ``training`` is a ``PipelineML`` (see ``sklearn_registry_py``).
        package_name: Package name; unique when omitted.
        settings_py: Source of ``settings.py`` (e.g. registering hooks); Kedro's defaults
            when omitted.
        extra_conf: More configuration files for ``conf/base``, e.g. ``{"mlflow.yml": ...}``.
        extra_files: More files by path relative to ``root``.

    Returns:
        ``root``.
    """
    return make_kedro_project(
        root,
        package_name,
        nodes_py=SKLEARN_NODES_PY,
        pipeline_registry_py=sklearn_registry_py(pipeline_ml),
        catalog=SKLEARN_CATALOG,
        parameters=SKLEARN_PARAMETERS,
        settings_py=settings_py,
        extra_conf=extra_conf,
        extra_files=extra_files,
    )
