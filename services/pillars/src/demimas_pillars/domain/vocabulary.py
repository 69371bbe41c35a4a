"""The programme's words (docs/pillars.md): the ten service pillars and the four EMAS pillars they serve, the outputs
each pillar may report, the thematic-village programmes of the partner ministries, and the states of enrolments,
reintegration and pilot projects, and whether a village is in a thematic programme."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "OUTPUTS",
    "SERVES",
    "EmasPillar",
    "EnrolmentProgramme",
    "EnrolmentStatus",
    "OutputKind",
    "ParticipantGroup",
    "PersonKind",
    "PilotStatus",
    "ReintegrationStatus",
    "ServicePillar",
    "Sex",
    "ThematicProgramme",
    "ThematicStatusState",
]


class ServicePillar(StrEnum):
    """The ten service pillars as KP2MI lists them, in their order."""

    PROCEDURAL_MIGRATION_SERVICE = "PROCEDURAL_MIGRATION_SERVICE"
    JOB_OPPORTUNITY_INFORMATION = "JOB_OPPORTUNITY_INFORMATION"
    NONPROCEDURAL_AND_TRAFFICKING_PREVENTION = "NONPROCEDURAL_AND_TRAFFICKING_PREVENTION"
    DEPARTURE_RETURN_MONITORING = "DEPARTURE_RETURN_MONITORING"
    FINANCIAL_LITERACY_REMITTANCE = "FINANCIAL_LITERACY_REMITTANCE"
    COOPERATIVE_BUMDES = "COOPERATIVE_BUMDES"
    ENTREPRENEURSHIP = "ENTREPRENEURSHIP"
    FAMILY_STRENGTHENING = "FAMILY_STRENGTHENING"
    REINTEGRATION = "REINTEGRATION"
    DIASPORA_SERVICE = "DIASPORA_SERVICE"


class EmasPillar(StrEnum):
    EDUCATIVE = "EDUCATIVE"  # Edukatif: learning space, training, information on procedural migration
    ADVANCED = "ADVANCED"  # Maju: local innovation, digital entrepreneurship
    SAFE = "SAFE"  # Aman: legal, protected migration, complaint service, legal aid
    PROSPEROUS = "PROSPEROUS"  # Sejahtera: productive enterprise, UMKM, remittance management


SERVES: dict[ServicePillar, EmasPillar] = {
    ServicePillar.PROCEDURAL_MIGRATION_SERVICE: EmasPillar.SAFE,
    ServicePillar.JOB_OPPORTUNITY_INFORMATION: EmasPillar.EDUCATIVE,
    ServicePillar.NONPROCEDURAL_AND_TRAFFICKING_PREVENTION: EmasPillar.SAFE,
    ServicePillar.DEPARTURE_RETURN_MONITORING: EmasPillar.SAFE,
    ServicePillar.FINANCIAL_LITERACY_REMITTANCE: EmasPillar.PROSPEROUS,
    ServicePillar.COOPERATIVE_BUMDES: EmasPillar.PROSPEROUS,
    ServicePillar.ENTREPRENEURSHIP: EmasPillar.ADVANCED,
    ServicePillar.FAMILY_STRENGTHENING: EmasPillar.EDUCATIVE,
    ServicePillar.REINTEGRATION: EmasPillar.PROSPEROUS,
    ServicePillar.DIASPORA_SERVICE: EmasPillar.ADVANCED,
}
"""Which EMAS pillar each service pillar serves."""


class OutputKind(StrEnum):
    CANDIDATES_SERVED = "CANDIDATES_SERVED"
    DOCUMENTS_PROCESSED = "DOCUMENTS_PROCESSED"
    PEOPLE_INFORMED = "PEOPLE_INFORMED"
    JOB_ORDERS_SHARED = "JOB_ORDERS_SHARED"
    TRAFFICKING_CASES_REFERRED = "TRAFFICKING_CASES_REFERRED"
    NONPROCEDURAL_DEPARTURES_PREVENTED = "NONPROCEDURAL_DEPARTURES_PREVENTED"
    DEPARTURES_RECORDED = "DEPARTURES_RECORDED"
    RETURNS_RECORDED = "RETURNS_RECORDED"
    PARTICIPANTS_TRAINED = "PARTICIPANTS_TRAINED"
    REMITTANCE_ACCOUNTS_OPENED = "REMITTANCE_ACCOUNTS_OPENED"
    COOPERATIVE_MEMBERS_JOINED = "COOPERATIVE_MEMBERS_JOINED"
    LOANS_FACILITATED = "LOANS_FACILITATED"
    BUSINESSES_STARTED = "BUSINESSES_STARTED"
    FAMILIES_COUNSELLED = "FAMILIES_COUNSELLED"
    CHILDREN_SUPPORTED = "CHILDREN_SUPPORTED"
    RETURNEES_REINTEGRATED = "RETURNEES_REINTEGRATED"
    DIASPORA_VOLUNTEERS = "DIASPORA_VOLUNTEERS"


_O = OutputKind
OUTPUTS: dict[ServicePillar, frozenset[OutputKind]] = {
    ServicePillar.PROCEDURAL_MIGRATION_SERVICE: frozenset({_O.CANDIDATES_SERVED, _O.DOCUMENTS_PROCESSED}),
    ServicePillar.JOB_OPPORTUNITY_INFORMATION: frozenset({_O.PEOPLE_INFORMED, _O.JOB_ORDERS_SHARED}),
    ServicePillar.NONPROCEDURAL_AND_TRAFFICKING_PREVENTION: frozenset(
        {_O.PEOPLE_INFORMED, _O.TRAFFICKING_CASES_REFERRED, _O.NONPROCEDURAL_DEPARTURES_PREVENTED}
    ),
    ServicePillar.DEPARTURE_RETURN_MONITORING: frozenset({_O.DEPARTURES_RECORDED, _O.RETURNS_RECORDED}),
    ServicePillar.FINANCIAL_LITERACY_REMITTANCE: frozenset({_O.PARTICIPANTS_TRAINED, _O.REMITTANCE_ACCOUNTS_OPENED}),
    ServicePillar.COOPERATIVE_BUMDES: frozenset(
        {_O.COOPERATIVE_MEMBERS_JOINED, _O.LOANS_FACILITATED, _O.BUSINESSES_STARTED}
    ),
    ServicePillar.ENTREPRENEURSHIP: frozenset({_O.PARTICIPANTS_TRAINED, _O.BUSINESSES_STARTED, _O.LOANS_FACILITATED}),
    ServicePillar.FAMILY_STRENGTHENING: frozenset({_O.FAMILIES_COUNSELLED, _O.CHILDREN_SUPPORTED}),
    ServicePillar.REINTEGRATION: frozenset({_O.RETURNEES_REINTEGRATED, _O.BUSINESSES_STARTED, _O.PARTICIPANTS_TRAINED}),
    ServicePillar.DIASPORA_SERVICE: frozenset({_O.DIASPORA_VOLUNTEERS, _O.PEOPLE_INFORMED}),
}
"""The outputs an activity of each pillar may report; anything else is refused."""


class ThematicProgramme(StrEnum):
    """The partner ministries' thematic-village programmes a joint pilot combines with Demimas."""

    DRPPA = "DRPPA"  # KemenPPPA: Desa Ramah Perempuan dan Peduli Anak
    DESA_BERSINAR = "DESA_BERSINAR"  # BNN: drug-free village
    DESA_TEMATIK = "DESA_TEMATIK"  # Kemendes PDT
    BUMDES = "BUMDES"  # Kemendes PDT: village-owned enterprises
    DESA_BINAAN_IMIGRASI = "DESA_BINAAN_IMIGRASI"  # Kemenimipas (Pimpasa)
    DESA_SIAP_SIAGA = "DESA_SIAP_SIAGA"  # BNPT


class ThematicStatusState(StrEnum):
    """Whether a village is in a thematic programme now (ACTIVE) or was (ENDED, with the day and a reason)."""

    ACTIVE = "ACTIVE"
    ENDED = "ENDED"


class Sex(StrEnum):
    FEMALE = "FEMALE"
    MALE = "MALE"


class ParticipantGroup(StrEnum):
    """Who unregistered participants are, for anonymous counts."""

    PROSPECTIVE_WORKER = "PROSPECTIVE_WORKER"
    WORKER_FAMILY = "WORKER_FAMILY"
    RETURNEE = "RETURNEE"
    CHILD = "CHILD"
    COMMUNITY = "COMMUNITY"


class PersonKind(StrEnum):
    WORKER = "WORKER"
    FAMILY_MEMBER = "FAMILY_MEMBER"


class EnrolmentProgramme(StrEnum):
    ENTREPRENEURSHIP = "ENTREPRENEURSHIP"
    FINANCIAL_LITERACY = "FINANCIAL_LITERACY"
    VOCATIONAL_TRAINING = "VOCATIONAL_TRAINING"
    LANGUAGE_TRAINING = "LANGUAGE_TRAINING"
    COMMUNITY_PARENTING = "COMMUNITY_PARENTING"
    COOPERATIVE_MEMBERSHIP = "COOPERATIVE_MEMBERSHIP"


class EnrolmentStatus(StrEnum):
    ENROLLED = "ENROLLED"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    DROPPED = "DROPPED"

    @property
    def final(self) -> bool:
        return self in (EnrolmentStatus.COMPLETED, EnrolmentStatus.DROPPED)


class ReintegrationStatus(StrEnum):
    WAITING = "WAITING"
    IN_PROGRESS = "IN_PROGRESS"
    REINTEGRATED = "REINTEGRATED"


class PilotStatus(StrEnum):
    PLANNED = "PLANNED"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
