"""pytest plugin: no child process outlives its test unreaped.

A test (or a fixture) that drops a `subprocess.Popen` whose process has ended without
waiting for it leaves a zombie, and Python says so ("subprocess N is still running", a
ResourceWarning: an error here) whenever the garbage collector happens to reach the object —
in whatever test runs then. After each test every child it started that has ended is reaped
here, and named in the summary with the test that started it, so the slip is reported at
its source instead of failing an unrelated test at random. A child still running is left
alone: fixtures keep processes across tests (the session's Asterisk, a module's proxies)."""

from __future__ import annotations

import subprocess
import weakref
from typing import Any

import pytest

_children: weakref.WeakSet[subprocess.Popen[Any]] = weakref.WeakSet()
_unreaped: list[str] = []
_current = {"test": "(collection)"}
_real_init = subprocess.Popen.__init__


def _tracked_init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
    _real_init(self, *args, **kwargs)
    self._cc_test = _current["test"]  # type: ignore[attr-defined]
    _children.add(self)


def pytest_configure(config: pytest.Config) -> None:
    subprocess.Popen.__init__ = _tracked_init  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    subprocess.Popen.__init__ = _real_init  # type: ignore[method-assign]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _current["test"] = item.nodeid


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    for proc in list(_children):
        if proc.returncode is None and proc.poll() is not None:
            _unreaped.append(f"{proc._cc_test}: {proc.args!r} "  # type: ignore[attr-defined]
                             f"(exit status {proc.returncode}, reaped after {item.nodeid})")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _unreaped:
        terminalreporter.section("child processes left unreaped (reaped by the harness)")
        for line in _unreaped:
            terminalreporter.write_line(line)
