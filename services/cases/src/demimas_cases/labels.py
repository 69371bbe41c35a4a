"""The cases service's enum values in the programme's words, Indonesian and English: the one source of its
`casesLabels` (demimas_common.graphql.labels)."""

from __future__ import annotations

from demimas_common.graphql.labels import Catalogue, catalogue

__all__ = ["LABELS"]

LABELS: Catalogue = catalogue(
    {
        "CaseKind": {
            "COMPLAINT": ("Pengaduan", "Complaint"),
            "LEGAL_AID": ("Bantuan hukum", "Legal aid"),
            "TRAFFICKING_SUSPECTED": (
                "Dugaan tindak pidana perdagangan orang (TPPO)",
                "Suspected trafficking in persons (TPPO)",
            ),
            "NONPROCEDURAL_DEPARTURE": ("Keberangkatan nonprosedural", "Nonprocedural departure"),
            "ABUSE_ABROAD": ("Kekerasan di luar negeri", "Abuse abroad"),
            "REPATRIATION": ("Pemulangan", "Repatriation"),
            "FAMILY_WELFARE": ("Kesejahteraan keluarga PMI", "Welfare of the worker's family"),
        },
        "CasePhase": {
            "BEFORE_DEPARTURE": ("Sebelum bekerja", "Before departure"),
            "ABROAD": ("Selama bekerja", "While working abroad"),
            "AFTER_RETURN": ("Setelah bekerja", "After return"),
        },
        "CaseChannel": {
            "VILLAGE_TASK_FORCE": ("Satgas PMI desa", "Village task force"),
            "HOTLINE": ("Layanan pengaduan (hotline)", "Hotline"),
            "WALK_IN": ("Datang langsung", "Walk-in"),
            "EMBASSY": ("Perwakilan RI di luar negeri", "Indonesian mission abroad"),
            "ONLINE": ("Daring", "Online"),
        },
        "CaseStatus": {
            "OPEN": ("Dibuka", "Open"),
            "TRIAGED": ("Ditelaah", "Triaged"),
            "REFERRED": ("Dirujuk", "Referred"),
            "IN_PROGRESS": ("Dalam penanganan", "In progress"),
            "RESOLVED": ("Terselesaikan", "Resolved"),
            "CLOSED": ("Ditutup", "Closed"),
            "REOPENED": ("Dibuka kembali", "Reopened"),
        },
        "Confidentiality": {
            "STANDARD": ("Biasa", "Standard"),
            "RESTRICTED": ("Terbatas", "Restricted"),
        },
        "ReferralStatus": {
            "PENDING": ("Menunggu tanggapan", "Pending"),
            "ACCEPTED": ("Diterima", "Accepted"),
            "DECLINED": ("Ditolak", "Declined"),
            "COMPLETED": ("Selesai", "Completed"),
        },
        "OverdueKind": {
            "TRIAGE": ("Batas waktu penelaahan", "Triage deadline"),
            "REFERRAL_RESPONSE": ("Batas waktu tanggapan rujukan", "Referral response deadline"),
            "RESOLUTION": ("Batas waktu penyelesaian", "Resolution deadline"),
        },
        "CasePersonRole": {
            "WORKER": ("PMI terdaftar", "Registered migrant worker"),
            "FAMILY_MEMBER": ("Keluarga PMI terdaftar", "Registered family member"),
            "UNREGISTERED": ("Belum terdaftar", "Unregistered person"),
        },
        "CaseChangeKind": {
            "OPENED": ("Kasus dibuka", "Case opened"),
            "TRIAGED": ("Kasus ditelaah", "Case triaged"),
            "REFERRED": ("Kasus dirujuk", "Case referred"),
            "REFERRAL_ACCEPTED": ("Rujukan diterima", "Referral accepted"),
            "REFERRAL_DECLINED": ("Rujukan ditolak", "Referral declined"),
            "REFERRAL_COMPLETED": ("Rujukan selesai", "Referral completed"),
            "RESOLVED": ("Kasus terselesaikan", "Case resolved"),
            "CLOSED": ("Kasus ditutup", "Case closed"),
            "REOPENED": ("Kasus dibuka kembali", "Case reopened"),
            "OVERDUE": ("Melewati batas waktu", "Overdue"),
        },
    },
    shared=("Agency", "Sex"),
)
