"""Statistical disclosure control of the migrant numbers: a caller without registry:read sees a breakdown's values
only where at least MIN_CELL (3) people hold them, on all six breakdowns; a caller with registry:read sees them all.
The totals stay exact for both, so what is not shown is the difference."""

from __future__ import annotations

import pytest

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_registry.domain.stats import MigrantStats as Counts
from demimas_registry.entrypoints.graphql.regions import MIN_CELL, MigrantStats


def principal(agency: Agency, region: str | None = None) -> Principal:
    return Principal("t", agency, DEFAULT_GRANTS[agency], region)


# One person abroad in Malaysia among four registered: their sex, schooling, sector and occupation are each a value
# of one, as is the single worker of each other destination.
COUNTS = Counts(
    by_status={"ABROAD": 3, "CANDIDATE": 1},
    by_destination={"MY": 1, "SA": 2},
    by_scheme={"P_TO_P": 3},
    by_education={"SMK": 3, "SD": 1},
    by_sex={"FEMALE": 3, "MALE": 1},
    by_sector={"FORMAL": 3},
    by_occupation={"8": 1, "9": 2},
)


def values(stats: MigrantStats) -> dict[str, dict[str, int]]:
    return {
        "byDestination": {c.country: c.count for c in stats.by_destination},
        "byScheme": {s.scheme.value: s.count for s in stats.by_scheme},
        "byEducation": {e.key: e.count for e in stats.by_education},
        "bySex": {e.key: e.count for e in stats.by_sex},
        "bySector": {e.key: e.count for e in stats.by_sector},
        "byOccupation": {e.key: e.count for e in stats.by_occupation},
    }


@pytest.mark.parametrize("agency", [Agency.KEMENDES, Agency.BNN, Agency.KEMENKO_POLKAM, Agency.AUDITOR])
def test_without_registry_read_values_held_by_fewer_than_three_are_not_shown(agency: Agency) -> None:
    stats = MigrantStats.from_value(COUNTS, principal(agency))
    assert stats.min_cell == MIN_CELL == 3
    assert values(stats) == {
        "byDestination": {},
        "byScheme": {"P_TO_P": 3},
        "byEducation": {},  # "SMK: 3" of 4 would say the fourth's schooling is another (SD: 1)
        "bySex": {},  # "FEMALE: 3" of 4 would say "MALE: 1"
        "bySector": {"FORMAL": 3},
        "byOccupation": {},
    }
    assert (stats.total, stats.abroad, stats.candidates) == (4, 3, 1)  # the totals stay exact


@pytest.mark.parametrize(("agency", "region"), [(Agency.KP2MI, None), (Agency.DISNAKER, "16.06"), (Agency.BP3MI, "16")])
def test_with_registry_read_every_value_is_shown(agency: Agency, region: str | None) -> None:
    stats = MigrantStats.from_value(COUNTS, principal(agency, region))
    assert stats.min_cell == 1
    assert values(stats)["byDestination"] == {"SA": 2, "MY": 1}
    assert values(stats)["byOccupation"] == {"9": 2, "8": 1}
    assert sum(values(stats)["bySex"].values()) == stats.total


def test_a_token_narrowed_below_registry_read_is_treated_as_without_it() -> None:
    narrowed = Principal("t", Agency.KP2MI, frozenset({"stats:read"}))
    assert MigrantStats.from_value(COUNTS, narrowed).min_cell == MIN_CELL


# Hostile review: a value left out is recovered by difference when what is left out holds fewer than MIN_CELL people.
# Sex has two keys: "FEMALE: 3" with total 4 says "MALE: 1" exactly, and a breakdown whose single hidden value is the
# only one under the threshold tells its count (total - shown) and, where the keys are few, its key.
def hidden(stats: MigrantStats, counts: Counts) -> dict[str, int]:
    """How many people each breakdown leaves out (what a caller recovers as total minus what is shown)."""
    shown = values(stats)
    source = {
        "byDestination": counts.by_destination,
        "byScheme": counts.by_scheme,
        "byEducation": counts.by_education,
        "bySex": counts.by_sex,
        "bySector": counts.by_sector,
        "byOccupation": counts.by_occupation,
    }
    return {name: sum(source[name].values()) - sum(shown[name].values()) for name in source}


@pytest.mark.parametrize(
    "counts",
    [
        COUNTS,
        Counts(by_status={"CANDIDATE": 12}, by_sex={"FEMALE": 10, "MALE": 2}, by_education={"SMA": 11, "SD": 1}),
        Counts(
            by_status={"ABROAD": 9},
            by_destination={"MY": 5, "TW": 3, "HK": 1},
            by_sector={"FORMAL": 4, "INFORMAL": 4},
            by_occupation={"9": 4, "8": 3, "5": 1, "UNCLASSIFIED": 1},
        ),
    ],
)
def test_what_is_left_out_is_never_fewer_than_three_people(counts: Counts) -> None:
    stats = MigrantStats.from_value(counts, principal(Agency.KEMENDES))
    for name, left_out in hidden(stats, counts).items():
        assert left_out == 0 or left_out >= MIN_CELL, (name, values(stats)[name])


def test_a_breakdown_with_nothing_under_the_threshold_is_shown_whole() -> None:
    counts = Counts(by_status={"CANDIDATE": 7}, by_sex={"FEMALE": 4, "MALE": 3})
    assert values(MigrantStats.from_value(counts, principal(Agency.KEMENDES)))["bySex"] == {"FEMALE": 4, "MALE": 3}


@pytest.mark.xfail(
    strict=True,
    reason="differencing between levels: a region's values less its villages' tell a village value not shown; cell"
    " suppression per answer cannot stop it (the totals are exact); it needs suppression coordinated across a region"
    " and its villages, or breakdowns at one level only, or rounding, for callers without registry:read",
)
def test_a_village_value_not_shown_is_not_recovered_from_its_region() -> None:
    """Attack: KEMENDES reads a regency of two villages with migrants abroad. Village A holds MY: 4 and is shown;
    village B's one worker in Malaysia is not; the regency shows MY: 5. 5 - 4 = 1: B's worker is in Malaysia."""
    a = Counts(by_status={"ABROAD": 4}, by_destination={"MY": 4})
    b = Counts(by_status={"ABROAD": 4}, by_destination={"SA": 3, "MY": 1})
    region = Counts(by_status={"ABROAD": 8}, by_destination={"MY": 5, "SA": 3})
    kemendes = principal(Agency.KEMENDES)
    shown_a, shown_b, shown_region = (
        values(MigrantStats.from_value(c, kemendes))["byDestination"] for c in (a, b, region)
    )
    assert "MY" not in shown_b  # B's worker in Malaysia is not shown in B
    recovered = shown_region.get("MY", 0) - shown_a.get("MY", 0)
    assert recovered != 1, "B's one worker in Malaysia, by difference"
