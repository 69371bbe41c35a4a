"""JetStream durable consumer names belong to the stream, not to a service: two services declaring the same name
would share one consumer and each get only part of the events. Every `Consumer` a service module declares must
have a name no other service uses."""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict

from demimas_common.skeleton import Consumer

PACKAGES = ("demimas_registry", "demimas_designation", "demimas_pillars", "demimas_audit", "demimas_cases")


def test_durable_names_are_unique_across_services() -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if ".migrations" in info.name or info.name.endswith(".demo"):
                continue
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if isinstance(value, Consumer):
                    owners[value.durable].add(package)
    assert owners, "no consumers found: the walk is broken"
    shared = {name: sorted(pkgs) for name, pkgs in owners.items() if len(pkgs) > 1}
    assert not shared, f"durable names used by more than one service: {shared}"
