"""`demimas token`: the token alone on stdout; a request no issuer would grant exits 2 with the reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.cli import main
from demimas_common.settings import CommonSettings


@pytest.fixture
def keys_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEMIMAS_DEV_KEYS_DIR", str(tmp_path))
    monkeypatch.setenv("DEMIMAS_STACK_ENV", str(tmp_path / "none.env"))
    return tmp_path


def verifier(keys_dir: Path) -> TokenVerifier:
    return TokenVerifier(CommonSettings(jwks_path=keys_dir / "jwks.json"))


def test_token_prints_one_verifiable_line(keys_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--agency", "KP2MI"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    principal = verifier(keys_dir).verify(out.strip())
    assert principal.agency.value == "KP2MI"
    assert "pii:read" in principal.scopes


def test_region_purpose_scopes_and_ttl(keys_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["token", "--agency", "disnaker", "--region", "16.06", "--ttl", "30m", "--purpose", "statistics"]
    assert main([*args, "--scopes", "stats:read registry:read"]) == 0
    principal = verifier(keys_dir).verify(capsys.readouterr().out.strip())
    assert (principal.agency.value, principal.region, principal.purpose) == ("DISNAKER", "16.06", "STATISTICS")
    assert principal.scopes == frozenset({"stats:read", "registry:read"})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agency", "BNN", "--scopes", "pii:read"], "not granted pii:read"),
        (["--agency", "NASA"], "unknown agency 'NASA'"),
        (["--agency", "BP3MI"], "regional office"),
        (["--agency", "KP2MI", "--purpose", "CURIOSITY"], "unknown purpose"),
        (["--agency", "KP2MI", "--region", "sixteen"], "not a Kemendagri code"),
    ],
)
def test_refusals_exit_2(keys_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(["token", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize("ttl", ["forever", "0m", "8"])
def test_bad_ttl_is_a_usage_error(keys_dir: Path, ttl: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["token", "--agency", "KP2MI", "--ttl", ttl])
    assert exit_info.value.code == 2


def test_the_installed_command(keys_dir: Path) -> None:
    """The console script `demimas` finds `token` through the entry-point group."""
    script = Path(sys.executable).parent / "demimas"
    done = subprocess.run(
        [str(script), "token", "--agency", "AUDITOR", "--ttl", "2d"],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ.copy(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert verifier(keys_dir).verify(done.stdout.strip()).scopes == frozenset({"audit:read", "stats:read"})
