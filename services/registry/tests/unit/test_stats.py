"""Village statistics by delta: a worker's change moves its contribution, never rescans the village."""

from demimas_registry.domain.stats import MigrantStats, contribution, delta
from demimas_registry.domain.vocabulary import PlacementScheme, WorkerStatus

V = "16.06.13.2001"
W = "16.06.03.2008"


def test_registration_counts_a_candidate() -> None:
    assert delta([(None, contribution(V, WorkerStatus.CANDIDATE))]) == {(V, "status", "CANDIDATE"): 1}


def test_departure_moves_the_worker_abroad_with_destination_and_scheme() -> None:
    before = contribution(V, WorkerStatus.CANDIDATE)
    after = contribution(V, WorkerStatus.ABROAD, destination="MY", scheme=PlacementScheme.P_TO_P, procedural=True)
    assert delta([(before, after)]) == {
        (V, "departed", "ever"): 1,
        (V, "departed", "procedural"): 1,
        (V, "destination", "MY"): 1,
        (V, "scheme", "P_TO_P"): 1,
        (V, "status", "ABROAD"): 1,
        (V, "status", "CANDIDATE"): -1,
    }


def test_return_keeps_the_departure_history_but_leaves_the_destination() -> None:
    abroad = contribution(V, WorkerStatus.ABROAD, destination="MY", scheme=PlacementScheme.P_TO_P, procedural=False)
    home = contribution(V, WorkerStatus.RETURNED, destination="MY", scheme=PlacementScheme.P_TO_P, procedural=False)
    assert delta([(abroad, home)]) == {
        (V, "destination", "MY"): -1,
        (V, "scheme", "P_TO_P"): -1,
        (V, "status", "ABROAD"): -1,
        (V, "status", "RETURNED"): 1,
    }


def test_moving_village_moves_every_counter() -> None:
    changes = delta([(contribution(V, WorkerStatus.CANDIDATE), contribution(W, WorkerStatus.CANDIDATE))])
    assert changes == {(V, "status", "CANDIDATE"): -1, (W, "status", "CANDIDATE"): 1}
    assert list(changes) == sorted(changes)


def test_procedural_share() -> None:
    rows = [("status", "ABROAD", 3), ("status", "RETURNED", 1), ("departed", "ever", 4), ("departed", "procedural", 3)]
    stats = MigrantStats.from_rows(rows)
    assert (stats.total, stats.procedural_share) == (4, 0.75)
    assert MigrantStats.from_rows([]).procedural_share is None
