"""Running sipp: one-shot caller runs with parsed statistics, and long-lived UAS peers."""

from __future__ import annotations

import csv
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.errors import CallcenterError
from callcenter.sipp.scenarios import uas_scenario

__all__ = ["Sipp", "SippError", "SippResult", "SippServer"]


class SippError(CallcenterError):
    """sipp is missing or could not run."""


@dataclass
class SippResult:
    """What one sipp run reported (counts from its -trace_stat file)."""

    returncode: int
    stats: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    errors: str = ""

    def count(self, name: str) -> int:
        """A cumulative counter such as SuccessfulCall or FailedCall."""
        try:
            return int(self.stats.get(f"{name}(C)", "0") or 0)
        except ValueError:
            return 0

    @property
    def successful(self) -> int:
        return self.count("SuccessfulCall")

    @property
    def failed(self) -> int:
        return self.count("FailedCall")

    @property
    def retransmissions(self) -> int:
        return self.count("Retransmissions")


def _binary() -> str:
    path = shutil.which("sipp")
    if not path:
        raise SippError("sipp is not installed — run scripts/install-asterisk (Debian package "
                        "sip-tester)")
    return path


def _last_stats(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


class Sipp:
    """Places calls at `target` (host:port) with a scenario (built-in name or XML text)."""

    def __init__(self, target: str = "127.0.0.1:5060", *, local_ip: str = "127.0.0.1",
                 workdir: Path | None = None):
        self.target = target
        self.local_ip = local_ip
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="cc-sipp-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._n = 0

    def _args(self, scenario: str, tag: str) -> list[str]:
        if scenario.lstrip().startswith("<"):
            path = self.workdir / f"{tag}.xml"
            path.write_text(scenario, encoding="utf-8")
            return ["-sf", str(path)]
        return ["-sn", scenario]

    def run(self, scenario: str, *, service: str, calls: int = 1, rate: float = 1,
            limit: int | None = None, timeout: float = 60, extra: list[str] | None = None,
            local_port: int = 0, local_ip: str | None = None) -> SippResult:
        """Place `calls` calls to `service` (the dialled number) and wait for the end, from
        `local_ip` (default: this caller's address)."""
        self._n += 1
        tag = f"run{self._n}"
        stat = self.workdir / f"{tag}.csv"
        errfile = self.workdir / f"{tag}-errors.log"
        cmd = [_binary(), self.target, *self._args(scenario, tag), "-s", service,
               "-i", local_ip or self.local_ip, "-p", str(local_port), "-m", str(calls),
               "-r", str(rate),
               "-l", str(limit or calls), "-nostdin", "-trace_stat", "-stf", str(stat),
               "-fd", "1", "-trace_err", "-error_file", str(errfile),
               "-timeout", f"{int(timeout)}s", "-timeout_error", "-mp", "0",
               *(extra or [])]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 15,
                                  cwd=self.workdir)
        except subprocess.TimeoutExpired as exc:
            raise SippError(f"sipp did not finish within {timeout + 15:g} s") from exc
        errors = errfile.read_text(errors="replace") if errfile.exists() else ""
        return SippResult(proc.returncode, _last_stats(stat), proc.stdout + proc.stderr, errors)


class SippServer:
    """A long-lived sipp UAS (e.g. a carrier) on `port`; answers OPTIONS automatically."""

    def __init__(self, port: int, *, scenario: str | None = None, local_ip: str = "127.0.0.1",
                 workdir: Path | None = None):
        self.port = port
        self.scenario = scenario or uas_scenario()
        self.local_ip = local_ip
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"cc-sipp-uas{port}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.stat = self.workdir / "uas.csv"
        self.message_file = self.workdir / "uas-messages.log"

    def start(self) -> SippServer:
        args = ["-sn", self.scenario]
        if self.scenario.lstrip().startswith("<"):
            path = self.workdir / "uas.xml"
            path.write_text(self.scenario, encoding="utf-8")
            args = ["-sf", str(path)]
        cmd = [_binary(), *args, "-i", self.local_ip, "-p", str(self.port), "-aa", "-nostdin",
               "-trace_stat", "-stf", str(self.stat), "-fd", "1", "-mp", "0",
               "-trace_msg", "-message_file", str(self.message_file)]
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        if self.proc.poll() is not None:
            raise SippError(f"sipp UAS on port {self.port} exited at once "
                            f"(status {self.proc.returncode}) — is the port free?")
        return self

    def stats(self) -> dict[str, str]:
        return _last_stats(self.stat)

    def messages(self) -> str:
        """Every SIP message this UAS sent and received so far (its -trace_msg file)."""
        try:
            return self.message_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def count(self, name: str) -> int:
        try:
            return int(self.stats().get(f"{name}(C)", "0") or 0)
        except ValueError:
            return 0

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> SippServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
