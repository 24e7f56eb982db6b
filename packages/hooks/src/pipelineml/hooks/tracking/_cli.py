"""``kedro pipelineml init | ui | modelify``: Kedro project commands.

Kedro adds the click group of every ``kedro.project_commands`` entry point to its CLI
inside a project; ``cli`` holds one group, ``pipelineml``. Each command gets the project's
``ProjectMetadata`` from Kedro (``click.pass_obj``), the project already bootstrapped.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipelineml.hooks.tracking._config import DEFAULT_CONFIG

if TYPE_CHECKING:
    from kedro.framework.startup import ProjectMetadata

__all__ = ["cli", "mlflow_yml_template"]

# One comment per key of DEFAULT_CONFIG, written above it by `init`.
_COMMENTS: dict[str, str] = {
    "server": "Where MLflow keeps runs and models.",
    "server.tracking_uri": (
        "The tracking store. null: $MLFLOW_TRACKING_URI, else sqlite:///<project>/mlflow.db."
    ),
    "server.registry_uri": "The model registry. null: $MLFLOW_REGISTRY_URI, else tracking_uri.",
    "tracking": "What a kedro run records.",
    "tracking.disable_tracking": "Pipelines whose runs are not tracked.",
    "tracking.disable_tracking.pipelines": "Pipeline names, e.g. [data_processing].",
    "tracking.experiment": "The experiment runs go to.",
    "tracking.experiment.name": "null: the project's package name.",
    "tracking.run": "The MLflow run of each kedro run.",
    "tracking.run.name": "null: the names of the pipelines run.",
    "tracking.run.nested": (
        "With an MLflow run already active: true opens a child run, false logs into it."
    ),
    "tracking.params": "The parameters a run consumes, logged as MLflow params.",
    "tracking.params.flatten": "true logs a dict parameter as one param per leaf.",
    "tracking.params.sep": "The separator of flattened names (model.C).",
    "tracking.params.long_params_strategy": (
        "A value longer than MLflow accepts: fail, tag (log it as a tag) or truncate."
    ),
    "tracking.model": "The model of each PipelineML trained.",
    "tracking.model.prepare_requirements": (
        "Start, with the run, the interpreter that records what the model imports."
    ),
    "tracking.model.on_failure": (
        "A requested model that cannot be logged: fail (the run FAILED, exit 1) or warn."
    ),
}


def _yaml_scalar(value: Any) -> str:
    import yaml  # type: ignore[import-untyped, unused-ignore]

    text: str = yaml.safe_dump(value, default_flow_style=True).strip()
    return text.removesuffix("\n...").strip()


def _render(section: dict[str, Any], path: str, depth: int, lines: list[str]) -> None:
    indent = "  " * depth
    for key, value in section.items():
        where = f"{path}.{key}" if path else key
        lines.append(f"{indent}# {_COMMENTS[where]}")
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            _render(value, where, depth + 1, lines)
        else:
            lines.append(f"{indent}{key}: {_yaml_scalar(value)}")


def mlflow_yml_template() -> str:
    """``mlflow.yml`` with every key at its default, each with a comment."""
    lines = [
        "# pipelineml's MLflow settings, every key at its default (written by",
        "# `kedro pipelineml init`; every key is optional: delete what you do not change).",
    ]
    _render(DEFAULT_CONFIG, "", 0, lines)
    return "\n".join(lines) + "\n"


def _conf_source(metadata: ProjectMetadata) -> Path:
    from kedro.framework.project import settings

    source = Path(str(settings.CONF_SOURCE))
    return source if source.is_absolute() else Path(metadata.project_path) / source


@click.group(name="pipelineml")
def cli() -> None:
    """The Kedro project commands of pipelineml-hooks."""


@cli.group(name="pipelineml")
def pipelineml() -> None:
    """Track this project in MLflow: write mlflow.yml, open MLflow's UI, log a model."""


@pipelineml.command()
@click.option(
    "--env",
    "-e",
    default="base",
    show_default=True,
    help="The configuration environment to write mlflow.yml into (conf/<env>/).",
)
@click.option("--force", "-f", is_flag=True, help="Overwrite an existing mlflow.yml.")
@click.pass_obj
def init(metadata: ProjectMetadata, env: str, force: bool) -> None:
    """Write conf/<env>/mlflow.yml with every key at its default, commented."""
    if not env or Path(env).name != env or env in {".", ".."}:
        raise click.BadParameter(
            f"{env!r} is not an environment name (a folder of conf/, e.g. base or local).",
            param_hint="--env",
        )
    target = _conf_source(metadata) / env / "mlflow.yml"
    shown = (
        target.relative_to(metadata.project_path)
        if target.is_relative_to(metadata.project_path)
        else target
    )
    if target.exists() and not force:
        raise click.ClickException(
            f"{shown} already exists and was left unchanged. Pass --force to overwrite it "
            "with the defaults."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(mlflow_yml_template(), encoding="utf-8")
    click.echo(f"Wrote {shown}: every key of mlflow.yml at its default.")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pipelineml.command()
@click.option("--env", "-e", default=None, help="The configuration environment to read.")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to bind.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_obj
def ui(metadata: ProjectMetadata, env: str | None, host: str, port: int) -> None:
    """Serve MLflow's UI on the project's tracking and registry stores (mlflow.yml)."""
    from kedro.framework.session import KedroSession

    from pipelineml.hooks._stores import user_uri_environ
    from pipelineml.hooks.tracking._conf_files import read_mlflow_yml
    from pipelineml.hooks.tracking._config import parse_config

    project_path = Path(metadata.project_path)
    session = KedroSession.create(project_path=project_path, env=env)
    with session:
        loader = session.load_context().config_loader
        config = parse_config(read_mlflow_yml(loader))
    environ = user_uri_environ()
    tracking_uri = config.resolved_tracking_uri(project_path, environ)
    registry_uri = config.resolved_registry_uri(project_path, environ)
    if tracking_uri.split(":", 1)[0] in {"http", "https", "databricks"}:
        raise click.ClickException(
            f"The project tracks to the server {tracking_uri}, which serves MLflow's UI "
            "itself: open it in a browser. `kedro pipelineml ui` serves a store of files or "
            "a database (server.tracking_uri in mlflow.yml)."
        )
    if not _is_loopback(host):
        click.echo(
            f"Warning: MLflow's UI has no authentication; anyone reaching {host}:{port} can "
            "read and change these runs and models.",
            err=True,
        )
    click.echo(
        f"MLflow UI on http://{host}:{port} (tracking {tracking_uri}, registry {registry_uri})"
    )
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        tracking_uri,
        "--registry-store-uri",
        registry_uri,
        "--host",
        host,
        "--port",
        str(port),
        # One user's UI: uvicorn's default of four workers is four processes for nothing.
        "--workers",
        "1",
    ]
    try:
        code = subprocess.call(command, cwd=project_path)
    except KeyboardInterrupt:
        code = 0
    if code:
        raise click.exceptions.Exit(code)


@pipelineml.command()
@click.option("--pipeline", "-p", "pipeline_name", required=True, help="A PipelineML's name.")
@click.option("--env", "-e", default=None, help="The configuration environment to read.")
@click.option("--input-name", default=None, help="Replaces the PipelineML's input_name.")
@click.option(
    "--registered-model-name", default=None, help="Also register the model under this name."
)
@click.pass_obj
def modelify(
    metadata: ProjectMetadata,
    pipeline_name: str,
    env: str | None,
    input_name: str | None,
    registered_model_name: str | None,
) -> None:
    """Log a PipelineML's inference pipeline from the artifacts on disk, in a new run.

    No node runs. The same pre-flight as a training run checks the artifacts first.
    """
    from pipelineml.hooks.tracking._modelify import modelify as log_from_disk

    log_from_disk(
        Path(metadata.project_path),
        pipeline_name,
        env=env,
        input_name=input_name,
        registered_model_name=registered_model_name,
    )
