"""The `demimas` command: `demimas token` prints a token alone on stdout; bad requests exit 2 with a reason."""

from __future__ import annotations

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


def test_token_prints_one_verifiable_line(keys_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--agency", "disnaker", "--region", "16.06", "--ttl", "30m"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    verifier = TokenVerifier(CommonSettings(jwks_path=keys_dir / "jwks.json"))
    principal = verifier.verify(out.strip())
    assert (principal.agency.value, principal.region) == ("DISNAKER", "16.06")


def test_widening_scopes_exits_2(keys_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--agency", "BNN", "--scopes", "pii:read"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "not granted pii:read" in captured.err


def test_unknown_agency_exits_2(keys_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--agency", "NASA"]) == 2
    assert "unknown agency" in capsys.readouterr().err


def test_bad_ttl_is_a_usage_error(keys_dir: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["token", "--agency", "KP2MI", "--ttl", "forever"])
    assert exit_info.value.code == 2
