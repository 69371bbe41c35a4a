"""Checking an XLSX (a zip archive) from its directory alone, before any part of it is inflated: the directory's
own size, each part's compression ratio and the sum of the declared sizes. Python's zipfile never returns more
bytes than a part declares, so a part that lies about its size is cut short (and fails its CRC), not inflated
further: the declared sizes are a bound that holds."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from demimas_registry.importer.limits import (
    COMPRESSION_TOO_HIGH,
    INFLATED_TOO_LARGE,
    UNREADABLE_XLSX,
    FileRejected,
    ReadLimits,
)

__all__ = ["check_archive"]

_END_OF_DIRECTORY = b"PK\x05\x06"
_END_RECORD = struct.Struct("<4s4H2LH")  # signature, disk numbers, entries, directory size, offset, comment
_LONGEST_COMMENT = 0xFFFF
MAX_DIRECTORY_BYTES = 1024 * 1024
"""A workbook has a few dozen parts (about 100 bytes of directory each); a large directory is only a way to
make the reader allocate an object per entry."""
RATIO_CHECKED_FROM = 1024 * 1024
"""Small parts may compress oddly well (an empty sheet); the ratio matters where the size does."""


def _unreadable(detail: str) -> FileRejected:
    return FileRejected(UNREADABLE_XLSX, f"not a readable XLSX file ({detail})")


def _directory_size(path: Path) -> int:
    """The central directory's size from the end record, read from the file's tail without parsing entries."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - _END_RECORD.size - _LONGEST_COMMENT))
        tail = handle.read()
    at = tail.rfind(_END_OF_DIRECTORY)
    if at < 0 or len(tail) - at < _END_RECORD.size:
        raise _unreadable("no zip directory")
    directory_size: int = _END_RECORD.unpack_from(tail, at)[5]
    return directory_size


def check_archive(path: Path, limits: ReadLimits) -> None:
    """Raise `FileRejected` unless the archive can be opened and inflated within the limits."""
    if _directory_size(path) > MAX_DIRECTORY_BYTES:  # includes Zip64's 0xFFFFFFFF: no workbook needs it
        raise _unreadable(f"a zip directory over {MAX_DIRECTORY_BYTES} bytes")
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _unreadable(type(exc).__name__) from None
    total = 0
    for part in parts:
        total += part.file_size
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > RATIO_CHECKED_FROM and ratio > limits.max_compression_ratio:
            raise FileRejected(
                COMPRESSION_TOO_HIGH,
                f"part {part.filename} would inflate {ratio:.0f} times (from {part.compress_size} to "
                f"{part.file_size} bytes); at most {limits.max_compression_ratio} times is read "
                "(setting DEMIMAS_IMPORT_MAX_COMPRESSION_RATIO)",
            )
    if total > limits.max_inflated_bytes:
        raise FileRejected(
            INFLATED_TOO_LARGE,
            f"the workbook inflates to {total} bytes; at most {limits.max_inflated_bytes} are read "
            "(setting DEMIMAS_IMPORT_MAX_INFLATED_BYTES)",
        )
