"""Where a persisted inference input's data lives, and copying it out through its own filesystem.

A dataset keeps its data at a ``filepath`` (or ``path``) on any filesystem fsspec reaches:
a local file or folder, ``s3://``, ``gs://``, ``abfs://``, ``memory://``... A versioned one
keeps each version at ``<filepath>/<version>/<file name>`` (Kedro's layout). At logging time
the data is copied with the dataset's own filesystem (its credentials and ``fs_args``), so
the model holds a local copy and never needs the store again; nothing secret is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractVersionedDataset
from kedro.io.core import DatasetError, get_protocol_and_path

from pipelineml.core._kedro import dataset_filesystem

LOCAL_PROTOCOLS = frozenset({"file", "local"})
# Filesystems whose first path component is a bucket (or container): the place a training
# run writes into must exist there.
_BUCKETED = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "oss", "r2"})
# The keys of a dataset configuration that say where its data is.
LOCATION_KEYS = ("filepath", "path")
# fs_args a local copy still needs (how a file is opened); the rest configure the store.
_OPEN_ARGS = ("open_args_load", "open_args_save")
_URL_USERINFO = re.compile(r"^([a-zA-Z][\w+.-]*://)[^/@]*@")


def location_key(config: Mapping[str, Any]) -> str | None:
    """The configuration key holding the dataset's location, if it has one."""
    for key in LOCATION_KEYS:
        value = config.get(key)
        if isinstance(value, str | Path) and str(value):
            return key
    return None


def redact(url: str) -> str:
    """``url`` without the user and password some URLs carry (``s3://key:secret@bucket``)."""
    return _URL_USERINFO.sub(r"\1", url)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***`` (messages of remote stores)."""
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# Credential keys whose values say where a store is, not how to get in: messages keep them.
_WHERE = re.compile(r"endpoint|url|region|host|port|profile|project|account_name", re.I)


def secret_values(credentials: Any) -> list[str]:
    """Every string inside a credentials mapping (nested ``client_kwargs`` included), but
    those that only say where the store is (an endpoint URL, a region)."""
    if isinstance(credentials, Mapping):
        return [
            value
            for key, inner in credentials.items()
            if not _WHERE.search(str(key))
            for value in secret_values(inner)
        ]
    if isinstance(credentials, list | tuple):
        return [value for inner in credentials for value in secret_values(inner)]
    return [credentials] if isinstance(credentials, str) else []


def portable_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """How a model loads its copy: the dataset's configuration without what belongs to the
    store (credentials, versioning, filesystem arguments other than how files are opened).

    The location itself is set when the copy's path is known (``repoint_config``).
    """
    portable = {
        key: value for key, value in config.items() if key not in {"credentials", "versioned"}
    }
    fs_args = portable.pop("fs_args", None)
    if isinstance(fs_args, Mapping):
        kept = {key: fs_args[key] for key in _OPEN_ARGS if key in fs_args}
        if kept:
            portable["fs_args"] = kept
    return portable


@dataclass(frozen=True)
class Location:
    """Where one dataset's data is, for the version the model must hold.

    Attributes:
        protocol: The filesystem's protocol (``file``, ``s3``...).
        path: The path on that filesystem (no protocol), version included.
        url: ``path`` with its protocol, without credentials: what messages and the model's
            metadata show.
        version: The Kedro version, for a versioned dataset.
    """

    protocol: str
    path: str
    url: str
    version: str | None

    @property
    def is_local(self) -> bool:
        """Whether the data is a local file or folder (nothing to copy through a store)."""
        return self.protocol in LOCAL_PROTOCOLS

    @property
    def bucketed(self) -> bool:
        """Whether the first path component is a bucket (or container) that must exist."""
        return self.protocol in _BUCKETED

    @property
    def root(self) -> str:
        """What must exist for a run to write there: the bucket, or the parent folder."""
        if self.protocol in _BUCKETED:
            return self.path.split("/", 1)[0]
        return PurePosixPath(self.path).parent.as_posix()


def locate(dataset: Any, config: Mapping[str, Any], *, saved: bool) -> Location:
    """Where ``dataset`` keeps the version the model holds.

    Args:
        dataset: The catalog's dataset object.
        config: Its catalog configuration (with a ``filepath`` or ``path``).
        saved: Whether this run saves it: a versioned dataset then holds the run's own save
            version (what this run wrote, even if another process writes a newer one);
            otherwise the version it loads (the latest, or the one pinned with
            ``kedro run --load-versions``).

    Raises:
        DatasetError: When a versioned dataset that this run does not save has no version.
    """
    key = location_key(config)
    assert key is not None  # checked by the caller
    filepath = str(config[key])
    protocol, path = get_protocol_and_path(filepath)
    version = None
    if config.get("versioned") and isinstance(dataset, AbstractVersionedDataset):
        try:
            version = dataset.resolve_save_version() if saved else dataset.resolve_load_version()
        except DatasetError:
            version = None  # Kedro's "Did not find any versions for <the dataset's repr>"
        if version is None:
            raise DatasetError(f"no version of it was found at '{redact(filepath)}'")
        # Kedro's layout for versioned data: <filepath>/<version>/<file name>.
        path = (PurePosixPath(path) / version / PurePosixPath(path).name).as_posix()
    if protocol in LOCAL_PROTOCOLS:
        path = Path(path).resolve().as_posix()
        url = path
    else:
        url = f"{protocol}://{path}"
    return Location(protocol=protocol, path=path, url=redact(url), version=version)


def filesystem(dataset: Any, config: Mapping[str, Any], credentials: Mapping[str, Any]) -> Any:
    """The fsspec filesystem the dataset itself uses, or one built from its configuration
    the way kedro-datasets builds theirs (protocol, credentials, ``fs_args``)."""
    own = dataset_filesystem(dataset)
    if own is not None:
        return own
    import fsspec

    protocol, _ = get_protocol_and_path(str(config[location_key(config) or "filepath"]))
    fs_args = {
        key: value
        for key, value in dict(config.get("fs_args") or {}).items()
        if key not in _OPEN_ARGS
    }
    return fsspec.filesystem(protocol, **dict(credentials), **fs_args)


def copy_to(fs: Any, location: Location, target: Path) -> Path:
    """Copy the file or folder at ``location`` through ``fs`` to ``target``; return it.

    Raises:
        FileNotFoundError: When nothing is at the location.
    """
    # info(), not exists(): s3fs answers exists() with False when the store is unreachable;
    # info() raises FileNotFoundError only for what is really missing.
    info = fs.info(location.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if info.get("type") == "directory":
        target.mkdir(parents=True, exist_ok=True)
        # find() and info() spell paths the filesystem's way (a leading "/" for memory://).
        root = str(info["name"]).rstrip("/")
        for remote in fs.find(location.path):
            local = target / str(remote)[len(root) :].lstrip("/")
            local.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(remote, local.as_posix())
    else:
        fs.get_file(location.path, target.as_posix())
    return target
