"""The designation workflow's enum values in the programme's words (KP2MI's criteria for Desa Migran EMAS), Indonesian
and English: the one source of its `designationLabels` (demimas_common.graphql.labels)."""

from __future__ import annotations

from demimas_common.graphql.labels import Catalogue, catalogue

__all__ = ["LABELS"]

LABELS: Catalogue = catalogue(
    {
        "Criterion": {
            "TASK_FORCE": ("Satgas pelindungan PMI desa", "Village migrant-worker protection task force"),
            "INFRASTRUCTURE": ("Sarana dan prasarana layanan", "Service infrastructure"),
            "EMPOWERMENT_PROGRAMMES": ("Program pemberdayaan", "Empowerment programmes"),
            "PROCEDURAL_SHARE": ("Persentase PMI prosedural", "Share of procedural migration"),
            "RETURNEE_BUSINESS_GROUP": ("Kelompok usaha purna PMI", "Returnee business group"),
            "SUSTAINED_PROTECTION": ("Keberlanjutan pelindungan", "Sustained protection"),
            "HAS_PMI_RESIDENTS": ("Desa asal PMI", "Has migrant-worker residents"),
            "VILLAGE_REGULATION": ("Peraturan desa (Perdes) pelindungan PMI", "Village regulation on protection"),
        },
        "CriterionStatus": {
            "MET": ("Terpenuhi", "Met"),
            "NOT_MET": ("Belum terpenuhi", "Not met"),
            "UNKNOWN": ("Belum diketahui", "Unknown"),
        },
        "EvidenceSource": {
            "REGISTRY_DATA": ("Data registri PMI", "Registry data"),
            "DOCUMENT": ("Dokumen", "Document"),
            "FIELD_VISIT": ("Kunjungan lapangan", "Field visit"),
        },
        "EvidenceKind": {
            "TASK_FORCE_DECREE": ("SK kepala desa tentang satgas PMI", "Village head's task-force decree"),
            "VILLAGE_REGULATION": ("Peraturan desa (Perdes)", "Village regulation (Perdes)"),
            "SERVICE_INFRASTRUCTURE": ("Sarana dan prasarana layanan", "Service infrastructure"),
            "EMPOWERMENT_PROGRAMME": ("Program pemberdayaan", "Empowerment programme"),
            "RETURNEE_BUSINESS_GROUP": ("Kelompok usaha purna PMI", "Returnee business group"),
            "FIELD_VISIT": ("Laporan kunjungan lapangan", "Field visit report"),
        },
        "ProposalStatus": {
            "DRAFT": ("Draf", "Draft"),
            "SUBMITTED": ("Diajukan", "Submitted"),
            "VERIFIED": ("Diverifikasi", "Verified"),
            "ASSESSED": ("Dinilai", "Assessed"),
            "APPROVED": ("Disetujui", "Approved"),
            "REJECTED": ("Ditolak", "Rejected"),
            "WITHDRAWN": ("Ditarik", "Withdrawn"),
        },
        "ProposalChangeKind": {
            "SUBMITTED": ("Usulan diajukan", "Proposal submitted"),
            "VERIFIED": ("Usulan diverifikasi", "Proposal verified"),
            "ASSESSED": ("Usulan dinilai", "Proposal assessed"),
            "APPROVED": ("Usulan disetujui", "Proposal approved"),
            "REJECTED": ("Usulan ditolak", "Proposal rejected"),
        },
        "DesignationStatus": {
            "ACTIVE": ("Aktif", "Active"),
            "SUSPENDED": ("Ditangguhkan", "Suspended"),
            "REVOKED": ("Dicabut", "Revoked"),
        },
        "DesignationChangeKind": {
            "DESIGNATED": ("Ditetapkan", "Designated"),
            "SUSPENDED": ("Penetapan ditangguhkan", "Designation suspended"),
            "REVOKED": ("Penetapan dicabut", "Designation revoked"),
        },
        "Programme": {
            "DEMIMAS": (
                "Desa Migran EMAS (Edukatif, Maju, Aman, Sejahtera)",
                "EMAS Migrant Village (Educative, Advanced, Safe, Prosperous)",
            ),
            "DESMIGRATIF": ("Desa Migran Produktif (Desmigratif)", "Productive Migrant Village (Desmigratif)"),
        },
    },
)
