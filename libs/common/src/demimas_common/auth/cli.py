"""`demimas token --agency A [--region 16.06] [--scopes "s1 s2"] [--purpose P] [--ttl 8h]`: a dev JWT alone on
stdout (so `TOKEN=$(demimas token --agency KP2MI)` works), signed with the devstack's key.

Keys come from `$DEMIMAS_DEV_KEYS_DIR` (the devstack writes it into `.devstack/stack.env`, which `demimas` loads)
or `.devstack/keys`; issuer and audience from the same settings the services read. `--scopes` narrows the agency's
grants, never widens them. Every refusal is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_KEYS_DIR", "parse_ttl", "register"]

DEFAULT_KEYS_DIR = Path(".devstack/keys")
_TTL = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_ttl(value: str) -> dt.timedelta:
    """`30m`, `8h`, `2d` (or `90s`) -> timedelta; anything else, or zero, is a usage error."""
    match = _TTL.match(value.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a lifetime such as 30m, 8h or 2d")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _token(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from demimas_common.auth.keys import ensure_dev_keys, mint_token
    from demimas_common.settings import CommonSettings, Environment

    try:
        settings = CommonSettings()
        if settings.environment is Environment.PRODUCTION:
            raise ValueError("dev tokens are not for production; ask the identity provider")
        keys_dir = Path(os.environ.get("DEMIMAS_DEV_KEYS_DIR") or DEFAULT_KEYS_DIR)
        token = mint_token(
            ensure_dev_keys(keys_dir),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            agency=args.agency,
            scopes=args.scopes.split() if args.scopes is not None else None,
            region=args.region,
            purpose=args.purpose,
            ttl=args.ttl,
            sub=args.sub,
        )
    except (ValueError, ValidationError, OSError) as exc:
        message = str(exc).splitlines()[0] if not isinstance(exc, ValidationError) else f"bad settings: {exc}"
        print(f"demimas token: {message}", file=sys.stderr)
        return 2
    print(token)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "token",
        help="print a dev JWT for an agency",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    parser.add_argument("--agency", required=True, help="KP2MI, BP3MI, DISNAKER, KEMENPPPA, KEMENDES, BNN, ...")
    parser.add_argument("--region", help="region-code prefix, e.g. 16.06 (required for BP3MI and DISNAKER)")
    parser.add_argument("--scopes", help='space-separated scopes, a subset of the agency\'s grants: "s1 s2"')
    parser.add_argument("--purpose", help="PLACEMENT_SERVICE, PROTECTION_CASE, PROGRAMME_DELIVERY, ...")
    parser.add_argument("--ttl", type=parse_ttl, default=dt.timedelta(hours=8), help="lifetime: 30m, 8h, 2d")
    parser.add_argument("--sub", help="subject (default dev-<agency>)")
    parser.set_defaults(func=_token)
