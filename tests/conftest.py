"""Set-up every test directory shares: a per-directory cache with per-test results, and a guard
on the process-wide torch state a test must leave as it found it."""

from __future__ import annotations

import pytest
import torch


def _torch_state() -> dict[str, object]:
    return {"threads": torch.get_num_threads(), "default dtype": torch.get_default_dtype(),
            "grad enabled": torch.is_grad_enabled()}


_SESSION_START = _torch_state()


@pytest.fixture(autouse=True)
def _torch_state_is_left_as_found():
    """Fails the test after which process-wide torch state differs from the session's start.

    Compared with the start of the session, not of the test, so a module- or session-scoped
    fixture that leaks is caught too (at the first test that uses it). The thread count alone
    changes float reductions: a demo helper that left it at one made later in-process runs
    differ bit for bit from the same runs in a fresh process, which failed tests far from the
    one that leaked it.
    """
    yield
    after = _torch_state()
    assert after == _SESSION_START, f"process-wide torch state changed: {_SESSION_START} -> {after}"


@pytest.fixture(scope="session")
def _caches(tmp_path_factory):
    """One cache folder per test directory, kept for the session (teacher caches are costly)."""
    folders = {}

    def cache_for(area: str):
        if area not in folders:
            folders[area] = tmp_path_factory.mktemp(f"{area}_cache")
        return folders[area]

    return cache_for


@pytest.fixture
def env(request, _caches, monkeypatch, tmp_path):
    """HARNESS_CACHE shared by the test's directory for the session, HARNESS_RESULTS in this test's
    tmp dir; returns the tmp dir. Directories keep separate caches, so a fault test's damaged
    cache never reaches a run test."""
    monkeypatch.setenv("HARNESS_CACHE", str(_caches(request.path.parent.name)))
    monkeypatch.setenv("HARNESS_RESULTS", str(tmp_path / "results"))
    return tmp_path
