"""pytest plugin: `impl`, each scheduler twin in turn (the pure-Python reference and the
compiled core), so one test checks both behave the same."""

from __future__ import annotations

from types import ModuleType

import pytest

from callcenter.acd import _scheduler_py

try:
    from callcenter.acd import _scheduler_c
except ImportError:
    _scheduler_c = None  # type: ignore[assignment]


@pytest.fixture(params=[
    pytest.param(_scheduler_py, id="py"),
    pytest.param(_scheduler_c, id="c", marks=pytest.mark.skipif(
        _scheduler_c is None, reason="the compiled scheduler is not built")),
])
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return request.param
