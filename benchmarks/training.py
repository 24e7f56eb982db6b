"""Figure 5 and the projects every figure uses: our example, its kedro-mlflow twin, no hook.

* ``ours``: a copy of ``examples/breast_cancer`` (pipelineml's hook through its entry point).
* ``kedro-mlflow``: the same project for kedro-mlflow 2.0.3, generated here: the same
  node and pipeline modules, data, parameters and catalog entries for the fitted objects,
  ``kedro_mlflow.pipeline.pipeline_ml_factory`` in the registry, ``mlflow.yml`` written by
  ``kedro mlflow init`` and the hook registered by kedro-mlflow's own entry point.
* ``no hook``: the copy of our example with pipelineml's hook disabled
  (``DISABLE_HOOKS_FOR_PLUGINS``), the baseline of the hooks' overhead.

Both plugin projects register the model as ``breast_cancer_classifier`` with an inferred
signature; metrics go to MLflow in ours (our MlflowMetricsDataset) and to a plain JSON file
in the others (kedro-mlflow's metrics datasets expect another format than ``evaluate``
returns, and the no-hook project has no MLflow at all).
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from _common import ROOT, Contender, env_int, log, ratio, stats, venv_env

EXAMPLE = ROOT / "examples" / "breast_cancer"
PACKAGE = "breast_cancer"
REGISTERED_MODEL = "breast_cancer_classifier"
TRAINING_TARGET = 1.0  # ours / kedro-mlflow's wall time

_OUR_METRICS = (
    "  type: pipelineml.hooks.MlflowMetricsDataset\n"
    "  filepath: data/08_reporting/metrics.json\n"
    "  prefix: test_\n"
)
_JSON_METRICS = "  type: json.JSONDataset\n  filepath: data/08_reporting/metrics.json\n"

_PEER_REGISTRY = '''"""The project's pipelines: ``training`` is kedro-mlflow's PipelineML."""

from kedro.pipeline import Pipeline
from kedro_mlflow.pipeline import pipeline_ml_factory

from breast_cancer.pipelines import classifier


def register_pipelines() -> dict[str, Pipeline]:
    """Register ``training``, ``inference`` and ``__default__`` (= training)."""
    model_pipeline = classifier.create_pipeline()
    training = pipeline_ml_factory(
        training=model_pipeline.only_nodes_with_tags("training"),
        inference=model_pipeline.only_nodes_with_tags("inference"),
        input_name="instances",
        log_model_kwargs={
            "name": "model",
            "registered_model_name": "breast_cancer_classifier",
            "signature": "auto",
        },
    )
    return {
        "training": training,
        "inference": model_pipeline.only_nodes_with_tags("inference"),
        "__default__": training,
    }
'''

_NO_HOOK_SETTINGS = '''"""Project settings: pipelineml's hook is disabled (the baseline)."""

DISABLE_HOOKS_FOR_PLUGINS = ("pipelineml-hooks",)
'''


def _ignore_generated(folder: str, names: list[str]) -> set[str]:
    ignored = {
        n
        for n in names
        if n in {"mlruns", "mlflow.db", "logs", "__pycache__", "tests", "demo.py"}
        or n.endswith(".egg-info")
    }
    if Path(folder).parent.name == "data":
        # Data written by earlier runs is not part of the project.
        ignored |= {n for n in names if n != ".gitkeep"}
    return ignored


def copy_example(destination: Path) -> Path:
    """A clean copy of the example project (no data, runs or logs)."""
    shutil.copytree(EXAMPLE, destination, ignore=_ignore_generated)
    (destination / "conf" / "local").mkdir(parents=True, exist_ok=True)
    return destination


def _use_json_metrics(project: Path) -> None:
    catalog = project / "conf" / "base" / "catalog.yml"
    text = catalog.read_text(encoding="utf-8")
    if _OUR_METRICS not in text:
        raise RuntimeError(f"unexpected metrics entry in {catalog}; update benchmarks/training.py")
    catalog.write_text(text.replace(_OUR_METRICS, _JSON_METRICS), encoding="utf-8")


def make_no_hook_project(destination: Path) -> Path:
    """Our example without pipelineml's hook, metrics to a JSON file: plain Kedro."""
    copy_example(destination)
    _use_json_metrics(destination)
    (destination / "conf" / "base" / "mlflow.yml").unlink()
    (destination / "src" / PACKAGE / "settings.py").write_text(_NO_HOOK_SETTINGS, "utf-8")
    return destination


_BATCH_CATALOG = "\n# Batch scoring:"


def _drop_batch_scoring(project: Path) -> None:
    # The batch-scoring entries name pipelineml's dataset and Dask's, which the peer
    # environment does not have; its training does not use them.
    catalog = project / "conf" / "base" / "catalog.yml"
    text = catalog.read_text(encoding="utf-8")
    if _BATCH_CATALOG not in text:
        raise RuntimeError(f"no batch-scoring block in {catalog}; update benchmarks/training.py")
    catalog.write_text(text.split(_BATCH_CATALOG, 1)[0] + "\n", encoding="utf-8")


def make_peer_project(destination: Path, peer_python: Path) -> Path:
    """The example rewritten for kedro-mlflow 2.0.3 (see the module docstring)."""
    copy_example(destination)
    _use_json_metrics(destination)
    _drop_batch_scoring(destination)
    (destination / "conf" / "base" / "mlflow.yml").unlink()
    package = destination / "src" / PACKAGE
    (package / "pipeline_registry.py").write_text(_PEER_REGISTRY, encoding="utf-8")
    (package / "settings.py").write_text(
        '"""Project settings: kedro-mlflow registers its hook through its entry point."""\n',
        encoding="utf-8",
    )
    logging_yml = destination / "conf" / "logging.yml"
    logging_yml.write_text(
        logging_yml.read_text(encoding="utf-8").replace("pipelineml:", "kedro_mlflow:"), "utf-8"
    )
    # kedro-mlflow's own configuration file, as its documentation has users create it.
    subprocess.run(
        [str(peer_python.parent / "kedro"), "mlflow", "init"],
        cwd=destination,
        env=venv_env(peer_python),
        check=True,
        capture_output=True,
    )
    mlflow_yml = destination / "conf" / "local" / "mlflow.yml"
    if not mlflow_yml.exists():
        raise RuntimeError(f"`kedro mlflow init` did not write {mlflow_yml}")
    # As in our example: dict parameters flattened (model.C, model.max_iter).
    text = re.sub(r"flatten: False", "flatten: True", mlflow_yml.read_text(encoding="utf-8"))
    mlflow_yml.write_text(text, encoding="utf-8")
    return destination


def tracking_uri(project: Path) -> str:
    """The SQLite store of a project (in its own folder)."""
    return f"sqlite:///{(project / 'mlflow.db').as_posix()}"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def train(contender: Contender, log_dir: Path, cpu: list[float] | None = None) -> float:
    """``kedro run --pipelines=training`` in the contender's project; its wall time.

    The CPU time of the run (its process and the children it waited for, such as MLflow's
    requirements inference) is appended to ``cpu`` when given.

    Raises:
        RuntimeError: When the run fails (its output is quoted).
    """
    log_path = log_dir / f"train-{contender.name}.log"
    env = venv_env(
        contender.python,
        {**contender.extra_env, "MLFLOW_TRACKING_URI": tracking_uri(contender.project)},
    )
    env.pop("PYTHONPATH", None)  # `kedro run` finds the project's src/ by itself
    with log_path.open("wb") as output:
        cpu_start = _children_cpu()
        start = time.perf_counter()
        proc = subprocess.run(
            [str(contender.python.parent / "kedro"), "run", "--pipelines=training"],
            cwd=contender.project,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
        elapsed = time.perf_counter() - start
        if cpu is not None:
            cpu.append(_children_cpu() - cpu_start)
    if proc.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        raise RuntimeError(f"training of {contender.name} failed:\n{tail}")
    return elapsed


def figure_training(
    contenders: list[Contender], baseline: Contender, workdir: Path, warmup: dict[str, float]
) -> dict[str, Any]:
    """Figure 5: wall time of ``kedro run --pipelines=training``, alternating projects."""
    ours, peer = contenders
    rounds = env_int("BENCH_TRAIN_ROUNDS", 6)
    everyone = [ours, peer, baseline]
    samples: dict[str, list[float]] = {c.name: [] for c in everyone}
    cpu: dict[str, list[float]] = {c.name: [] for c in everyone}
    for index in range(rounds):
        log(f"figure 5: round {index + 1}/{rounds}")
        shift = index % len(everyone)
        for contender in everyone[shift:] + everyone[:shift]:
            samples[contender.name].append(train(contender, workdir, cpu[contender.name]))
    results = {name: stats(values) for name, values in samples.items()}
    cpu_results = {name: stats(values) for name, values in cpu.items()}
    base = results[baseline.name]["median"]
    hook_overhead = {
        c.name: {
            "median": results[c.name]["median"] - base,
            "share_of_run": ratio(results[c.name]["median"] - base, results[c.name]["median"]),
        }
        for c in contenders
    }
    share = ratio(results[ours.name]["median"], results[peer.name]["median"])
    return {
        "id": "training",
        "title": "Training run wall time (kedro run --pipelines=training)",
        "target": "ours <= kedro-mlflow's",
        "method": (
            "`kedro run --pipelines=training` as a subprocess of the orchestrator, in a copy "
            "of each project, MLflow tracking in a SQLite file of the project; the first run "
            "of each project (which creates the database and trains the models the other "
            f"figures use) is a warm-up, not recorded. {rounds} runs per project, rotating "
            "the order. Both hooks run with their defaults (ours starts MLflow's "
            "requirement inference with the run: `tracking.model.prepare_requirements`). "
            "Hook overhead = run time - the no-hook project's run time. CPU time "
            "is user + system time of the run and of the subprocesses it waited for (MLflow "
            "infers a model's requirements in one)."
        ),
        "wall": results,
        # Less sensitive to other work on the machine than wall time; not the target.
        "cpu": cpu_results,
        "cpu_ratio": ratio(cpu_results[ours.name]["median"], cpu_results[peer.name]["median"]),
        "warmup": warmup,
        "hook_overhead": hook_overhead,
        "ratio": share,
        "target_ratio": TRAINING_TARGET,
        "met": share is not None and share <= TRAINING_TARGET,
    }
