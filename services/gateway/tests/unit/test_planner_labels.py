"""Progressive-override labels: read once from the supergraph (or given to the planner), chosen per request."""

from __future__ import annotations

import random
from pathlib import Path

from demimas_gateway.planner import Planner, override_labels
from demimas_gateway.supergraph import load_supergraph

SHOP = load_supergraph((Path(__file__).parents[1] / "fixtures" / "shop-supergraph.graphql").read_text())


def test_labels_are_read_from_the_supergraph() -> None:
    assert override_labels(SHOP) == frozenset({"percent(100)"})
    assert Planner(SHOP).known_labels == frozenset({"percent(100)"})


def test_active_labels_by_chance_or_when_enabled() -> None:
    planner = Planner(SHOP, known_labels=frozenset({"percent(0)", "percent(100)", "beta", "gamma"}))
    assert planner.active_labels(enabled={"beta"}, rng=random.Random(1)) == frozenset({"percent(100)", "beta"})
