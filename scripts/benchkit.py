"""What the live benchmarks share: stopping the daemon they started, and keeping their
figures (a JSON file) while their work folder goes unless KEEP is set."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any


def stop_daemon(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if it has not stopped within `timeout` seconds; always reaped."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def write_figures(path: str, out: dict[str, Any], work: Path) -> None:
    Path(path).write_text(json.dumps(out, indent=2))
    print(f"wrote {path} (work folder {work})")
    os.environ.get("KEEP") or shutil.rmtree(work, ignore_errors=True)
