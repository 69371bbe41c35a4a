"""Villages carried over from the former Desmigratif programme (2017-2024): a CSV of `village_code, decree_number,
decree_date` becomes designations with programme `DESMIGRATIF`. Every row is checked before anything is written;
a file with a bad row writes nothing and names each bad line."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid

from demimas_common.auth.principal import Principal
from demimas_common.errors import BadUserInput, Forbidden
from demimas_designation.domain.commands import ImportDesmigratif
from demimas_designation.domain.designation import Designation
from demimas_designation.domain.events import village_event
from demimas_designation.domain.proposal import Transition, check_decree
from demimas_designation.domain.vocabulary import DesignationStatus, Programme
from demimas_designation.service_layer.ports import DesignationUoW
from demimas_designation.service_layer.proposals import WorkflowSettings

__all__ = ["import_desmigratif", "parse_desmigratif"]

HEADER = ["village_code", "decree_number", "decree_date"]
CODE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")


def parse_desmigratif(text: str, today: dt.date) -> list[tuple[str, str, dt.date]]:
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if header != HEADER:
        raise BadUserInput(f"the header must be {','.join(HEADER)} (found {','.join(header) or 'nothing'})",
                           field="header")  # fmt: skip
    rows: list[tuple[str, str, dt.date]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 3:
            problems.append(f"line {line}: 3 columns expected, found {len(row)}")
            continue
        code, number, raw_date = (cell.strip() for cell in row)
        if not CODE.match(code):
            problems.append(f"line {line}: {code!r} is not a village code like 16.06.13.2001")
            continue
        if code in seen:
            problems.append(f"line {line}: village {code} appears twice")
            continue
        try:
            decree = check_decree(number, dt.date.fromisoformat(raw_date), today)
        except ValueError:
            problems.append(f"line {line}: decree date {raw_date!r} is not YYYY-MM-DD")
            continue
        except BadUserInput as exc:
            problems.append(f"line {line}: {exc.message}")
            continue
        seen.add(code)
        rows.append((code, decree.number, decree.date))
    if problems:
        raise BadUserInput("the file was not imported: " + "; ".join(problems), field="file", lines=len(problems))
    return rows


async def import_desmigratif(cmd: ImportDesmigratif, uow: DesignationUoW, principal: Principal,
                             settings: WorkflowSettings) -> int:  # fmt: skip
    """How many villages were designated: every row of the file, or none (a village designated already is a
    CONFLICT that rolls the whole file back)."""
    if not principal.has_scope("designation:decide"):
        raise Forbidden("importing designations needs the designation:decide scope", reason="scope")
    now = settings.clock()
    rows = parse_desmigratif(cmd.text, now.date())
    agency, sub = principal.agency.value, principal.sub
    for code, number, date in rows:
        active = Transition(DesignationStatus.ACTIVE, now, agency, sub, "carried over")
        decree = check_decree(number, date, now.date())
        d = Designation(uuid.uuid4(), code, decree, Programme.DESMIGRATIF, history=[active])
        await uow.designations.add(d)
        uow.publish(village_event(d))
    await uow.commit()
    return len(rows)
