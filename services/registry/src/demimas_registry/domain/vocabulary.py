"""The registry's closed vocabularies (UU 18/2017 terms in the docstrings, for agency staff who search them)."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ConsentGiver",
    "EducationLevel",
    "PlacementScheme",
    "Relation",
    "ReturnReason",
    "Sector",
    "Sex",
    "VillageKind",
    "WorkerStatus",
]


class WorkerStatus(StrEnum):
    """CANDIDATE = calon PMI (CPMI); ABROAD = PMI bekerja di luar negeri; RETURNED = purna PMI."""

    CANDIDATE = "CANDIDATE"
    ABROAD = "ABROAD"
    RETURNED = "RETURNED"


class Sex(StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"


class EducationLevel(StrEnum):
    """Pendidikan terakhir: tidak sekolah, SD, SMP, SMA, SMK, diploma (D1-D4), S1, S2, S3."""

    NONE = "NONE"
    SD = "SD"
    SMP = "SMP"
    SMA = "SMA"
    SMK = "SMK"
    DIPLOMA = "DIPLOMA"
    S1 = "S1"
    S2 = "S2"
    S3 = "S3"


class Sector(StrEnum):
    """FORMAL = badan hukum pemberi kerja; INFORMAL = perseorangan (e.g. domestic workers)."""

    FORMAL = "FORMAL"
    INFORMAL = "INFORMAL"


class PlacementScheme(StrEnum):
    """Skema penempatan: G to G (pemerintah), P to P (P3MI), UKPS (perusahaan untuk kepentingan sendiri),
    INDEPENDENT (perseorangan/mandiri)."""

    G_TO_G = "G_TO_G"
    P_TO_P = "P_TO_P"
    UKPS = "UKPS"
    INDEPENDENT = "INDEPENDENT"


class ReturnReason(StrEnum):
    CONTRACT_ENDED = "CONTRACT_ENDED"
    TERMINATED_EARLY = "TERMINATED_EARLY"
    PROTECTION_CASE = "PROTECTION_CASE"
    DEPORTED = "DEPORTED"
    HEALTH = "HEALTH"
    FAMILY = "FAMILY"
    OTHER = "OTHER"


class Relation(StrEnum):
    """Keluarga PMI (UU 18/2017): suami/istri, anak, orang tua."""

    SPOUSE = "SPOUSE"
    CHILD = "CHILD"
    PARENT = "PARENT"


class ConsentGiver(StrEnum):
    """Who consented to recording a child's data (UU 27/2022 Pasal 25): orang tua or wali."""

    PARENT = "PARENT"
    GUARDIAN = "GUARDIAN"


class VillageKind(StrEnum):
    """First digit of the village part of a Kemendagri code: 1 kelurahan, 2 desa, 3 desa adat."""

    KELURAHAN = "KELURAHAN"
    DESA = "DESA"
    DESA_ADAT = "DESA_ADAT"
