"""Without Chromium the browser tests are skipped and the session says so loudly at the end; CI's
`DEMIMAS_REQUIRE_BROWSER=1` turns that into a failed session. Each case runs pytest in a child process on a small tree
holding the real tests/browser/conftest.py and support.py beside two trivial browser tests (the whole repository's
conftests would import every service and cost half a minute per run), with `DEMIMAS_CHROMIUM` pointing at nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BROWSER = Path(__file__).resolve().parent / "browser"

INI = """
[pytest]
addopts = --strict-markers -ra --import-mode=importlib -p no:cacheprovider
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
markers =
    browser: drives a headless Chromium
"""

TESTS = """
from playwright.async_api import Page

async def test_one(page: Page) -> None:
    await page.goto("about:blank")

async def test_two(page: Page) -> None:
    await page.goto("about:blank")
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "tests" / "browser").mkdir(parents=True)
    for name in ("conftest.py", "support.py"):
        shutil.copy(BROWSER / name, root / "tests" / "browser" / name)
    (root / "tests" / "browser" / "test_pages.py").write_text(TESTS)
    (root / "pytest.ini").write_text(INI)
    return root


def run_pytest(tree: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DEMIMAS_REQUIRE_BROWSER", "PYTEST_ADDOPTS")}
    environ |= {"DEMIMAS_CHROMIUM": str(tree / "no-chromium-here"), "DEMIMAS_ARTIFACTS": str(tree / "art")}
    environ |= env
    return subprocess.run(
        [sys.executable, "-m", "pytest", f"--basetemp={tree / 'tmp'}", *args, "tests/browser"],
        cwd=tree, env=environ, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_missing_chromium_skips_with_a_banner(tree: Path) -> None:
    result = run_pytest(tree, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 skipped" in result.stdout
    assert "2 BROWSER TESTS DID NOT RUN" in result.stdout
    assert f"DEMIMAS_CHROMIUM={tree / 'no-chromium-here'} is not an executable file" in result.stdout
    assert "apt-get install -y chromium" in result.stdout
    assert not (tree / "art").exists()


def test_ci_fails_instead_of_skipping(tree: Path) -> None:
    result = run_pytest(tree, "-q", DEMIMAS_REQUIRE_BROWSER="1")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "DEMIMAS_REQUIRE_BROWSER=1 but Chromium was not found" in result.stderr


def test_deselected_browser_tests_raise_no_banner(tree: Path) -> None:
    result = run_pytest(tree, "-q", "-m", "not browser")
    assert result.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, result.stdout + result.stderr
    assert "2 deselected" in result.stdout
    assert "BROWSER TESTS DID NOT RUN" not in result.stdout
