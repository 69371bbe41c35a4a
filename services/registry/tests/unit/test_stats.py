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


def test_education_and_sex_count_every_worker_sector_and_occupation_those_abroad() -> None:
    from demimas_registry.domain.vocabulary import EducationLevel, Sector, Sex

    person = {"education": EducationLevel.SMK, "sex": Sex.FEMALE}
    candidate = contribution(V, WorkerStatus.CANDIDATE, **person)  # type: ignore[arg-type]
    trip = {"destination": "MY", "scheme": PlacementScheme.P_TO_P, "procedural": True, "sector": Sector.FORMAL}
    abroad = contribution(V, WorkerStatus.ABROAD, **person, **trip, occupation_code="8189.01")  # type: ignore[arg-type]
    home = contribution(V, WorkerStatus.RETURNED, **person, **trip, occupation_code="8189.01")  # type: ignore[arg-type]
    assert delta([(None, candidate)]) == {(V, "education", "SMK"): 1, (V, "sex", "FEMALE"): 1,
                                          (V, "status", "CANDIDATE"): 1}  # fmt: skip
    moved = delta([(candidate, abroad)])
    assert {k: n for k, n in moved.items() if k[1] in ("sector", "occupation")} == {
        (V, "occupation", "8"): 1, (V, "sector", "FORMAL"): 1}  # fmt: skip
    back = delta([(abroad, home)])
    assert back[(V, "occupation", "8")] == -1
    uncoded = contribution(V, WorkerStatus.ABROAD, **person, **trip)  # type: ignore[arg-type]
    assert (V, "occupation", "UNCLASSIFIED") in uncoded.keys()  # noqa: SIM118 (keys() is the method under test)
    improved = contribution(V, WorkerStatus.CANDIDATE, education=EducationLevel.S1, sex=Sex.FEMALE)
    assert delta([(candidate, improved)]) == {(V, "education", "S1"): 1, (V, "education", "SMK"): -1}


def test_breakdowns_are_read_back_from_counter_rows() -> None:
    rows = [("status", "ABROAD", 2), ("education", "SMK", 2), ("sex", "MALE", 1), ("sex", "FEMALE", 1),
            ("sector", "FORMAL", 2), ("occupation", "8", 1), ("occupation", "9", 1),
            ("education", "SD", 0)]  # fmt: skip
    stats = MigrantStats.from_rows(rows)
    assert stats.by_education == {"SMK": 2}
    assert stats.by_sex == {"MALE": 1, "FEMALE": 1}
    assert (stats.by_sector, stats.by_occupation) == ({"FORMAL": 2}, {"8": 1, "9": 1})
