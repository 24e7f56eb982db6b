"""Node functions for the lost-scheduler tests; importable by worker processes (PYTHONPATH)."""

from __future__ import annotations

import time
from pathlib import Path


def start_then_sleep(x: int, marker: str, seconds: float = 60.0) -> int:
    """Writes ``marker`` when it starts, then sleeps (the scheduler is killed meanwhile)."""
    Path(marker).write_text("started")
    time.sleep(seconds)
    return x


def refuse_connection(x: int) -> int:
    """Raises an OSError of its own, as a node reaching a dead service would."""
    raise ConnectionRefusedError(f"the node's own service refused {x}")
