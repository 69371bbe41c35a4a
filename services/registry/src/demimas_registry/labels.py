"""The registry's enum values in the programme's words, Indonesian and English (UU 18/2017 terms): the one source of
its `registryLabels` (demimas_common.graphql.labels)."""

from __future__ import annotations

from demimas_common.graphql.labels import Catalogue, catalogue

__all__ = ["LABELS"]

LABELS: Catalogue = catalogue(
    {
        "WorkerStatus": {
            "CANDIDATE": ("Calon Pekerja Migran Indonesia (CPMI)", "Prospective migrant worker (CPMI)"),
            "ABROAD": ("PMI bekerja di luar negeri", "Working abroad"),
            "RETURNED": ("Purna PMI", "Returned migrant worker"),
        },
        "EducationLevel": {
            "NONE": ("Tidak/belum sekolah", "No schooling"),
            "SD": ("SD/MI", "Primary school (SD)"),
            "SMP": ("SMP/MTs", "Junior secondary school (SMP)"),
            "SMA": ("SMA/MA", "Senior secondary school (SMA)"),
            "SMK": ("SMK/MAK", "Vocational secondary school (SMK)"),
            "DIPLOMA": ("Diploma (D1-D4)", "Diploma (D1-D4)"),
            "S1": ("Sarjana (S1)", "Bachelor's degree (S1)"),
            "S2": ("Magister (S2)", "Master's degree (S2)"),
            "S3": ("Doktor (S3)", "Doctorate (S3)"),
        },
        "Sector": {
            "FORMAL": ("Formal (pemberi kerja berbadan hukum)", "Formal (employer is a legal entity)"),
            "INFORMAL": ("Informal (pemberi kerja perseorangan)", "Informal (employer is an individual)"),
        },
        "PlacementScheme": {
            "G_TO_G": ("Government to Government (G to G)", "Government to Government (G to G)"),
            "P_TO_P": ("Private to Private (P to P, melalui P3MI)", "Private to Private (P to P, through a P3MI)"),
            "UKPS": (
                "Perusahaan untuk kepentingan perusahaan sendiri (UKPS)",
                "Company placing its own employees (UKPS)",
            ),
            "INDEPENDENT": ("Perseorangan (mandiri)", "Independent (individual)"),
        },
        "ReturnReason": {
            "CONTRACT_ENDED": ("Kontrak kerja selesai", "Contract ended"),
            "TERMINATED_EARLY": ("Pemutusan hubungan kerja sebelum kontrak selesai", "Terminated early"),
            "PROTECTION_CASE": ("Kasus pelindungan", "Protection case"),
            "DEPORTED": ("Dideportasi", "Deported"),
            "HEALTH": ("Alasan kesehatan", "Health"),
            "FAMILY": ("Alasan keluarga", "Family reasons"),
            "OTHER": ("Lainnya", "Other"),
        },
        "Relation": {
            "SPOUSE": ("Suami/istri", "Spouse"),
            "CHILD": ("Anak", "Child"),
            "PARENT": ("Orang tua", "Parent"),
        },
        "ConsentGiver": {
            "PARENT": ("Orang tua", "Parent"),
            "GUARDIAN": ("Wali", "Guardian"),
        },
        "VillageKind": {
            "KELURAHAN": ("Kelurahan", "Urban village (kelurahan)"),
            "DESA": ("Desa", "Village (desa)"),
            "DESA_ADAT": ("Desa adat", "Customary village (desa adat)"),
        },
        "ImportJobStatus": {
            "RUNNING": ("Sedang diimpor", "Importing"),
            "SUCCEEDED": ("Impor selesai", "Import succeeded"),
            "REJECTED": ("Berkas ditolak", "File rejected"),
            "INTERRUPTED": ("Impor terputus", "Import interrupted"),
        },
        "WorkerChangeKind": {
            "REGISTERED": ("Didaftarkan", "Registered"),
            "UPDATED": ("Diperbarui", "Updated"),
            "DEPARTED": ("Berangkat", "Departed"),
            "RETURNED": ("Kembali ke tanah air", "Returned home"),
        },
    },
    shared=("Sex",),
)
