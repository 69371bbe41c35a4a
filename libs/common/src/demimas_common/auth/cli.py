"""`demimas token --agency A [--region 16.06] [--scopes "s1 s2"] [--purpose P] [--ttl 8h]`: a dev JWT alone on
stdout, signed with the devstack's key. `--scopes` narrows the agency's grants, never widens them."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["parse_ttl", "register"]

_TTL = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_ttl(value: str) -> dt.timedelta:
    match = _TTL.match(value.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration such as 30m, 8h or 2d")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _token(args: argparse.Namespace) -> int:
    from demimas_common.auth.keys import ensure_dev_keys, mint_token
    from demimas_common.auth.principal import Agency
    from demimas_common.errors import BadUserInput
    from demimas_common.settings import CommonSettings

    settings = CommonSettings()
    keys_dir = Path(os.environ.get("DEMIMAS_DEV_KEYS_DIR", ".devstack/keys"))
    try:
        agency = Agency(args.agency.upper())
        token = mint_token(
            ensure_dev_keys(keys_dir),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            agency=agency,
            scopes=args.scopes.split() if args.scopes is not None else None,
            region=args.region,
            purpose=args.purpose,
            ttl=args.ttl,
        )
    except ValueError as exc:
        known = ", ".join(a.value for a in Agency)
        message = f"unknown agency {args.agency!r}; use one of {known}" if "Agency" in str(exc) else str(exc)
        print(f"demimas token: {message}", file=sys.stderr)
        return 2
    except BadUserInput as exc:
        print(f"demimas token: {exc.message}", file=sys.stderr)
        return 2
    print(token)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("token", help="print a dev JWT for an agency")
    parser.add_argument("--agency", required=True, help="KP2MI, BP3MI, DISNAKER, KEMENPPPA, KEMENDES, BNN, ...")
    parser.add_argument("--region", help="region-code prefix, e.g. 16.06 (required for BP3MI and DISNAKER)")
    parser.add_argument("--scopes", help='space-separated scopes, a subset of the agency\'s grants: "s1 s2"')
    parser.add_argument("--purpose", help="PLACEMENT_SERVICE, PROTECTION_CASE, PROGRAMME_DELIVERY, ...")
    parser.add_argument("--ttl", type=parse_ttl, default=dt.timedelta(hours=8), help="lifetime: 30m, 8h, 2d")
    parser.set_defaults(func=_token)
