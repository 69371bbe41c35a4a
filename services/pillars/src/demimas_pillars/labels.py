"""The pillars vocabulary in the programme's words (KP2MI's ten service pillars, the Desa Migran EMAS motto "Edukatif,
Maju, Aman, Sejahtera", the partner ministries' thematic villages), Indonesian and English: the one source of its
`pillarsLabels` (demimas_common.graphql.labels)."""

from __future__ import annotations

from demimas_common.graphql.labels import Catalogue, catalogue

__all__ = ["LABELS"]

LABELS: Catalogue = catalogue(
    {
        "ServicePillar": {
            "PROCEDURAL_MIGRATION_SERVICE": ("Layanan migrasi prosedural", "Procedural migration service"),
            "JOB_OPPORTUNITY_INFORMATION": ("Informasi peluang kerja", "Job opportunity information"),
            "NONPROCEDURAL_AND_TRAFFICKING_PREVENTION": (
                "Pencegahan PMI nonprosedural dan TPPO",
                "Prevention of nonprocedural migration and trafficking",
            ),
            "DEPARTURE_RETURN_MONITORING": (
                "Pemantauan keberangkatan dan kepulangan PMI",
                "Departure and return monitoring",
            ),
            "FINANCIAL_LITERACY_REMITTANCE": (
                "Literasi keuangan dan pengelolaan remitansi",
                "Financial literacy and remittance management",
            ),
            "COOPERATIVE_BUMDES": ("Koperasi dan BUMDes", "Cooperatives and village-owned enterprises (BUMDes)"),
            "ENTREPRENEURSHIP": ("Kewirausahaan", "Entrepreneurship"),
            "FAMILY_STRENGTHENING": ("Penguatan keluarga PMI", "Strengthening migrant workers' families"),
            "REINTEGRATION": ("Reintegrasi purna PMI", "Returnee reintegration"),
            "DIASPORA_SERVICE": ("Layanan diaspora", "Diaspora service"),
        },
        "EmasPillar": {
            "EDUCATIVE": ("Edukatif", "Educative"),
            "ADVANCED": ("Maju", "Advanced"),
            "SAFE": ("Aman", "Safe"),
            "PROSPEROUS": ("Sejahtera", "Prosperous"),
        },
        "OutputKind": {
            "CANDIDATES_SERVED": ("CPMI terlayani", "Prospective workers served"),
            "DOCUMENTS_PROCESSED": ("Dokumen diproses", "Documents processed"),
            "PEOPLE_INFORMED": ("Warga menerima informasi", "People informed"),
            "JOB_ORDERS_SHARED": ("Lowongan kerja disebarkan", "Job orders shared"),
            "TRAFFICKING_CASES_REFERRED": ("Kasus TPPO dirujuk", "Trafficking cases referred"),
            "NONPROCEDURAL_DEPARTURES_PREVENTED": (
                "Keberangkatan nonprosedural dicegah",
                "Nonprocedural departures prevented",
            ),
            "DEPARTURES_RECORDED": ("Keberangkatan tercatat", "Departures recorded"),
            "RETURNS_RECORDED": ("Kepulangan tercatat", "Returns recorded"),
            "PARTICIPANTS_TRAINED": ("Peserta pelatihan", "Participants trained"),
            "REMITTANCE_ACCOUNTS_OPENED": ("Rekening remitansi dibuka", "Remittance accounts opened"),
            "COOPERATIVE_MEMBERS_JOINED": ("Anggota koperasi baru", "Cooperative members joined"),
            "LOANS_FACILITATED": ("Pembiayaan difasilitasi", "Loans facilitated"),
            "BUSINESSES_STARTED": ("Usaha baru dirintis", "Businesses started"),
            "FAMILIES_COUNSELLED": ("Keluarga PMI didampingi", "Families counselled"),
            "CHILDREN_SUPPORTED": ("Anak PMI didampingi", "Children supported"),
            "RETURNEES_REINTEGRATED": ("Purna PMI tereintegrasi", "Returnees reintegrated"),
            "DIASPORA_VOLUNTEERS": ("Relawan diaspora", "Diaspora volunteers"),
        },
        "ThematicProgramme": {
            "DRPPA": ("Desa Ramah Perempuan dan Peduli Anak (DRPPA)", "Women- and child-friendly village (DRPPA)"),
            "DESA_BERSINAR": ("Desa Bersih Narkoba (Desa Bersinar)", "Drug-free village (Desa Bersinar)"),
            "DESA_TEMATIK": ("Desa tematik", "Thematic village"),
            "BUMDES": ("Badan Usaha Milik Desa (BUMDes)", "Village-owned enterprise (BUMDes)"),
            "DESA_BINAAN_IMIGRASI": ("Desa Binaan Imigrasi", "Immigration-assisted village"),
            "DESA_SIAP_SIAGA": ("Desa Siap Siaga", "Preparedness village (Desa Siap Siaga)"),
        },
        "ParticipantGroup": {
            "PROSPECTIVE_WORKER": ("Calon PMI", "Prospective migrant worker"),
            "WORKER_FAMILY": ("Keluarga PMI", "Migrant worker's family"),
            "RETURNEE": ("Purna PMI", "Returnee"),
            "CHILD": ("Anak", "Child"),
            "COMMUNITY": ("Masyarakat umum", "Community"),
        },
        "PersonKind": {
            "WORKER": ("PMI", "Migrant worker"),
            "FAMILY_MEMBER": ("Anggota keluarga PMI", "Family member"),
        },
        "EnrolmentProgramme": {
            "ENTREPRENEURSHIP": ("Pelatihan kewirausahaan", "Entrepreneurship"),
            "FINANCIAL_LITERACY": ("Literasi keuangan", "Financial literacy"),
            "VOCATIONAL_TRAINING": ("Pelatihan vokasi", "Vocational training"),
            "LANGUAGE_TRAINING": ("Pelatihan bahasa", "Language training"),
            "COMMUNITY_PARENTING": ("Pengasuhan berbasis komunitas (community parenting)", "Community parenting"),
            "COOPERATIVE_MEMBERSHIP": ("Keanggotaan koperasi", "Cooperative membership"),
        },
        "EnrolmentStatus": {
            "ENROLLED": ("Terdaftar", "Enrolled"),
            "ACTIVE": ("Aktif mengikuti", "Active"),
            "COMPLETED": ("Lulus", "Completed"),
            "DROPPED": ("Berhenti", "Dropped"),
        },
        "ReintegrationStatus": {
            "WAITING": ("Menunggu pendampingan", "Waiting"),
            "IN_PROGRESS": ("Dalam pendampingan", "In progress"),
            "REINTEGRATED": ("Tereintegrasi", "Reintegrated"),
        },
        "PilotStatus": {
            "PLANNED": ("Direncanakan", "Planned"),
            "ACTIVE": ("Berjalan", "Active"),
            "COMPLETED": ("Selesai", "Completed"),
            "CANCELLED": ("Dibatalkan", "Cancelled"),
        },
        "ThematicStatusState": {
            "ACTIVE": ("Berlaku", "Active"),
            "ENDED": ("Berakhir", "Ended"),
        },
        "PilotProjectChangeKind": {
            "CREATED": ("Proyek percontohan dibuat", "Pilot project created"),
            "MILESTONE_COMPLETED": ("Tahapan selesai", "Milestone completed"),
        },
    },
    shared=("Agency", "Sex"),
)
