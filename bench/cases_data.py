"""The generated protection cases of the cases benchmark: N cases over every Kemendagri village, weighted as the
scale simulation weighs workers (`bench.scale_data.village_counts`: sending provinces, log-normal regencies and
villages), copied into the cases tables with asyncpg (COPY, not through GraphQL).

- **Status and age.** 43% CLOSED and 15% RESOLVED over the last three years; the active ones (OPEN 5%, TRIAGED 8%,
  REFERRED 10%, IN_PROGRESS 17%, REOPENED 2%) over the last 180 days (OPEN over the last week): their clocks run
  as the service computes them (`demimas_cases.domain.clocks.Clocks`, `next_due_at` the earliest running).
- **Referrals.** REFERRED cases have a PENDING referral (72 hours to answer), IN_PROGRESS ones an ACCEPTED one, to
  KemenPPPA, Kemenimipas, BNN, BP3MI or KP2MI; the agency referred to is in `referred_to` and `holders`.
- **Escalated already.** Every item that fell due before now was escalated when it did (its `*_escalated_at` set),
  as a sweep running every minute leaves it. `reset_overdue` then makes ~1% of the cases' items overdue and not yet
  escalated again, the backlog the timed sweep finds.
- **People and content.** One unregistered person per case, a description and a reporter; trafficking and family
  welfare cases RESTRICTED; owners DISNAKER 60%, BP3MI 30%, KP2MI 10%.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

import orjson

from bench.scale_data import village_counts, villages
from demimas_cases.domain.clocks import Clocks
from demimas_cases.domain.vocabulary import CaseKind
from demimas_common.db.urls import asyncpg_dsn

__all__ = ["Rows", "case_rows", "load_rows", "reset_overdue"]

Rows = dict[str, list[tuple[Any, ...]]]  # table -> records to COPY
STATUSES = (("CLOSED", 43), ("RESOLVED", 15), ("OPEN", 5), ("TRIAGED", 8), ("REFERRED", 10), ("IN_PROGRESS", 17),
            ("REOPENED", 2))  # fmt: skip
ACTIVE = {"OPEN", "TRIAGED", "REFERRED", "IN_PROGRESS", "REOPENED"}
KINDS = ((CaseKind.COMPLAINT, 35), (CaseKind.LEGAL_AID, 10), (CaseKind.TRAFFICKING_SUSPECTED, 8),
         (CaseKind.NONPROCEDURAL_DEPARTURE, 15), (CaseKind.ABUSE_ABROAD, 12), (CaseKind.REPATRIATION, 10),
         (CaseKind.FAMILY_WELFARE, 10))  # fmt: skip
PHASES = (("BEFORE_DEPARTURE", 25), ("ABROAD", 50), ("AFTER_RETURN", 25))
CHANNELS = ("VILLAGE_TASK_FORCE", "HOTLINE", "WALK_IN", "EMBASSY", "ONLINE")
OWNERS = (("DISNAKER", 60), ("BP3MI", 30), ("KP2MI", 10))
RECEIVERS = ("KEMENPPPA", "KEMENIMIPAS", "BNN", "BP3MI", "KP2MI")
COUNTRIES = ("MY", "SA", "HK", "TW", "SG", "KR", "JP", "AE")
RESTRICTED = {CaseKind.TRAFFICKING_SUSPECTED, CaseKind.FAMILY_WELFARE}
CASE_COLUMNS = ("id", "village_code", "kind", "phase", "channel", "destination_country", "owner_agency", "opened_by",
                "confidentiality", "status", "version", "opened_at", "triage_due_at", "resolution_due_at",
                "triaged_at", "resolved_at", "closed_at", "triage_escalated_at", "resolution_escalated_at",
                "next_due_at", "referred_to", "holders")  # fmt: skip
REFERRAL_COLUMNS = ("id", "case_id", "seq", "to_agency", "reason", "referred_by", "referred_at", "due_at", "status",
                    "responded_at", "responded_by", "escalated_at")  # fmt: skip
TABLES = {"cases": CASE_COLUMNS, "case_content": ("case_id", "description", "reporter"),
          "case_people": ("case_id", "seq", "role", "name", "sex", "birth_year", "minor"),
          "referrals": REFERRAL_COLUMNS}  # fmt: skip
ESCALATION_DELAY = dt.timedelta(minutes=1)  # a sweep every minute


def _weighted(rng: random.Random, pairs: tuple[tuple[Any, int], ...], k: int) -> list[Any]:
    return rng.choices([v for v, _ in pairs], weights=[w for _, w in pairs], k=k)


def _escalated(due: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    return due + ESCALATION_DELAY if due + ESCALATION_DELAY < now else None


def case_rows(rng: random.Random, n: int, now: dt.datetime) -> Rows:
    """`n` cases placed over the villages by the scale simulation's weights, in a shuffled order."""
    refs = villages()
    counts = village_counts(refs, n, rng)
    order = [ref.code for ref, count in zip(refs, counts, strict=True) for _ in range(count)]
    rng.shuffle(order)
    clocks = Clocks()
    statuses, kinds = _weighted(rng, STATUSES, n), _weighted(rng, KINDS, n)
    phases, owners = _weighted(rng, PHASES, n), _weighted(rng, OWNERS, n)
    rows: Rows = {name: [] for name in TABLES}
    reporter = orjson.dumps({"anonymous": True, "name": None, "contact": None, "relation": None}).decode()
    for village, status, kind, phase, owner in zip(order, statuses, kinds, phases, owners, strict=True):
        cid = uuid.uuid4()
        if status == "OPEN":
            age = dt.timedelta(minutes=rng.randrange(7 * 24 * 60))
        elif status in ACTIVE:
            age = dt.timedelta(minutes=rng.randrange(2 * 24 * 60, 180 * 24 * 60))
        else:
            age = dt.timedelta(minutes=rng.randrange(30 * 24 * 60, 3 * 365 * 24 * 60))
        opened = now - age
        triage_due, resolution_due = clocks.triage_due(opened), clocks.resolution_due(kind, opened)
        triaged = None if status == "OPEN" else opened + dt.timedelta(hours=rng.randrange(1, 24))
        resolved = opened + (age * rng.uniform(0.3, 0.9)) if status in ("RESOLVED", "CLOSED") else None
        closed = resolved + dt.timedelta(days=rng.randrange(1, 20)) if status == "CLOSED" and resolved else None
        running: list[dt.datetime] = []
        triage_escalated = resolution_escalated = None
        if status == "OPEN":
            running.append(triage_due)
            triage_escalated = _escalated(triage_due, now)
        if status in ACTIVE:
            running.append(resolution_due)
            resolution_escalated = _escalated(resolution_due, now)
        referred_to: list[str] = []
        held = [owner]
        if status in ("REFERRED", "IN_PROGRESS"):
            to = rng.choice([a for a in RECEIVERS if a != owner])
            assert triaged is not None
            referred_at = triaged + dt.timedelta(hours=rng.randrange(1, 48))
            due = clocks.referral_due(referred_at)
            pending = status == "REFERRED"
            if pending:
                running.append(due)
            responded = None if pending else referred_at + dt.timedelta(hours=rng.randrange(1, 72))
            rows["referrals"].append((uuid.uuid4(), cid, 0, to, "Rujukan untuk penanganan lanjutan", owner,
                                      referred_at, due, "PENDING" if pending else "ACCEPTED", responded,
                                      None if pending else to, _escalated(due, now) if pending else None))  # fmt: skip
            referred_to.append(to)
            held.append(to)
        restricted = kind in RESTRICTED
        rows["cases"].append((cid, village, kind.value, phase, rng.choice(CHANNELS),
                              rng.choice(COUNTRIES) if phase == "ABROAD" else None, owner, owner,
                              "RESTRICTED" if restricted else "STANDARD", status, 3, opened, triage_due,
                              resolution_due, triaged, resolved, closed, triage_escalated, resolution_escalated,
                              min(running) if running else None, referred_to, held))  # fmt: skip
        rows["case_content"].append((cid, "Pengaduan pekerja migran: gaji tidak dibayar sejak tiga bulan", reporter))
        rows["case_people"].append((cid, 0, "UNREGISTERED", "Pekerja migran", rng.choice(("FEMALE", "MALE")),
                                    rng.randrange(1970, 2004), False))  # fmt: skip
    return rows


async def load_rows(admin: str, rows: Rows) -> None:
    """COPY into the cases tables, then VACUUM ANALYZE them (visibility map and statistics, as a live table has).
    Row triggers the migrations define (if any) are left out of the COPY and their tables rebuilt afterwards by
    `demimas_cases.adapters.counts.rebuild_counts`, when that exists."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(admin))
    try:
        await conn.execute("SET session_replication_role = replica")  # no row triggers, no FK checks: bulk load
        for table, columns in TABLES.items():
            await conn.copy_records_to_table(table, schema_name="cases", records=rows[table], columns=columns)
        await conn.execute("SET session_replication_role = origin")
        await _rebuild_derived(conn)
        for table in TABLES:
            await conn.execute(f"VACUUM ANALYZE cases.{table}")
    finally:
        await conn.close()


async def _rebuild_derived(conn: Any) -> None:
    exists = await conn.fetchval("SELECT to_regproc('cases.rebuild_case_counts') IS NOT NULL")
    if exists:
        await conn.execute("SELECT cases.rebuild_case_counts()")
        await conn.execute("VACUUM ANALYZE cases.case_counts")


async def reset_overdue(admin: str, share: float, seed: int) -> int:
    """Make `share` of the overdue items escalated so far overdue and not escalated again (a backlog of that size,
    as after an outage of the sweep); how many items."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(admin))
    try:
        total = int(await conn.fetchval("SELECT count(*) FROM cases.cases"))
        await conn.execute(f"SELECT setseed({(seed % 1000) / 1000})")
        wanted = int(total * share)
        per_kind = wanted // 3
        statements = [
            """UPDATE cases.cases SET triage_escalated_at = NULL WHERE id IN (SELECT id FROM cases.cases
               WHERE status = 'OPEN' AND triage_escalated_at IS NOT NULL ORDER BY random() LIMIT $1)""",
            """UPDATE cases.cases SET resolution_escalated_at = NULL WHERE id IN (SELECT id FROM cases.cases
               WHERE status IN ('OPEN', 'TRIAGED', 'REFERRED', 'IN_PROGRESS', 'REOPENED')
               AND resolution_escalated_at IS NOT NULL ORDER BY random() LIMIT $1)""",
            """UPDATE cases.referrals SET escalated_at = NULL WHERE id IN (SELECT id FROM cases.referrals
               WHERE status = 'PENDING' AND escalated_at IS NOT NULL ORDER BY random() LIMIT $1)""",
        ]
        done = 0
        for i, statement in enumerate(statements):
            result = await conn.execute(statement, per_kind + (wanted - 3 * per_kind if i == 1 else 0))
            done += int(result.split()[-1])
        await conn.execute("VACUUM ANALYZE cases.cases")
        await conn.execute("VACUUM ANALYZE cases.referrals")
        return done
    finally:
        await conn.close()
