"""Every key a breakdown can hold has a name in Indonesian and in English (`BreakdownEntry.label(lang)`): the
education levels, sexes and sectors as `registryLabels` gives them, the KBJI 2014 major groups in KBJI's and
ISCO-08's words, and UNCLASSIFIED."""

from __future__ import annotations

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.graphql.labels import Lang
from demimas_registry.domain import occupations
from demimas_registry.domain.stats import MigrantStats as Counts
from demimas_registry.domain.vocabulary import EducationLevel, Sector, Sex
from demimas_registry.entrypoints.graphql.regions import BreakdownEntry, MigrantStats
from demimas_registry.labels import LABELS

KP2MI = Principal("t", Agency.KP2MI, DEFAULT_GRANTS[Agency.KP2MI])


def every_key_once() -> MigrantStats:
    return MigrantStats.from_value(
        Counts(
            by_education={e.value: 1 for e in EducationLevel},
            by_sex={s.value: 1 for s in Sex},
            by_sector={s.value: 1 for s in Sector},
            by_occupation=dict.fromkeys([*occupations.MAJOR_GROUPS, occupations.UNCLASSIFIED], 1),
        ),
        KP2MI,
    )


def named(entries: list[BreakdownEntry], lang: Lang) -> dict[str, str | None]:
    return {e.key: e.label(lang) for e in entries}


def test_every_breakdown_key_has_a_distinct_name_in_both_languages() -> None:
    stats = every_key_once()
    for entries in (stats.by_education, stats.by_sex, stats.by_sector, stats.by_occupation):
        indonesian, english = named(entries, Lang.ID), named(entries, Lang.EN)
        for names in (indonesian, english):
            assert all(names.values()), names
            assert len(set(names.values())) == len(names), names  # no two keys read the same
        assert indonesian != english


def test_the_names_are_the_labels_catalogue_s_and_kbji_s() -> None:
    stats = every_key_once()
    assert named(stats.by_education, Lang.EN)["SMK"] == LABELS["EducationLevel"]["SMK"][1]
    assert named(stats.by_sex, Lang.ID)["FEMALE"] == "Perempuan"
    assert named(stats.by_sector, Lang.ID)["INFORMAL"] == LABELS["Sector"]["INFORMAL"][0]
    occupation_id, occupation_en = named(stats.by_occupation, Lang.ID), named(stats.by_occupation, Lang.EN)
    assert (occupation_id["8"], occupation_en["8"]) == (
        "Operator dan Perakit Mesin",
        "Plant and machine operators and assemblers",
    )
    assert occupation_en["UNCLASSIFIED"] == "Unclassified (no KBJI code)"
    assert BreakdownEntry(key="XX", names=None, count=1).label(Lang.EN) is None
