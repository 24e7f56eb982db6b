"""Before the first node: can the model's artifacts be read (or written) where they live?

An artifact the run does not save must already be there; one the run saves needs a
store that answers: its bucket (object stores) or its parent folder must exist. Remote
stores are asked in threads, each bounded in time, so a store that does not answer (an
endpoint down, a network that drops packets) fails the pre-flight within about
``STORE_SECONDS`` instead of hanging the run; no message carries a credential.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from pipelineml.core._artifact_files import scrub
from pipelineml.core.artifacts import InferenceArtifact, artifact_store, dataset_location

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol

#: How long the pre-flight waits for the remote stores of a run's artifacts (all at once).
STORE_SECONDS = 30.0

_CHECK = (
    "check the store's endpoint (the dataset's fs_args or credentials' client_kwargs), that "
    "the bucket exists, and the dataset's credentials in conf/local/credentials.yml"
)


def _there(fs: Any, path: str) -> bool:
    # info(), not exists(): some filesystems (s3fs) answer exists() with False when the
    # store cannot be reached at all; info() raises then, and FileNotFoundError only for
    # what is really missing.
    try:
        fs.info(path)
    except FileNotFoundError:
        return False
    return True


def _problem(artifact: InferenceArtifact, saved: bool, fs: Any) -> str | None:
    location = dataset_location(artifact)
    if saved:
        # Asking answers whether the store can be reached at all; only a bucket must exist
        # beforehand (other filesystems create the folders a dataset saves into).
        if not _there(fs, location.root) and location.bucketed:
            return (
                f"Inference input '{artifact.name}' is saved by this run at '{location.url}', "
                f"but '{location.root}' does not exist there: create it, or {_CHECK}."
            )
        return None
    if not _there(fs, location.path):
        return (
            f"Inference input '{artifact.name}' is not saved by this run and nothing is at "
            f"'{location.url}': run the pipeline that saves it first, or {_CHECK}."
        )
    return None


def store_problems(
    catalog: CatalogProtocol[Any, Any],
    artifacts: Mapping[str, InferenceArtifact],
    saved: Collection[str],
    timeout: float = STORE_SECONDS,
) -> dict[str, str]:
    """``{input name: problem}`` for the artifacts whose data cannot be read or written.

    Args:
        catalog: The run's catalog.
        artifacts: The described artifacts (``describe_artifacts``).
        saved: The datasets the run saves.
        timeout: Seconds the remote stores get, all together.
    """
    datasets = {n: a for n, a in artifacts.items() if a.kind == "dataset"}
    problems: dict[str, str] = {}
    remote = {}
    for name, artifact in datasets.items():
        if artifact.path is not None:
            if name not in saved and not artifact.path.exists():
                problems[name] = (
                    f"Inference input '{name}' is not saved by this run and nothing is at "
                    f"'{artifact.path}': run the pipeline that saves it first, or point its "
                    "catalog entry at the file."
                )
        else:
            remote[name] = artifact
    if not remote:
        return problems
    answers: dict[str, str | None] = {}
    threads = []
    for name, artifact in remote.items():

        def ask(name: str = name, artifact: InferenceArtifact = artifact) -> None:
            secrets: list[str] = []
            try:
                fs, secrets = artifact_store(catalog, name)
                answers[name] = _problem(artifact, name in saved, fs)
            except Exception as exc:
                reason = scrub(f"{type(exc).__name__}: {exc}", secrets)
                url = dataset_location(artifact).url
                answers[name] = (
                    f"Inference input '{name}' is kept at '{url}', whose store did not answer "
                    f"({(reason.splitlines() or [''])[0][:300]}): {_CHECK}."
                )

        thread = threading.Thread(target=ask, name=f"pipelineml-store-{name}", daemon=True)
        thread.start()
        threads.append((name, thread))
    # One deadline for all: a store that does not answer must not hold the run longer.
    deadline = threading.Event()
    timer = threading.Timer(timeout, deadline.set)
    timer.start()
    try:
        for name, thread in threads:
            while thread.is_alive() and not deadline.is_set():
                thread.join(0.05)
            if thread.is_alive():
                url = dataset_location(remote[name]).url
                problems[name] = (
                    f"Inference input '{name}' is kept at '{url}', whose store gave no answer "
                    f"within {timeout:g} s: {_CHECK}."
                )
            elif answers.get(name):
                problems[name] = str(answers[name])
    finally:
        timer.cancel()
    return problems
