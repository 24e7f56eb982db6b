"""The only task runner of the repository: `nox -l` lists the sessions."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import nox
from packaging.requirements import Requirement

ROOT = Path(__file__).parent
PACKAGES = ("core", "runners", "hooks")
EXAMPLE = ROOT / "examples" / "breast_cancer"

nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True

# No run should try to reach the network for telemetry.
QUIET_ENV = {
    "KEDRO_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "MLFLOW_ENABLE_TELEMETRY": "false",
    "PYTHONDONTWRITEBYTECODE": "1",
}

TEST_DEPS = (
    "pytest>=8",
    "pytest-timeout>=2.3",
    # tests/integration/test_deploy.py builds models' environments with MLflow's uv manager.
    "uv>=0.5",
    # tests/integration/test_packaging.py builds the wheels with the packages' build backend.
    "hatchling>=1.25",
    "scikit-learn>=1.5",
    "pandas>=2.2",
    "kedro-datasets[pandas-csvdataset,pickle-pickledataset,dask-parquetdataset]>=6",
    # tests/integration/test_remote_artifacts.py: a real S3 API on 127.0.0.1, reached by s3fs.
    "moto[server]>=5.0",
    "s3fs>=2024.6.0",
)
ALL_EDITABLE = (
    "-e",
    "packages/core",
    "-e",
    "packages/runners[dask]",
    "-e",
    "packages/hooks[dask]",
)


def _env(**extra: str) -> dict[str, str]:
    return {**QUIET_ENV, **extra}


@nox.session
def tests(session: nox.Session) -> None:
    """Install the three packages and the example (editable) and run the whole pytest suite.

    Extra arguments go to pytest: `nox -s tests -- -k core`.
    """
    session.install(*ALL_EDITABLE, "-e", "examples/breast_cancer", *TEST_DEPS)
    # The slowest tests are listed at the end, to keep an eye on the suite's time.
    session.run("pytest", "--durations=20", *session.posargs, env=_env())


def _lower_bounds() -> list[str]:
    """``name==X`` for every ``name>=X`` the three packages declare, extras included.

    Every requirement other than a sibling must have exactly one ``>=`` (a range with no
    lowest release cannot be tested at its lowest), the same in every package.
    """
    bounds: dict[str, str] = {}
    for package in PACKAGES:
        project = tomllib.loads((ROOT / "packages" / package / "pyproject.toml").read_text())
        declared = list(project["project"]["dependencies"])
        for extra in project["project"].get("optional-dependencies", {}).values():
            declared += extra
        for requirement in map(Requirement, declared):
            if requirement.name.startswith("pipelineml-"):
                continue  # siblings: the editable checkouts, pinned with ==
            lowest = [spec.version for spec in requirement.specifier if spec.operator == ">="]
            if len(lowest) != 1:
                raise ValueError(
                    f"packages/{package}: {requirement} needs one lower bound (>=) for "
                    "the compat session to test"
                )
            known = bounds.setdefault(requirement.name, lowest[0])
            if known != lowest[0]:
                raise ValueError(
                    f"{requirement.name} has two lower bounds, >={known} and >={lowest[0]}: "
                    "declare the same one in every pyproject.toml"
                )
    return [f"{name}=={version}" for name, version in sorted(bounds.items())]


@nox.session
@nox.parametrize("versions", ["lowest", "newest"])
def compat(session: nox.Session, versions: str) -> None:
    """The fast tests against the lowest and the newest versions our dependency ranges allow.

    ``lowest``: every ``name>=X`` in ``packages/*/pyproject.toml`` (extras included) is
    installed at exactly X through a constraints file, so a bound that cannot be installed
    fails here instead of being quietly raised (as ``--resolution lowest-direct`` would);
    everything else resolves to its newest release that fits. ``newest``: a fresh
    resolution of the newest releases (``--upgrade``, even in a reused venv).

    Only ``pytest -m "not slow"`` (3 to 5 minutes per leg, install included, on 2 busy
    cores): the slow tests (servers, clusters, subprocesses) already run on the newest
    versions in ``nox -s tests``, and both legs together must add at most ~12 minutes to
    ``.ci/run``. Extra arguments go to pytest:
    ``nox -s "compat(versions='lowest')" -- tests/hooks -x``.
    """
    session.install("uv>=0.5")
    python = Path(session.virtualenv.location, "bin", "python")
    install = ["uv", "pip", "install", "--python", os.fspath(python)]
    if versions == "lowest":
        constraints = Path(session.create_tmp(), "lowest.txt")
        bounds = _lower_bounds()
        constraints.write_text("\n".join(bounds) + "\n")
        session.log("lowest declared versions: " + ", ".join(bounds))
        install += ["--constraint", os.fspath(constraints)]
    else:
        install += ["--upgrade"]
    session.run(*install, *ALL_EDITABLE, "-e", "examples/breast_cancer", *TEST_DEPS)
    session.run(
        "python",
        "-c",
        "import importlib.metadata as m\n"
        f"names = {sorted(name.split('==')[0] for name in _lower_bounds())!r}\n"
        "print('versions under test:', ', '.join(f'{n} {m.version(n)}' for n in names))\n",
        env=_env(),
    )
    # The durations show what to mark slow when a leg grows past its budget.
    session.run(
        "pytest",
        "-m",
        "not slow",
        "--durations=10",
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env=_env(),
    )


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: train the example with MLflow tracking, score it, say how to serve it.

    Runs `kedro run --pipelines=training` in examples/breast_cancer (MLflow in a SQLite file
    there, SequentialRunner), then scores a sample with `mlflow models predict` and with
    `mlflow.pyfunc.load_model`, aliases the new version as the champion and runs the
    `batch_scoring` pipeline (1 M rows, Parquet to Parquet, on a LocalCluster). Safe to run
    again: each run adds a run and a model version.
    """
    # uv: the serve command the demo prints builds the model's environment with it.
    session.install(*ALL_EDITABLE, "-e", "examples/breast_cancer", "uv>=0.5")
    env = _env(MLFLOW_TRACKING_URI=f"sqlite:///{EXAMPLE.as_posix()}/mlflow.db")
    with session.chdir(EXAMPLE):
        session.run("kedro", "run", "--pipelines=training", env=env)
        session.run("python", "demo.py", env=env)


@nox.session
@nox.parametrize("install", ["core", "runners"])
def isolation(session: nox.Session, install: str) -> None:
    """Prove selective installs: core alone, and core + runners without the [dask] extra."""
    if install == "core":
        session.install("-e", "packages/core", "pytest>=8", "pytest-timeout>=2.3")
        absent = ("mlflow", "dask", "distributed")
        test_dir = "tests/core"
    else:
        session.install(
            "-e",
            "packages/core",
            "-e",
            "packages/runners",
            "pytest>=8",
            "pytest-timeout>=2.3",
            "pandas>=2.2",
            "kedro-datasets[pandas-csvdataset,pickle-pickledataset]>=6",
        )
        absent = ("mlflow", "dask", "distributed", "cloudpickle")
        test_dir = "tests/runners"
    session.run(
        "python",
        "-c",
        "import importlib.util, sys\n"
        f"absent = {absent!r}\n"
        "present = [m for m in absent if importlib.util.find_spec(m) is not None]\n"
        "assert not present, f'should not be installed here: {present}'\n"
        f"import pipelineml.{install}\n"
        f"print('pipelineml.{install} imports without', ', '.join(absent))\n",
        env=_env(),
    )
    session.run("pytest", test_dir, "-p", "no:cacheprovider", *session.posargs, env=_env())


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (check and format) and the dependency-direction contract (import-linter)."""
    session.install("ruff>=0.6", "import-linter>=2.1")
    session.install(
        "--no-deps", "-e", "packages/core", "-e", "packages/runners", "-e", "packages/hooks"
    )
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports", env=_env())


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the three packages."""
    session.install(*ALL_EDITABLE, "mypy>=1.11")
    session.run(
        "mypy",
        "packages/core/src/pipelineml",
        "packages/runners/src/pipelineml",
        "packages/hooks/src/pipelineml",
        env=_env(),
    )


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with warnings as errors."""
    session.install(
        *ALL_EDITABLE, "mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26"
    )
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", env=_env())


@nox.session
def build(session: nox.Session) -> None:
    """Wheels and sdists of the three packages into dist/."""
    session.install("build>=1.2")
    dist = ROOT / "dist"
    for package in PACKAGES:
        session.run("python", "-m", "build", f"packages/{package}", "--outdir", os.fspath(dist))


BENCH_PEER_ENV = ROOT / ".nox" / "bench-peer"
BENCH_LOCAL = (
    "packages/core",
    "packages/runners[dask]",
    "packages/hooks[dask]",
    "examples/breast_cancer",
)


@nox.session
def bench(session: nox.Session) -> None:
    """Side-by-side benchmarks against Kedro's runners and kedro-mlflow 2.0.3 (never in tests).

    Ours is installed from the packages as a user would (not editable); kedro-mlflow gets
    its own venv in .nox/bench-peer, pinned to the versions ours resolved. Writes
    benchmarks/results/latest.json, the results block of docs/benchmarks.md and its charts
    (docs/images/bench/; `python benchmarks/render.py` redraws both without measuring,
    with matplotlib installed). Settings
    are BENCH_* environment variables (benchmarks/README.md), e.g.
    `BENCH_SERVE_SECONDS=4 BENCH_FIGURES=1,2 nox -s bench` for a quick look.
    """
    session.install(
        *BENCH_LOCAL,
        "scikit-learn>=1.5",
        "pandas>=2.2",
        "kedro-datasets[pandas-csvdataset,pickle-pickledataset,dask-parquetdataset]>=6",
        "matplotlib>=3.8",  # the charts of docs/benchmarks.md (benchmarks/charts.py)
    )
    # A reused venv keeps the version number of our packages: reinstall today's sources.
    session.install("--force-reinstall", "--no-deps", *BENCH_LOCAL)
    session.run("python", "benchmarks/peer_env.py", os.fspath(BENCH_PEER_ENV), env=_env())
    session.run(
        "python",
        "benchmarks/run_all.py",
        "--peer-python",
        os.fspath(BENCH_PEER_ENV / "bin" / "python"),
        *session.posargs,
        env=_env(),
    )
