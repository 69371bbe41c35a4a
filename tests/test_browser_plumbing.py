"""Without Chromium the browser tests are skipped and the session says so loudly at the end; CI's
`DEMIMAS_REQUIRE_BROWSER=1` turns that into a failed session. Each case runs pytest on the smoke tests in a child
process, with `DEMIMAS_CHROMIUM` pointing at nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMOKE = "tests/browser/test_smoke.py"


def run_pytest(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DEMIMAS_REQUIRE_BROWSER", "PYTEST_ADDOPTS")}
    environ |= {"DEMIMAS_CHROMIUM": str(tmp_path / "no-chromium-here"), "DEMIMAS_ARTIFACTS": str(tmp_path / "art")}
    environ |= env
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'inner'}", *args],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip


def test_missing_chromium_skips_with_a_banner(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "-q", SMOKE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 skipped" in result.stdout
    assert "2 BROWSER TESTS DID NOT RUN" in result.stdout
    assert f"DEMIMAS_CHROMIUM={tmp_path / 'no-chromium-here'} is not an executable file" in result.stdout
    assert "apt-get install -y chromium" in result.stdout
    assert not (tmp_path / "art").exists()


def test_ci_fails_instead_of_skipping(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "-q", SMOKE, DEMIMAS_REQUIRE_BROWSER="1")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "DEMIMAS_REQUIRE_BROWSER=1 but Chromium was not found" in result.stderr


def test_deselected_browser_tests_raise_no_banner(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "-q", "-m", "not browser", SMOKE)
    assert result.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, result.stdout + result.stderr
    assert "2 deselected" in result.stdout
    assert "BROWSER TESTS DID NOT RUN" not in result.stdout
