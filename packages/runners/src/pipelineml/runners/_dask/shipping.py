"""Make an external Dask cluster able to run pipelineml: its code sent, its libraries checked.

Tasks name pipelineml's functions by reference (``pipelineml.runners._dask.tasks.execute``),
and the scheduler unpickles the task graph, so both the scheduler and the workers import
pipelineml. Before any task, ``prepare_cluster``:

1. asks every worker and the scheduler for the versions of the third-party distributions
   pipelineml needs (derived from its wheels' declared requirements) and raises
   ``ProjectUploadError`` naming the process, what it lacks and the ``pip install`` line;
2. sends pipelineml's own code (the ``pipelineml`` folders of this machine, zipped, as a
   PEP 420 namespace package) where it is missing or older, as distributed's
   ``UploadFile`` worker plugin and ``SchedulerUploadFile`` scheduler plugin (what
   ``Client.upload_file`` does);
3. sends the Kedro project's package (``upload``);
4. imports the modules of the nodes to run on the workers, and names the distribution
   of any module they lack.

The probes of steps 1 and 4 are sent by value (``cluster_probe``): they run where
pipelineml is not installed.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
import re
import sys
import tempfile
import weakref
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipelineml.runners._dask import cluster_probe
from pipelineml.runners._dask.upload import ship_project_package
from pipelineml.runners.errors import ProjectUploadError

logger = logging.getLogger("pipelineml.runners.dask")

# What DaskRunner's tasks import; batch_predict adds "pipelineml-hooks[dask]".
RUNNER_DISTRIBUTIONS = ("pipelineml-runners[dask]",)
_PORTIONS = ("pipelineml.core", "pipelineml.runners", "pipelineml.hooks")
_PLUGIN = "pipelineml-upload-pipelineml"
# What prepare_cluster already did for a client (requirement sets, module sets checked).
_prepared: weakref.WeakKeyDictionary[Any, set[Any]] = weakref.WeakKeyDictionary()
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def required_distributions(roots: Iterable[str]) -> list[str]:
    """The third-party distributions ``roots`` (``"name[extra]"``) need, by their metadata.

    pipelineml's own distributions are followed (their code is sent, not required); of a
    third-party distribution, only the requirements its requested extras add are.
    """
    found: set[str] = set()
    seen: set[tuple[str, tuple[str, ...]]] = set()
    todo = [_split(root) for root in roots]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        own = name.startswith("pipelineml-")
        if not own:
            found.add(name)
            if not extras:
                continue
        try:
            requirements = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for line in requirements:
            spec, _, marker = line.partition(";")
            wanted = re.findall(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
            if wanted:
                if not set(wanted) & set(extras):
                    continue
            elif marker.strip() or not own:
                # A platform marker, or a third-party base requirement: installed with it.
                continue
            todo.append(_split(spec))
    return sorted(found)


def _split(text: str) -> tuple[str, tuple[str, ...]]:
    match = _REQUIREMENT.match(text)
    if match is None:
        return _normal(text), ()
    extras = tuple(e.strip() for e in (match.group(2) or "").split(",") if e.strip())
    return _normal(match.group(1)), extras


def _local_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _install_line(names: Iterable[str]) -> str:
    pins = []
    for name in names:
        local = _local_version(name)
        pins.append(f"{name}=={local}" if local else name)
    return "pip install " + " ".join(pins)


def _code_files() -> list[tuple[Path, str]]:
    """pipelineml's files on this machine, with their names inside the zip."""
    import pipelineml

    files: list[tuple[Path, str]] = []
    taken: set[str] = set()
    for location in pipelineml.__path__:
        root = Path(location)
        for portion in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "__pycache__"):
            # The first folder of a name is the one Python imports (a namespace package's
            # path can list the same portion twice: an editable install and PYTHONPATH).
            if portion.name in taken:
                continue
            taken.add(portion.name)
            for path in sorted(portion.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    files.append((path, f"pipelineml/{path.relative_to(root).as_posix()}"))
    return sorted(files, key=lambda item: item[1])


def _digest(files: list[tuple[Path, str]]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for path, name in files:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _write_zip(archive: Path, files: list[tuple[Path, str]]) -> None:
    # zipimport finds a folder without __init__.py (a namespace package) only from its
    # own entry in the zip, which ZipFile.write of the files alone does not add.
    folders = sorted({str(Path(name).parent) for _, name in files})
    folders = sorted({p for f in folders for p in _parents(f)})
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for folder in folders:
            zipped.writestr(f"{folder}/", b"")
        for path, name in files:
            zipped.write(path, name)


def _parents(folder: str) -> list[str]:
    parts = folder.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _probe(client: Any, distributions: list[str], marker: str) -> dict[str, dict[str, Any]]:
    import cloudpickle

    portions = [p for p in _PORTIONS if p in sys.modules or _local_portion(p)]
    cloudpickle.register_pickle_by_value(cluster_probe)
    try:
        states: dict[str, dict[str, Any]] = dict(
            client.run(cluster_probe.environment, distributions, portions, marker)
        )
        states["scheduler"] = client.run_on_scheduler(
            cluster_probe.environment, distributions, portions, marker
        )
    finally:
        cloudpickle.unregister_pickle_by_value(cluster_probe)
    return states


def _local_portion(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _check_versions(states: dict[str, dict[str, Any]]) -> None:
    lacking = {
        where: sorted(name for name, found in state["versions"].items() if found is None)
        for where, state in states.items()
    }
    lacking = {where: names for where, names in lacking.items() if names}
    if not lacking:
        return
    names = sorted({n for found in lacking.values() for n in found})
    places = "; ".join(
        f"{'the scheduler' if where == 'scheduler' else 'worker ' + where} lacks {', '.join(found)}"
        for where, found in sorted(lacking.items())
    )
    raise ProjectUploadError(
        f"The Dask cluster lacks libraries pipelineml needs ({places}). pipelineml sends "
        "its own code and the Kedro project's package, not third-party libraries: in the "
        f"environment of the scheduler and of every worker, run: {_install_line(names)}"
    )


def _send_code(client: Any, states: dict[str, dict[str, Any]], marker: str, files: Any) -> None:
    from distributed.diagnostics.plugin import SchedulerUploadFile, UploadFile

    with tempfile.TemporaryDirectory(prefix="pipelineml-upload-") as folder:
        archive = Path(folder) / marker
        _write_zip(archive, files)
        try:
            if states["scheduler"]["pipelineml"] != "ready":
                client.register_plugin(
                    SchedulerUploadFile(os.fspath(archive), load=True), name=_PLUGIN
                )
            # Workers joining later get the code too, from the plugin.
            client.register_plugin(UploadFile(os.fspath(archive), load=True), name=_PLUGIN)
        except Exception as exc:
            with contextlib.suppress(Exception):
                client.unregister_worker_plugin(_PLUGIN)
            raise ProjectUploadError(
                "pipelineml could not send its own code to the Dask cluster: "
                f"{type(exc).__name__}: {exc}. Install pipelineml-runners (and, for "
                "batch_predict, pipelineml-hooks) in the workers' environment instead."
            ) from exc


def _check_imports(client: Any, modules: list[str]) -> None:
    import cloudpickle

    if not modules:
        return
    cloudpickle.register_pickle_by_value(cluster_probe)
    try:
        errors: dict[str, dict[str, str]] = client.run(cluster_probe.import_errors, modules)
    finally:
        cloudpickle.unregister_pickle_by_value(cluster_probe)
    lacking = {where: found for where, found in errors.items() if found}
    if not lacking:
        return
    owners = importlib.metadata.packages_distributions()
    missing = sorted({m for found in lacking.values() for m in found.values()})
    known = sorted(
        {owners[m.partition(".")[0]][0] for m in missing if m.partition(".")[0] in owners}
    )
    unknown = [m for m in missing if m.partition(".")[0] not in owners]
    places = "; ".join(
        f"worker {where}: "
        + ", ".join(f"No module named {name!r}" for name in sorted(set(found.values())))
        + f" (imported by {', '.join(sorted(found))})"
        for where, found in sorted(lacking.items())
    )
    fixes = [f"run {_install_line(known)}"] if known else []
    if unknown:
        fixes.append(f"install or put on PYTHONPATH {', '.join(unknown)}")
    raise ProjectUploadError(
        f"The Dask workers cannot import what the pipeline's nodes import ({places}); no "
        "node ran. DaskRunner sends pipelineml's code and the Kedro project's own package "
        "to external workers; every other module a node uses must be installed in the "
        f"workers' environment: {' and '.join(fixes)}."
    )


def prepare_cluster(
    client: Any,
    package: str | None = None,
    modules: Iterable[str | None] = (),
    distributions: Iterable[str] = RUNNER_DISTRIBUTIONS,
) -> None:
    """Check an external cluster's libraries and send it pipelineml's and the project's code.

    Args:
        client: A connected ``distributed.Client``.
        package: The Kedro project's package, sent as ``ship_project_package`` does.
        modules: The modules of the nodes to run, imported on every worker first.
        distributions: What to derive the third-party requirements from.

    Raises:
        ProjectUploadError: A worker or the scheduler lacks a library (named, with the
            ``pip install`` line), or the code could not be sent.
    """
    # Once per client and requirement set: a plugin registered on the scheduler reaches
    # the workers that join later, and each probe costs a round trip to every process,
    # which a chain of fused nodes would otherwise pay on every run (figure 10).
    prepared = _prepared.setdefault(client, set())
    wanted = frozenset(distributions)
    if wanted not in prepared:
        files = _code_files()
        marker = f"pipelineml-{_digest(files)}.zip"
        states = _probe(client, required_distributions(wanted), marker)
        _check_versions(states)
        if any(state["pipelineml"] != "ready" for state in states.values()):
            _send_code(client, states, marker, files)
            logger.info("Sent pipelineml's code to the Dask cluster (%s)", marker)
        prepared.add(wanted)
    # Every run: the project's code may have changed since the last one.
    ship_project_package(client, package)
    imported = frozenset(m for m in modules if m)
    if imported and ("modules", imported) not in prepared:
        _check_imports(client, sorted(imported))
        prepared.add(("modules", imported))
