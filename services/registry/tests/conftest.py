"""Registry test fixtures: a provisioned and migrated `registry` schema, with the village reference loaded, on
the session's throw-away PostgreSQL; hostile import files crafted by hand."""

from __future__ import annotations

import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

import demimas_registry
from demimas_common.db.engine import create_engine
from demimas_common.db.migrate import upgrade
from demimas_common.db.provision import owner_role, provision_service, runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.testing import TestStack
from demimas_registry.adapters.villages import load_villages
from demimas_registry.importer.template import COLUMNS


@dataclass(frozen=True)
class RegistryDatabase:
    admin_url: str
    owner_url: str
    runtime_url: str


@pytest.fixture(scope="session")
async def registry_db(stack: TestStack) -> AsyncIterator[RegistryDatabase]:
    admin = stack.database_url
    engine = create_engine(admin, pool_size=1)
    try:
        async with engine.begin() as conn:
            await provision_service(conn, "registry")
    finally:
        await engine.dispose()
    owner = with_user(admin, owner_role("registry"))
    await upgrade(owner, schema="registry", script_location=Path(demimas_registry.__file__).parent / "migrations")
    runtime = with_user(admin, runtime_role("registry"))
    engine = create_engine(runtime, pool_size=1)
    try:
        async with engine.begin() as conn:
            await load_villages(conn)
    finally:
        await engine.dispose()
    return RegistryDatabase(admin_url=admin, owner_url=owner, runtime_url=runtime)


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="xl/workbook.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="workers" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/></Relationships>'
)
_SHEET_START = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<dimension ref="A1:XFD1048576"/><sheetData>'
)
_SHEET_END = "</sheetData></worksheet>"


def _column_letter(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def sheet_row(number: int, cells: dict[int, str]) -> str:
    """One `<row>` of inline strings: {column number: text}."""
    body = "".join(
        f'<c r="{_column_letter(col)}{number}" t="inlineStr"><is><t>{escape(text)}</t></is></c>'
        for col, text in sorted(cells.items())
    )
    return f'<row r="{number}">{body}</row>'


class HostileFiles:
    """Import files written by hand (zipfile, a few bytes of XML), as an attacker would: every XLSX here declares
    the largest sheet Excel allows, `<dimension ref="A1:XFD1048576"/>`, whatever it really holds."""

    row = staticmethod(sheet_row)

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def header(self) -> dict[int, str]:
        return {i: c.name for i, c in enumerate(COLUMNS, start=1)}

    def xlsx(self, name: str, rows: list[str], *, padding: int = 0) -> Path:
        """A workbook whose sheet holds `rows` (from `sheet_row`), then `padding` bytes of blanks (compressed
        about a thousand times: a zip bomb when large)."""
        path = self.folder / name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
            archive.writestr("_rels/.rels", _RELS)
            archive.writestr("xl/workbook.xml", _WORKBOOK)
            archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
            with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
                sheet.write((_SHEET_START + "".join(rows)).encode())
                blanks = b" " * (1 << 20)
                for _ in range(padding // len(blanks)):
                    sheet.write(blanks)
                sheet.write(_SHEET_END.encode())
        return path

    def huge_dimension(self) -> Path:
        """The tester's file: a header, and one real cell in the sheet's last row and column."""
        return self.xlsx("dimension.xlsx", [sheet_row(1, self.header()), sheet_row(1_048_576, {16_384: "x"})])

    def zip_bomb(self) -> Path:
        """200 MiB of sheet in about 200 KB."""
        return self.xlsx("bomb.xlsx", [sheet_row(1, self.header())], padding=200 << 20)

    def csv(self, name: str, data: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(data)
        return path

    def not_utf8_csv(self) -> Path:
        """Saved as Latin-1 (Excel's "CSV" on many machines): a name with an é on the first data line."""
        names = ",".join(c.name for c in COLUMNS)
        return self.csv("latin1.csv", f"{names}\n1606135508950001,José Aminah,FEMALE\n".encode("latin-1"))


@pytest.fixture
def hostile(tmp_path: Path) -> HostileFiles:
    return HostileFiles(tmp_path)
