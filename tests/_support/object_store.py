"""A real S3 API for tests: moto's server on 127.0.0.1, reached with s3fs.

``start_s3_server`` runs ``moto_server -H 127.0.0.1 -p <port>`` (the ``moto[server]``
test dependency) and returns once it answers; ``stop_s3_server`` stops it. moto accepts any
key unless started with ``auth=True`` (``INITIAL_NO_AUTH_ACTION_COUNT=0``), which makes it
refuse keys it does not know, as a real store refuses bad credentials.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests._support.net import free_port, stop_process, wait_for_http
from tests._support.process import launch, subprocess_env

__all__ = ["S3Server", "make_bucket", "s3_credentials", "start_s3_server", "stop_s3_server"]

HOST = "127.0.0.1"
#: The secret every test credential carries: searched for in everything a run leaves.
SECRET_KEY = "pml-secret-7f3a9c1e5b2d4f60"
ACCESS_KEY = "pml-access-key-id"


@dataclass(frozen=True)
class S3Server:
    """A running moto S3 server."""

    endpoint: str
    process: Any
    log_path: Path


def _moto_server() -> str:
    found = shutil.which("moto_server", path=os.fspath(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError("moto_server is not installed (noxfile TEST_DEPS has moto[server])")
    return found


def start_s3_server(workdir: Path, *, auth: bool = False) -> S3Server:
    """Start moto's S3 server on a free loopback port; ``auth`` refuses unknown keys."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port(HOST)
    log_path = workdir / "moto.log"
    extra = {"INITIAL_NO_AUTH_ACTION_COUNT": "0"} if auth else {}
    proc = launch(
        [_moto_server(), "-H", HOST, "-p", str(port)],
        log_path=log_path,
        env=subprocess_env(extra=extra, tmpdir=workdir / "tmp"),
        cwd=workdir,
    )
    endpoint = f"http://{HOST}:{port}"
    try:
        wait_for_http(f"{endpoint}/moto-api/", timeout=60, proc=proc, log_path=log_path)
    except BaseException:
        stop_process(proc)
        raise
    return S3Server(endpoint=endpoint, process=proc, log_path=log_path)


def stop_s3_server(server: S3Server) -> None:
    """Stop the server (everything it stored goes with it)."""
    stop_process(server.process)


def s3_credentials(endpoint: str, secret: str = SECRET_KEY) -> dict[str, Any]:
    """Kedro credentials for s3fs against ``endpoint``, as conf/local/credentials.yml holds."""
    return {"key": ACCESS_KEY, "secret": secret, "client_kwargs": {"endpoint_url": endpoint}}


def make_bucket(endpoint: str, bucket: str) -> None:
    """Create ``bucket`` on the server."""
    import s3fs

    s3fs.S3FileSystem(**s3_credentials(endpoint), skip_instance_cache=True).mkdir(bucket)
