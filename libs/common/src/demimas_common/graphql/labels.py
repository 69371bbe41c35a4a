"""Indonesian and English labels of enum values, served by every subgraph for its own enums.

Each service keeps one catalogue (`<service>/labels.py`, next to its vocabulary): enum name -> value -> (Indonesian,
English). Each subgraph exposes it as a root field of its own name (`registryLabels`, `casesLabels`, ...) of one shared
shape, `(enum: String, lang: Lang = ID): [EnumLabel!]!`: a field name owned by one subgraph is planned to that
subgraph alone, so a client asks every subgraph at once in one query and the gateway fetches them in parallel (a
single `labels` field would be answered by whichever subgraph the planner picked, which knows only its own enums).
`EnumLabel` is `@shareable` and `Lang` is declared once here, so composition sees identical definitions.

Enums several subgraphs define (`Agency`, `Sex`, and `Lang` itself) are labelled once, in `SHARED`, and included
by each catalogue whose subgraph carries them, so the words cannot differ between subgraphs. Labels are public (no
personal data): any authenticated caller may read them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Annotated, Any

import strawberry

from demimas_common.errors import BadUserInput

__all__ = ["SHARED", "Catalogue", "EnumLabel", "Lang", "catalogue", "labels_field"]

Catalogue = Mapping[str, Mapping[str, tuple[str, str]]]
"""Enum name -> value -> (Indonesian label, English label)."""


@strawberry.enum(name="Lang", description="The language of a label: ID is Bahasa Indonesia, EN is English.")
class Lang(Enum):
    ID = "ID"
    EN = "EN"


@strawberry.federation.type(shareable=True, description="How people read an enum value, in one language.")
class EnumLabel:
    enum: str = strawberry.field(description="The enum's name, e.g. ServicePillar.")
    value: str = strawberry.field(description="The enum value as the API spells it, e.g. REINTEGRATION.")
    lang: Lang
    label: str = strawberry.field(description="The programme's own words for the value, in `lang`.")


SHARED: Catalogue = {
    "Agency": {
        "KP2MI": (
            "Kementerian Pelindungan Pekerja Migran Indonesia (KP2MI)",
            "Ministry for the Protection of Indonesian Migrant Workers (KP2MI)",
        ),
        "BP3MI": (
            "Balai Pelayanan Pelindungan Pekerja Migran Indonesia (BP3MI)",
            "Indonesian Migrant Worker Protection Service Centre (BP3MI)",
        ),
        "DISNAKER": ("Dinas Tenaga Kerja (Disnaker)", "Regional Manpower Office (Disnaker)"),
        "KEMENPPPA": (
            "Kementerian Pemberdayaan Perempuan dan Perlindungan Anak (KemenPPPA)",
            "Ministry of Women's Empowerment and Child Protection (KemenPPPA)",
        ),
        "KEMENDES": (
            "Kementerian Desa dan Pembangunan Daerah Tertinggal (Kemendes PDT)",
            "Ministry of Villages and Development of Disadvantaged Regions (Kemendes PDT)",
        ),
        "BNN": ("Badan Narkotika Nasional (BNN)", "National Narcotics Board (BNN)"),
        "KEMENIMIPAS": (
            "Kementerian Imigrasi dan Pemasyarakatan (Kemenimipas)",
            "Ministry of Immigration and Corrections (Kemenimipas)",
        ),
        "KEMENKO_POLKAM": (
            "Kementerian Koordinator Bidang Politik dan Keamanan (Kemenko Polkam)",
            "Coordinating Ministry for Political and Security Affairs (Kemenko Polkam)",
        ),
        "AUDITOR": ("Auditor", "Auditor"),
    },
    "Lang": {
        "ID": ("Bahasa Indonesia", "Indonesian"),
        "EN": ("Bahasa Inggris", "English"),
    },
    "Sex": {
        "FEMALE": ("Perempuan", "Female"),
        "MALE": ("Laki-laki", "Male"),
    },
}
"""Labels of the enums several subgraphs define."""


def catalogue(own: Catalogue, shared: Iterable[str] = ()) -> Catalogue:
    """A service's catalogue: its own enums and the named `SHARED` ones its subgraph carries (`Lang` always: the
    labels field carries it)."""
    merged: dict[str, Mapping[str, tuple[str, str]]] = {name: SHARED[name] for name in ("Lang", *shared)}
    overlap = merged.keys() & own.keys()
    if overlap:
        raise ValueError(f"labels of {sorted(overlap)} are shared: take them from SHARED, not a service's own")
    merged.update(own)
    return merged


def labels_field(service: str, labels: Catalogue) -> Any:
    """The root field `<service>Labels` answering for `labels` (assign it to `<service>_labels` on the Query)."""
    known = ", ".join(sorted(labels))

    def resolve(
        enum: Annotated[
            str | None,
            strawberry.argument(description="An enum's name; omitted, every enum of this subgraph."),
        ] = None,
        lang: Annotated[Lang, strawberry.argument(description="The language of the labels.")] = Lang.ID,
    ) -> list[EnumLabel]:
        if enum is None:
            names: Iterable[str] = labels
        elif enum in labels:
            names = (enum,)
        else:
            raise BadUserInput(f"{service}Labels has no enum {enum!r}; it labels {known}")
        index = 0 if lang is Lang.ID else 1
        return [
            EnumLabel(enum=name, value=value, lang=lang, label=pair[index])
            for name in names
            for value, pair in labels[name].items()
        ]

    return strawberry.federation.field(
        resolver=resolve,
        authenticated=True,
        description=(
            f"Indonesian (ID) or English (EN) labels of the {service} subgraph's enum values, grouped by enum "
            "(docs/integration.md, Labels). Public: any authenticated caller."
        ),
    )
