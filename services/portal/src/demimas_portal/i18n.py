"""The portal's words: its own UI strings in Indonesian (the default) and English, in this one module, and the
API's labels of enum values (`pillarsLabels`, `registryLabels`, `designationLabels`, `casesLabels`), fetched through
the gateway in the chosen language and cached per language for `portal_label_ttl_seconds`.

A page never spells an enum value itself: `labels.of("PilotStatus", "ACTIVE")` gives the programme's own words,
and the raw value only when the API has no label for it (a value newer than the cache).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import babel

from demimas_portal.i18n_pages import PAGES_UI

__all__ = ["DEFAULT_LANG", "LABELS_QUERY", "LANGS", "UI", "LabelCache", "Labels", "Translator", "pick_lang"]

LANGS = ("id", "en")
DEFAULT_LANG = "id"

# key -> (Indonesian, English). `{name}` placeholders are filled by `Translator.__call__`.
UI: dict[str, tuple[str, str]] = {
    "app.name": ("Demimas: pelacak proyek percontohan", "Demimas: pilot project tracker"),
    "skip": ("Langsung ke isi", "Skip to content"),
    "nav.main": ("Navigasi utama", "Main navigation"),
    "nav.pilots": ("Proyek percontohan", "Pilot projects"),
    "nav.overdue": ("Tenggat terlewat", "Overdue milestones"),
    "nav.audit": ("Audit", "Audit"),
    "nav.signed_in_as": ("Masuk sebagai", "Signed in as"),
    "nav.region": ("wilayah", "region"),
    "nav.all_regions": ("seluruh wilayah", "all regions"),
    "lang.switch": ("Bahasa", "Language"),
    "lang.to_other": ("English", "Bahasa Indonesia"),
    "signout": ("Keluar", "Sign out"),
    "signin.title": ("Masuk", "Sign in"),
    "signin.dev_note": (
        "Lingkungan pengembangan: pilih instansi dan wilayah; portal membuat token pengembangan dengan hak akses "
        "bawaan instansi tersebut.",
        "Development environment: choose an agency and a region; the portal mints a development token with that "
        "agency's default grants.",
    ),
    "signin.agency": ("Instansi", "Agency"),
    "signin.region": (
        "Kode wilayah (opsional; wajib bagi kantor daerah)",
        "Region code (optional; required for regional offices)",
    ),
    "signin.submit": ("Masuk", "Sign in"),
    "signin.expired": ("Sesi Anda berakhir. Silakan masuk kembali.", "Your session has ended. Please sign in again."),
    "signin.again": (
        "Gateway tidak lagi menerima token Anda. Silakan masuk kembali.",
        "The gateway no longer accepts your token. Please sign in again.",
    ),
    "signin.signed_out": ("Anda telah keluar.", "You have signed out."),
    "signin.signed_out_here_only": (
        "Anda telah keluar di peramban ini, tetapi sesi tidak dapat dicabut di semua server portal. Tutup peramban "
        "untuk memastikan salinan cookie sesi tidak dapat dipakai lagi.",
        "You have signed out in this browser, but the session could not be revoked on every portal server. Close "
        "the browser to make sure no copy of the session cookie can be used again.",
    ),
    "signin.revoked": (
        "Sesi ini sudah diakhiri. Silakan masuk kembali.",
        "This session has been ended. Please sign in again.",
    ),
    "signin.no_keys": (
        "Masuk pengembangan tidak aktif: DEMIMAS_DEV_KEYS_DIR tidak diatur (jalankan portal dengan `make run`).",
        "Development sign-in is off: DEMIMAS_DEV_KEYS_DIR is not set (start the portal with `make run`).",
    ),
    "signin.failed": ("Gagal masuk: {reason}", "Sign-in failed: {reason}"),
    "signin.oidc_failed": (
        "Penerbit identitas menolak atau gagal memproses permintaan masuk.",
        "The identity issuer refused or could not complete the sign-in.",
    ),
    "error.title": ("Terjadi kesalahan", "Something went wrong"),
    "error.code": ("Kode", "Code"),
    "error.csrf": (
        "Formulir ini kedaluwarsa atau tidak berasal dari portal ini. Muat ulang halaman dan coba lagi.",
        "This form has expired or did not come from this portal. Reload the page and try again.",
    ),
    "error.forbidden.title": ("Akses ditolak", "Access denied"),
    "error.forbidden": (
        "Instansi {agency} tidak memiliki hak akses {scope}.",
        "The agency {agency} lacks the grant {scope}.",
    ),
    "error.forbidden.generic": (
        "Instansi {agency} tidak diizinkan: {message}",
        "The agency {agency} is not allowed: {message}",
    ),
    "error.not_found": ("Tidak ditemukan.", "Not found."),
    "error.internal": (
        "Halaman ini gagal dibuat. Kesalahan sudah dicatat; coba lagi nanti.",
        "This page could not be made. The fault has been logged; try again later.",
    ),
    "error.revocations": (
        "Portal belum dapat memeriksa status sesi Anda. Coba lagi sebentar lagi.",
        "The portal cannot check your session's status yet. Try again in a moment.",
    ),
    "error.unavailable": (
        "Gateway tidak dapat dihubungi. Coba lagi sebentar lagi.",
        "The gateway cannot be reached. Try again in a moment.",
    ),
    "error.gateway": (
        "Gateway menolak permintaan ({code}): {message}",
        "The gateway refused the request ({code}): {message}",
    ),
    "error.partial": ("Sebagian data tidak dapat ditampilkan:", "Some data could not be shown:"),
    "back.pilots": ("Kembali ke daftar proyek", "Back to the pilot list"),
    # /pilots
    "pilots.title": ("Proyek percontohan bersama", "Joint pilot projects"),
    "pilots.filters": ("Saring", "Filter"),
    "pilots.region": ("Kode wilayah", "Region code"),
    "pilots.agency": ("Instansi", "Agency"),
    "pilots.programme": ("Program tematik", "Thematic programme"),
    "pilots.status": ("Status", "Status"),
    "pilots.any": ("Semua", "Any"),
    "pilots.apply": ("Terapkan", "Apply"),
    "pilots.reset": ("Hapus saringan", "Clear filters"),
    "pilots.ignored": (
        "Isian berikut tidak dikenali dan diabaikan: {fields}",
        "These fields were not understood and were ignored: {fields}",
    ),
    "pilots.none": ("Tidak ada proyek yang cocok.", "No pilot projects match."),
    "pilots.col.title": ("Proyek", "Project"),
    "pilots.col.village": ("Desa", "Village"),
    "pilots.col.coordinator": ("Koordinator", "Coordinator"),
    "pilots.col.partners": ("Mitra", "Partners"),
    "pilots.col.status": ("Status", "Status"),
    "pilots.col.milestones": ("Tahapan", "Milestones"),
    "pilots.milestones_done": ("{done} dari {total} selesai", "{done} of {total} done"),
    "pilots.overdue": ("{count} terlambat", "{count} overdue"),
    "pilots.overdue_total": ("{count} tahapan terlambat di halaman ini.", "{count} overdue milestones on this page."),
    "pilots.next": ("Halaman berikutnya", "Next page"),
    "pilots.first": ("Halaman pertama", "First page"),
    # /pilots/{id}
    "pilot.coordinator": ("Koordinator", "Coordinator"),
    "pilot.status": ("Status", "Status"),
    "pilot.start": ("Mulai", "Start"),
    "pilot.partners": ("Mitra", "Partners"),
    "pilot.partner.agency": ("Instansi", "Agency"),
    "pilot.partner.programme": ("Program tematik", "Thematic programme"),
    "pilot.partner.commitment": ("Komitmen", "Commitment"),
    "pilot.milestones": ("Tahapan", "Milestones"),
    "pilot.milestone.title": ("Tahapan", "Milestone"),
    "pilot.milestone.due": ("Tenggat", "Due"),
    "pilot.milestone.responsible": ("Penanggung jawab", "Responsible"),
    "pilot.milestone.state": ("Keadaan", "State"),
    "pilot.milestone.done": ("Selesai {date} ({agency})", "Completed {date} ({agency})"),
    "pilot.milestone.open": ("Belum selesai", "Open"),
    "pilot.milestone.overdue": ("Terlambat", "Overdue"),
    "pilot.milestone.complete": ("Tandai selesai", "Mark completed"),
    "pilot.milestone.complete_label": ("Tandai tahapan {title} selesai", "Mark milestone {title} completed"),
    "pilot.activities": ("Kegiatan terkait", "Linked activities"),
    "pilot.activity.title": ("Kegiatan", "Activity"),
    "pilot.activity.date": ("Tanggal", "Date"),
    "pilot.activity.pillar": ("Pilar", "Pillar"),
    "pilot.activity.agency": ("Instansi", "Agency"),
    "pilot.activity.people": ("Orang terjangkau", "People reached"),
    "pilot.no_activities": ("Belum ada kegiatan terkait.", "No linked activities yet."),
    "pilot.villages": ("Desa", "Villages"),
    "pilots.more_villages": ("dan {n} desa lain", "and {n} more villages"),
    "pilot.village.lead": ("desa utama", "lead village"),
    "pilot.village.activities": ("Kegiatan proyek di desa ini: {n}", "The pilot's activities held here: {n}"),
    "pilot.milestone.village": ("Desa", "Village"),
    "pilot.milestone.all_villages": ("Semua desa", "All villages"),
    "pilot.chart.title": ("Kemajuan sepuluh pilar di {village}", "Progress of the ten pillars in {village}"),
    "pilot.chart.summary": (
        "{served} dari 10 pilar terlayani ({coverage}%) antara {start} dan {end}.",
        "{served} of 10 pillars served ({coverage}%) between {start} and {end}.",
    ),
    "pilot.chart.table": ("Angka grafik dalam tabel", "The chart's figures as a table"),
    "pilot.chart.pillar": ("Pilar", "Pillar"),
    "pilot.chart.activities": ("Kegiatan", "Activities"),
    "pilot.chart.people": ("Orang terjangkau", "People reached"),
    "pilot.chart.served": ("Terlayani", "Served"),
    "pilot.chart.last": ("Kegiatan terakhir", "Last activity"),
    "pilot.chart.none": ("Belum ada data kemajuan pilar untuk desa ini.", "No pillar progress for this village yet."),
    "yes": ("ya", "yes"),
    "no": ("tidak", "no"),
    # completing a milestone (flash messages)
    "milestone.completed": ("Tahapan ditandai selesai.", "Milestone marked completed."),
    "milestone.completed.reference": (
        "Tahapan ditandai selesai. Referensi untuk auditor: {trace}",
        "Milestone marked completed. Reference for an auditor: {trace}",
    ),
    "milestone.refused": (
        "Tahapan tidak dapat diselesaikan ({code}): {message}",
        "The milestone could not be completed ({code}): {message}",
    ),
    "milestone.refused.FORBIDDEN": (
        "Instansi Anda tidak berwenang menyelesaikan tahapan ini ({code}).",
        "Your agency may not complete this milestone ({code}).",
    ),
    "milestone.refused.CONFLICT": (
        "Tahapan ini sudah selesai atau tidak dapat diubah ({code}).",
        "This milestone is already completed or cannot change ({code}).",
    ),
    "milestone.refused.NOT_FOUND": (
        "Proyek atau tahapan tidak ditemukan ({code}).",
        "The pilot or milestone was not found ({code}).",
    ),
    "milestone.refused.BAD_USER_INPUT": (
        "Permintaan ditolak ({code}): {message}",
        "The request was refused ({code}): {message}",
    ),
    "milestone.refused.UNAVAILABLE": (
        "Gateway tidak dapat dihubungi; coba lagi ({code}).",
        "The gateway cannot be reached; try again ({code}).",
    ),
    # /overdue
    "overdue.title": ("Tahapan terlambat instansi saya", "My agency's overdue milestones"),
    "overdue.none": ("Tidak ada tahapan terlambat.", "No overdue milestones."),
    "overdue.col.pilot": ("Proyek", "Project"),
    "overdue.col.village": ("Desa", "Village"),
    "overdue.col.milestone": ("Tahapan", "Milestone"),
    "overdue.col.due": ("Tenggat", "Due"),
    "overdue.col.days": ("Hari terlambat", "Days overdue"),
}

UI.update(PAGES_UI)  # the village and auditor pages' strings (i18n_pages.py)


def pick_lang(value: str | None) -> str | None:
    """A supported language from a form field or query parameter (`id`, `en`, any case), else None."""
    if value is None:
        return None
    value = value.strip().lower()
    return value if value in LANGS else None


@dataclass(frozen=True)
class Translator:
    lang: str

    def __call__(self, key: str, **values: Any) -> str:
        pair = UI.get(key)
        if pair is None:
            return key  # a missing string shows its key: visible in review and in the unit test of the table
        text = pair[1] if self.lang == "en" else pair[0]
        return text.format(**values) if values else text


def country_name(code: str, lang: str) -> str:
    """An ISO 3166-1 alpha-2 code's name in `lang` ("id" or "en") from CLDR: MY -> Malaysia, SA -> Arab Saudi /
    Saudi Arabia; the code itself when CLDR does not know it."""
    return str(_territories(lang).get(code.upper(), code))


@functools.cache
def _territories(lang: str) -> Mapping[str, str]:
    return dict(babel.Locale.parse(lang if lang in ("id", "en") else DEFAULT_LANG).territories)


@dataclass(frozen=True)
class Labels:
    """Enum labels of one language: (enum, value) -> label."""

    lang: str
    table: Mapping[tuple[str, str], str]

    def values(self, enum: str, fallback: tuple[str, ...] = ()) -> list[str]:
        """The values of an enum: the page's `fallback` (the schema's order), then any value the API labels that
        the page does not know yet (so a new value is offered, and a missing label never hides a value)."""
        known = list(fallback)
        return known + [value for (name, value) in self.table if name == enum and value not in known]

    def of(self, enum: str, value: str | None) -> str:
        if value is None:
            return ""
        return self.table.get((enum, value), value)


# Every subgraph answers for its own enums in one query; the gateway fetches them in parallel.
LABELS_QUERY = """
query PortalLabels($lang: Lang!) {
  pillarsLabels(lang: $lang) { enum value label }
  registryLabels(lang: $lang) { enum value label }
  designationLabels(lang: $lang) { enum value label }
  casesLabels(lang: $lang) { enum value label }
}
"""


def labels_from(data: Mapping[str, Any], lang: str) -> Labels:
    """The label table of a `LABELS_QUERY` answer (fields that failed are simply absent)."""
    table: dict[tuple[str, str], str] = {}
    for field_name in ("pillarsLabels", "registryLabels", "designationLabels", "casesLabels"):
        for row in data.get(field_name) or ():
            table[(str(row["enum"]), str(row["value"]))] = str(row["label"])
    return Labels(lang=lang, table=table)


class LabelCache:
    """Labels per language, fetched once per `ttl` seconds (concurrent pages wait for one fetch).

    `fetch(lang)` is the gateway call, made with the token of whichever page needed the labels first: labels are
    public to any authenticated caller, so whose token does not change them.
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, Labels]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, lang: str, fetch: Callable[[str], Awaitable[Labels]]) -> Labels:
        entry = self._entries.get(lang)
        if entry is not None and self._clock() - entry[0] < self.ttl:
            return entry[1]
        lock = self._locks.setdefault(lang, asyncio.Lock())
        async with lock:
            entry = self._entries.get(lang)
            if entry is not None and self._clock() - entry[0] < self.ttl:
                return entry[1]
            labels = await fetch(lang)
            if labels.table:  # never cache an empty answer (a failing subgraph): ask again next page
                self._entries[lang] = (self._clock(), labels)
            return labels

    def clear(self) -> None:
        self._entries.clear()
