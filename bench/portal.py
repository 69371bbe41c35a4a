"""Portal benchmark (issue 21; `make bench-portal`, or `python -m bench.portal`).

On a throw-away durable embedded PostgreSQL (fsync on) and NATS, every subgraph, the gateway and the portal run as
in `make run` (their own uvicorn processes, real HTTP on loopback), each on a free port (never 4000-4007, which
`make run` may hold). Seeded through the gateway's mutations with the agencies' own tokens, so every use case,
rule and outbox event runs as in production:

- BENCH_PORTAL_PILOTS (1,000) joint pilots of Kemenko Polkam over BENCH_PORTAL_VILLAGES (100) villages of every
  province (`pilot_plan`: 2-3 partners with their programmes, three milestones, start dates over the last 400
  days; six in ten ACTIVE, two PLANNED, one COMPLETED, one CANCELLED; seven in ten milestones already due are
  completed, the rest are overdue while the pilot is open);
- one village (`VILLAGE`, Kaligowong's neighbour in Wonosobo is not needed: a village of Musi Banyuasin) with
  BENCH_PORTAL_WORKERS (30) workers registered and most of them departed abroad, an activity of every pillar (with
  anonymous participants and outputs), thematic statuses of three programmes (each set by its owner), a designation
  proposal, three of the pilots (one linked to activities), and a protection case.

Then the measured client signs in through the portal's dev sign-in as KEMENKO_POLKAM (a real session cookie: the
token the portal minted is read back from the cookie with the portal's own session key, so the gateway figures use
the same token) and, after BENCH_PORTAL_WARMUP (30) untimed rounds, runs BENCH_PORTAL_TIMED (200) rounds, each
requesting in turn, one at a time:

- `/pilots` (the first page, 25 of the 1,000) and the same `PortalPilots` document with the same variables straight
  to the gateway;
- `/pilots/{id}` of the village's pilot and `PortalPilot`;
- `/villages/{code}` and the page's two queries (`PortalVillage`, `PortalVillageThematic`), sent together as the
  page sends them (when the portal has the village page).

Page and gateway requests alternate within a round (their order flips every round), so the machine's noise falls on
both alike. Server time = the wall time of one request on loopback (httpx, keep-alive). `portal_overhead_ratio_*` =
page p50 / the gateway queries' p50; the portal's own split comes from its `Server-Timing` header (gateway wait,
template rendering, total). The enum labels the portal caches (300 s) are not part of either side.
Figures to bench/results/portal.json (BENCH_PORTAL_OUT names another file). BENCH_PORTAL_PROFILE=1 runs the portal
under cProfile (stats to bench/.work/portal-profile.txt; such a run's figures are not measurements).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import pstats
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.gateway_servers import NO_RATE_LIMITS
from bench.harness import (
    RESULTS,
    ROOT,
    WORK,
    BenchError,
    env_int,
    exit_on_signals,
    now,
    percentile,
    print_summary,
    run_label,
    write_results,
)

__all__ = [
    "Series",
    "Target",
    "measure",
    "page_targets",
    "parse_server_timing",
    "pilot_plan",
    "seed_pilots",
    "seed_village",
    "sign_in",
    "spread_villages",
    "summarise",
    "token_of",
]

GOAL_MS = 150
RATIO_GOAL = 1.5
VILLAGE = "16.06.13.2001"  # Ulak Paceh, Musi Banyuasin (the seed meeting's pilot regency)
PARTNERS = [("KEMENPPPA", "DRPPA"), ("BNN", "DESA_BERSINAR"), ("KEMENDES", "BUMDES"),
            ("KEMENIMIPAS", "DESA_BINAAN_IMIGRASI")]  # fmt: skip
CREATE = """mutation BenchPilot($in: PilotProjectInput!) {
  createPilotProject(input: $in) { id status milestones { id dueDate } } }"""
STATUS = """mutation BenchStatus($id: ID!, $s: PilotStatus!, $r: String) {
  setPilotStatus(id: $id, status: $s, reason: $r) { id } }"""
COMPLETE = """mutation BenchComplete($p: ID!, $m: ID!, $on: Date!) {
  completeMilestone(pilotId: $p, milestoneId: $m, completedOn: $on) { id } }"""


# -- pure helpers (tests/test_bench_portal.py) ------------------------------------------------------------------------


@dataclass(frozen=True)
class PilotPlan:
    """What one seeded pilot becomes: its input, the statuses it moves through, the milestones (by index) completed."""

    input: dict[str, Any]
    statuses: tuple[str, ...]
    complete: tuple[int, ...]


def pilot_plan(i: int, village: str, today: dt.date) -> PilotPlan:
    """The i-th pilot: deterministic, so a run is repeatable. Milestones 20, 120 and 365 days after a start 30 to
    429 days ago; seven in ten past-due milestones completed (on their due date), the rest overdue while open."""
    start = today - dt.timedelta(days=30 + (i * 37) % 400)
    chosen = [PARTNERS[(i + k) % len(PARTNERS)] for k in range(2 + i % 2)]
    partners = [{"agency": a, "programme": p, "commitment": f"Komitmen {a}"} for a, p in chosen]
    responsible = ["KEMENKO_POLKAM", chosen[0][0], chosen[-1][0]]
    milestones = [
        {"title": f"Tahap {n + 1}", "dueDate": (start + dt.timedelta(days=days)).isoformat(),
         "responsibleAgency": responsible[n]}
        for n, days in enumerate((20, 120, 365))
    ]  # fmt: skip
    due = [n for n, days in enumerate((20, 120, 365)) if start + dt.timedelta(days=days) <= today]
    complete = tuple(n for n in due if (i * 7 + n * 3) % 10 < 7)
    statuses = {0: (), 1: (), 8: ("ACTIVE", "COMPLETED"), 9: ("CANCELLED",)}.get(i % 10, ("ACTIVE",))
    title = f"Pilot Demimas terpadu {i + 1:04d}"
    pilot = {"villageCode": village, "title": title, "startDate": start.isoformat(), "partners": partners,
             "milestones": milestones}  # fmt: skip
    return PilotPlan(pilot, statuses, complete)


def spread_villages(codes: Sequence[str], count: int) -> list[str]:
    """`count` desa codes taken round-robin over the provinces (in the order of `codes`)."""
    by_province: dict[str, list[str]] = {}
    for code in codes:
        if len(code) == 13 and code[9] == "2":
            by_province.setdefault(code[:2], []).append(code)
    found: list[str] = []
    depth = 0
    while len(found) < count and any(len(v) > depth for v in by_province.values()):
        for villages in by_province.values():
            if len(villages) > depth and len(found) < count:
                found.append(villages[depth * 7 % len(villages)] if depth else villages[0])
        depth += 1
    return sorted(set(found))


_TIMING = re.compile(r"\s*([A-Za-z0-9_-]+)\s*(?:;[^,]*?dur=([0-9.]+))?[^,]*")


def parse_server_timing(value: str | None) -> dict[str, float]:
    """`gateway;dur=1.5, render;dur=2` -> {"gateway": 1.5, "render": 2.0} (metrics without a duration left out)."""
    found: dict[str, float] = {}
    for part in (value or "").split(","):
        match = _TIMING.match(part)
        if match and match.group(2):
            found[match.group(1)] = float(match.group(2))
    return found


@dataclass
class Series:
    """One page and the gateway queries it makes: seconds of each timed request, and the page's Server-Timing."""

    page: list[float] = field(default_factory=list)
    gateway: list[float] = field(default_factory=list)
    timing: dict[str, list[float]] = field(default_factory=dict)
    page_bytes: int = 0
    gateway_bytes: int = 0


def _ms(values: Sequence[float], q: int) -> float:
    return round((statistics.median(values) if q == 50 else percentile(sorted(values), q)) * 1000, 2)


def summarise(name: str, series: Series) -> dict[str, float]:
    """`portal_<name>_page_p50_ms`, p95, the gateway's p50 and p95, the ratio, and the Server-Timing medians."""
    page, gateway = _ms(series.page, 50), _ms(series.gateway, 50)
    figures = {
        f"portal_{name}_page_p50_ms": page,
        f"portal_{name}_page_p95_ms": _ms(series.page, 95),
        f"portal_{name}_gateway_p50_ms": gateway,
        f"portal_{name}_gateway_p95_ms": _ms(series.gateway, 95),
        f"portal_overhead_ratio_{name}": round(page / gateway, 3) if gateway else -1.0,
    }
    figures[f"portal_{name}_page_kb"] = round(series.page_bytes / 1024, 1)
    figures[f"portal_{name}_gateway_answer_kb"] = round(series.gateway_bytes / 1024, 1)
    for metric, values in sorted(series.timing.items()):
        figures[f"portal_{name}_server_timing_{metric}_p50_ms"] = round(statistics.median(values), 2)
    return figures


# -- the client side: sign-in, the session's token, the timed rounds ---------------------------------------------------


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if not match:
        raise BenchError(f"no CSRF token on the sign-in page: {html[:300]}")
    return match.group(1)


async def sign_in(portal: httpx.AsyncClient, agency: str, region: str = "") -> None:
    """The portal's dev sign-in, as a browser does it: the form, then the POST; the cookie stays in the client."""
    form = await portal.get("/signin")
    done = await portal.post("/signin", data={"agency": agency, "region": region, "csrf_token": _csrf(form.text)})
    if done.status_code != 303:
        raise BenchError(f"dev sign-in as {agency} failed ({done.status_code}): {done.text[:300]}")


def token_of(cookie: str | None, session_key: bytes) -> str:
    """The token the portal keeps in its session cookie (decrypted with the portal's own key)."""
    from demimas_portal.session import SessionCodec

    session = SessionCodec(session_key).decode(cookie)
    if session is None or not session.token:
        raise BenchError("the portal's session cookie holds no token: did the sign-in work?")
    return session.token


@dataclass(frozen=True)
class Target:
    """A page and the gateway queries (document, variables) it makes, sent together as the page sends them."""

    name: str
    path: str
    queries: tuple[tuple[str, dict[str, Any]], ...]
    expect: str = ""
    """A `data-testid` the page must show (the page is the real one, not an error page)."""


async def _gateway_call(gateway: httpx.AsyncClient, token: str, target: Target, series: Series | None) -> None:
    headers = {"authorization": f"Bearer {token}"}
    sizes: list[int] = []

    async def one(query: str, variables: dict[str, Any]) -> None:
        body = orjson.dumps({"query": query, "variables": variables})
        response = await gateway.post("/graphql", content=body, headers=headers)
        answer = orjson.loads(response.content)
        refusals = {"FORBIDDEN", "UNAUTHORIZED_FIELD_OR_TYPE"}  # sections the page says are not for this agency
        codes = {(e.get("extensions") or {}).get("code") for e in answer.get("errors") or ()}
        if response.status_code != 200 or not answer.get("data") or codes - refusals:
            raise BenchError(f"{target.name}: the gateway answered {response.status_code}: {str(answer)[:400]}")
        sizes.append(len(response.content))

    if len(target.queries) == 1:
        await one(*target.queries[0])
    else:
        await asyncio.gather(*(one(q, v) for q, v in target.queries))
    if series is not None:
        series.gateway_bytes = sum(sizes)


async def _page_call(portal: httpx.AsyncClient, target: Target, series: Series | None) -> None:
    response = await portal.get(target.path)
    if response.status_code != 200 or (target.expect and f'data-testid="{target.expect}"' not in response.text):
        raise BenchError(f"{target.path} answered {response.status_code}: {response.text[:400]}")
    if 'data-testid="page-problems"' in response.text:
        raise BenchError(f"{target.path} shows problems: {response.text[:2000]}")
    if series is not None:
        series.page_bytes = len(response.content)
        for metric, value in parse_server_timing(response.headers.get("server-timing")).items():
            series.timing.setdefault(metric, []).append(value)


async def _timed(call: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


def page_targets(pilot_id: str, village: str | None) -> list[Target]:
    """The pages measured, with the documents and variables they send (the views' own, so they cannot drift)."""
    from demimas_portal.views import pilot as pilot_view
    from demimas_portal.views import pilots as pilots_view
    from demimas_portal.views import village as village_view

    targets = [
        Target(
            "pilots", "/pilots", ((pilots_view.QUERY, pilots_view.variables(pilots_view.Filters())),), "pilots-table"
        ),
        Target("pilot", f"/pilots/{pilot_id}", ((pilot_view.QUERY, {"id": pilot_id}),), "milestones-table"),
    ]
    if village is not None:
        queries = ((village_view.QUERY, {"code": village}), (village_view.THEMATIC, {"code": village}))
        targets.append(Target("village", f"/villages/{village}", queries, "thematic-table"))
    return targets


async def _until_counted(portal: httpx.AsyncClient, village: str, workers: int) -> None:
    """The registry's village counters are a projection of its events: wait (up to 2 minutes) until the page shows
    every worker."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if f'data-testid="stats-total">{workers}<' in (await portal.get(f"/villages/{village}")).text:
            return
        await asyncio.sleep(0.5)
    raise BenchError(f"the village page never counted the {workers} workers of {village}")


async def measure(portal: httpx.AsyncClient, gateway: httpx.AsyncClient, token: str, targets: Sequence[Target],
                  *, warmup: int, times: int) -> dict[str, Series]:  # fmt: skip
    """`warmup` untimed then `times` timed rounds; in each, every target's page and its gateway queries, one request
    at a time, the order of the two flipped every round."""
    found = {t.name: Series() for t in targets}
    for n in range(warmup + times):
        for target in targets:
            series = found[target.name] if n >= warmup else None
            page = partial(_page_call, portal, target, series)
            direct = partial(_gateway_call, gateway, token, target, series)
            first, second = (page, direct) if n % 2 == 0 else (direct, page)
            a, b = await _timed(first), await _timed(second)
            if series is not None:
                page_s, gateway_s = (a, b) if n % 2 == 0 else (b, a)
                series.page.append(page_s)
                series.gateway.append(gateway_s)
    return found


# -- seeding through the gateway ---------------------------------------------------------------------------------------


async def _ask(http: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    response = await http.post("/graphql", content=orjson.dumps({"query": query, "variables": variables}),
                               headers={"authorization": f"Bearer {token}"})  # fmt: skip
    answer: dict[str, Any] = orjson.loads(response.content)
    if answer.get("errors") or not answer.get("data"):
        raise BenchError(f"seeding failed ({response.status_code}): {str(answer)[:500]}")
    data: dict[str, Any] = answer["data"]
    return data


async def seed_pilots(gateway_url: str, coordinator: str, villages: Sequence[str], count: int, today: dt.date,
                      *, concurrency: int = 8) -> dict[str, list[str]]:  # fmt: skip
    """`count` pilots (`pilot_plan`) created, advanced and partly completed through the gateway by the coordinator
    (Kemenko Polkam may complete any milestone of its pilots); their ids by village."""
    by_village: dict[str, list[str]] = {}
    queue = list(range(count))
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60,
                                 headers={"content-type": "application/json"}) as http:  # fmt: skip

        async def worker() -> None:
            while queue:
                i = queue.pop(0)
                village = villages[i % len(villages)]
                plan = pilot_plan(i, village, today)
                created = (await _ask(http, CREATE, {"in": plan.input}, coordinator))["createPilotProject"]
                milestones = created["milestones"]
                for n in plan.complete:
                    await _ask(http, COMPLETE, {"p": created["id"], "m": milestones[n]["id"],
                                                "on": milestones[n]["dueDate"]}, coordinator)  # fmt: skip
                for status in plan.statuses:
                    reason = "Dibatalkan dalam rapat koordinasi" if status == "CANCELLED" else None
                    await _ask(http, STATUS, {"id": created["id"], "s": status, "r": reason}, coordinator)
                by_village.setdefault(village, []).append(created["id"])

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return by_village


REGISTER = "mutation BenchWorker($in: RegisterWorkerInput!) { registerWorker(input: $in) { id } }"
DEPART = "mutation BenchDepart($id: ID!, $in: DepartureInput!) { recordDeparture(workerId: $id, input: $in) { id } }"
ACTIVITY = "mutation BenchActivity($in: ActivityInput!) { recordActivity(input: $in) { id } }"
LINK = "mutation BenchLink($p: ID!, $a: ID!) { linkActivity(pilotId: $p, activityId: $a) { id } }"
THEMATIC = "mutation BenchThematic($in: ThematicStatusInput!) { setThematicStatus(input: $in) { id } }"
PROPOSE = (
    "mutation BenchPropose($v: String!, $j: String!) { proposeVillage(villageCode: $v, justification: $j) { id } }"
)
SUBMIT = "mutation BenchSubmit($id: ID!) { submitProposal(id: $id) { id } }"
OPEN_CASE = "mutation BenchCase($in: OpenCaseInput!) { openCase(input: $in) { id } }"
STATUSES = [("DRPPA", "KEMENPPPA"), ("DESA_BERSINAR", "BNN"), ("BUMDES", "KEMENDES")]
DESTINATIONS = ["MY", "HK", "TW", "SA", "KR", "JP"]
EDUCATION = ["SD", "SMP", "SMA", "SMK", "DIPLOMA"]
NAMES = ["Siti Aminah", "Budi Santoso", "Dewi Lestari", "Rina Wati", "Agus Salim", "Nur Aini", "Sri Wahyuni"]


def worker_plan(village: str, n: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The n-th worker of the village (a valid NIK of its district: women's birth day + 40) and, for two in three,
    a departure abroad."""
    female = n % 3 != 2
    nik = f"{village[:2]}{village[3:5]}{village[6:8]}{47 if female else 7:02d}0394{n + 1:04d}"
    person = {"nik": nik, "fullName": f"Pekerja {NAMES[n % len(NAMES)]}", "sex": "FEMALE" if female else "MALE",
              "birthDate": "1994-03-07", "educationLevel": EDUCATION[n % len(EDUCATION)],
              "villageCode": village}  # fmt: skip
    if n % 3 == 0:
        return person, None
    departure = {"destinationCountry": DESTINATIONS[n % len(DESTINATIONS)], "sector": ["FORMAL", "INFORMAL"][n % 2],
                 "occupation": ["operator", "caregiver", "housekeeper"][n % 3], "scheme": ["P_TO_P", "G_TO_G"][n % 2],
                 "procedural": n % 5 != 0, "departureDate": "2026-01-05"}  # fmt: skip
    return person, departure


async def seed_village(gateway_url: str, mint: Callable[[str, str | None], str], village: str, pilot_id: str,
                       today: dt.date, *, workers: int = 30) -> None:  # fmt: skip
    """The village page's data: workers (most abroad), an activity of every pillar (KP2MI records them all), some
    linked to `pilot_id`, thematic statuses set by their owners, a designation proposal of the regency's office,
    a protection case."""
    from demimas_pillars.domain.vocabulary import OUTPUTS, ServicePillar

    kp2mi = mint("KP2MI", None)
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60,
                                 headers={"content-type": "application/json"}) as http:  # fmt: skip
        for n in range(workers):
            person, departure = worker_plan(village, n)
            worker = (await _ask(http, REGISTER, {"in": person}, kp2mi))["registerWorker"]["id"]
            if departure is not None:
                await _ask(http, DEPART, {"id": worker, "in": departure}, kp2mi)
        for k, pillar in enumerate(ServicePillar):
            activity = {"villageCode": village, "pillar": pillar.value, "title": f"Kegiatan {pillar.value.lower()}",
                        "occurredOn": (today - dt.timedelta(days=10 + 20 * k)).isoformat(),
                        "participants": {"anonymous": [{"sex": "FEMALE", "group": "COMMUNITY", "count": 10 + k}]},
                        "outputs": [{"kind": kind.value, "value": 3 + k}
                                    for kind in sorted(OUTPUTS[pillar])[:2]]}  # fmt: skip
            created = (await _ask(http, ACTIVITY, {"in": activity}, kp2mi))["recordActivity"]["id"]
            if k < 4:
                await _ask(http, LINK, {"p": pilot_id, "a": created}, mint("KEMENKO_POLKAM", None))
        for programme, owner in STATUSES:
            status = {"villageCode": village, "programme": programme, "reference": f"SK {programme} 12/2026",
                      "since": (today - dt.timedelta(days=90)).isoformat()}  # fmt: skip
            await _ask(http, THEMATIC, {"in": status}, mint(owner, None))
        disnaker = mint("DISNAKER", village[:5])
        justification = "Kantong PMI dengan layanan desa aktif"
        proposal = (await _ask(http, PROPOSE, {"v": village, "j": justification}, disnaker))["proposeVillage"]["id"]
        await _ask(http, SUBMIT, {"id": proposal}, disnaker)
        case = {"villageCode": village, "kind": "ABUSE_ABROAD", "phase": "ABROAD", "channel": "VILLAGE_TASK_FORCE",
                "destinationCountry": "MY", "description": "Gaji tidak dibayar lima bulan, dilaporkan di desa.",
                "reporter": {"anonymous": True}, "people": []}  # fmt: skip
        await _ask(http, OPEN_CASE, {"in": case}, kp2mi)


# -- the run -----------------------------------------------------------------------------------------------------------


def _profile_summary(stats_path: Path, out: Path) -> None:
    with out.open("w") as stream:
        stats = pstats.Stats(str(stats_path), stream=stream)
        stats.sort_stats("cumulative").print_stats(80)
        stats.sort_stats("tottime").print_stats(60)


async def _prepare(stack: Any, specs: list[Any]) -> None:
    from demimas_common.db.engine import create_engine
    from demimas_common.db.provision import runtime_role
    from demimas_common.db.urls import with_user
    from demimas_common.devstack.provisioning import migrate_service
    from demimas_common.events.nats import connect
    from demimas_common.events.stream import ensure_stream
    from demimas_registry.adapters.villages import load_villages

    nc = await connect(stack.nats_url, name="bench-portal", reconnect=False)
    await ensure_stream(nc.jetstream())
    await nc.close()
    for spec in specs:
        if spec.database:
            await migrate_service(stack.database_url, spec)
    engine = create_engine(with_user(stack.database_url, runtime_role("registry")), pool_size=1)
    async with engine.begin() as conn:
        await load_villages(conn)
    await engine.dispose()


def _village_codes() -> list[str]:
    from demimas_registry.adapters.villages import iter_villages

    return [str(row[0]) for row in iter_villages() if row[0]]


def _start_portal(stack: Any, spec: Any, port: int, profiler: list[str]) -> None:
    """The portal as `Stack.start_services` starts a page-only service (no database; NATS when its spec asks, as
    the portal's does for its revoked sessions), optionally under cProfile."""
    import subprocess

    from demimas_common.devstack.lifetime import die_with_parent

    env = {k: v for k, v in os.environ.items() if k not in ("DEMIMAS_DATABASE_URL", "DEMIMAS_NATS_URL")}
    if spec.nats:
        env["DEMIMAS_NATS_URL"] = stack.nats_url
    env["DEMIMAS_GATEWAY_URL"] = f"http://127.0.0.1:{stack.ports['gateway']}/graphql"
    args = [sys.executable, *profiler, "-m", "uvicorn", "--factory", spec.app_factory, "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log"]  # fmt: skip
    stack.processes[spec.name] = subprocess.Popen(args, env=env, preexec_fn=die_with_parent())
    stack.ports[spec.name] = port
    stack.specs[spec.name] = spec


def main() -> int:
    n_pilots = env_int("BENCH_PORTAL_PILOTS", 1000)
    n_villages = env_int("BENCH_PORTAL_VILLAGES", 100)
    n_workers = env_int("BENCH_PORTAL_WORKERS", 30)
    warmup = env_int("BENCH_PORTAL_WARMUP", 30)
    times = env_int("BENCH_PORTAL_TIMED", 200)
    profile = os.environ.get("BENCH_PORTAL_PROFILE", "") not in ("", "0")
    out = os.environ.get("BENCH_PORTAL_OUT", "portal.json")
    exit_on_signals()

    from demimas_common.auth.keys import ensure_dev_keys, mint_token
    from demimas_common.auth.principal import Agency
    from demimas_common.devstack.ports import free_port
    from demimas_common.devstack.supervisor import Stack
    from demimas_common.service import discover_services
    from demimas_portal.settings import PortalSettings

    shortfalls = []
    if n_pilots < 1000:
        shortfalls.append(f"{n_pilots} pilots, not 1,000")
    if times < 200:
        shortfalls.append(f"{times} timed rounds, not 200")
    if profile:
        shortfalls.append("under cProfile")
    work = Path(tempfile.mkdtemp(prefix="demimas-bench-portal-"))
    logs = WORK / "portal"
    logs.mkdir(parents=True, exist_ok=True)
    os.environ["DEMIMAS_LOG_LEVEL"] = "WARNING"
    os.environ["DEMIMAS_ENVIRONMENT"] = "development"
    os.environ.update(NO_RATE_LIMITS)
    os.environ["DEMIMAS_AUDIT_SIGNING_KEY"] = str(work / "keys" / "audit-signing.pem")
    stack = Stack(root=work)
    specs = discover_services()
    figures: dict[str, Any] = {"run": run_label(shortfalls), "pilots": n_pilots, "pilot_villages": n_villages,
                               "warmup_rounds": warmup, "timed_rounds": times}  # fmt: skip
    today = dt.date.today()
    load_before = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    try:
        stack.start_servers()
        stack.write_env()
        asyncio.run(_prepare(stack, specs))
        stack.ports["gateway"] = free_port()  # never make run's 4000-4007
        stack.start_services([replace(s, port=free_port()) for s in specs if not s.behind_gateway])
        stack.wait_ready()
        if not stack.start_gateway(ROOT / "deploy" / "supergraph.graphql"):
            raise BenchError("the gateway cannot start (demimas_gateway and deploy/supergraph.graphql)")
        stack.wait_ready()
        portal_spec = next(s for s in specs if s.name == "portal")
        stats_path = logs / "portal.prof"
        _start_portal(stack, portal_spec, free_port(), ["-m", "cProfile", "-o", str(stats_path)] if profile else [])
        stack.wait_ready()
        print(f"stack up in {time.perf_counter() - started:.0f} s", file=sys.stderr)

        keys = ensure_dev_keys(work / "keys")
        s = stack.settings

        def mint(agency: Agency) -> str:
            return mint_token(keys, issuer=s.jwt_issuer, audience=s.jwt_audience, agency=agency,
                              ttl=dt.timedelta(hours=2))  # fmt: skip

        gateway_url = f"http://127.0.0.1:{stack.ports['gateway']}"
        portal_url = f"http://127.0.0.1:{stack.ports['portal']}"
        villages = spread_villages(_village_codes(), n_villages)
        if VILLAGE not in villages:
            villages[0] = VILLAGE
        seeded = time.perf_counter()
        by_village = asyncio.run(seed_pilots(gateway_url, mint(Agency.KEMENKO_POLKAM), villages, n_pilots, today))
        figures["seed_pilots_s"] = round(time.perf_counter() - seeded, 1)
        print(f"seeded {n_pilots} pilots in {figures['seed_pilots_s']} s", file=sys.stderr)
        pilot_id = by_village[VILLAGE][0]

        def mint_for(agency: str, region: str | None) -> str:
            return mint_token(keys, issuer=s.jwt_issuer, audience=s.jwt_audience, agency=Agency(agency), region=region,
                              ttl=dt.timedelta(hours=2))  # fmt: skip

        seeded = time.perf_counter()
        asyncio.run(seed_village(gateway_url, mint_for, VILLAGE, pilot_id, today, workers=n_workers))
        figures["seed_village_s"] = round(time.perf_counter() - seeded, 1)
        figures["village"] = VILLAGE
        figures["village_workers"] = n_workers
        session_key = PortalSettings(environment="development", dev_keys_dir=keys.private_key_path.parent).session_key

        async def run() -> dict[str, Series]:
            limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
            async with (
                httpx.AsyncClient(base_url=portal_url, timeout=30, limits=limits) as portal,
                httpx.AsyncClient(base_url=gateway_url, timeout=30, limits=limits,
                                  headers={"accept": "application/json", "content-type": "application/json"}) as gw,
            ):  # fmt: skip
                await sign_in(portal, "KEMENKO_POLKAM")
                token = token_of(portal.cookies.get("demimas_portal_session"), session_key)
                targets = page_targets(pilot_id, VILLAGE)
                await _until_counted(portal, VILLAGE, n_workers)
                return await measure(portal, gw, token, targets, warmup=warmup, times=times)

        found = asyncio.run(run())
        if profile:
            portal_process = stack.processes["portal"]
            portal_process.send_signal(signal.SIGINT)
            portal_process.wait(60)
            _profile_summary(stats_path, WORK / "portal-profile.txt")
            print(f"profile: {WORK / 'portal-profile.txt'}", file=sys.stderr)
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)

    for name, series in found.items():
        figures |= summarise(name, series)
    ratios = [figures[f"portal_overhead_ratio_{name}"] for name in found]
    figures["portal_overhead_ratio"] = max(ratios)
    figures["portal_page_goal_ms"] = GOAL_MS
    figures["portal_overhead_ratio_goal"] = RATIO_GOAL
    pages = ["pilots", "village"]
    figures["goals_met"] = {
        **{f"portal_{p}_page_p50_ms": figures[f"portal_{p}_page_p50_ms"] < GOAL_MS for p in pages if p in found},
        "portal_overhead_ratio": figures["portal_overhead_ratio"] <= RATIO_GOAL,
    }
    figures["machine_cores"] = os.cpu_count()
    figures["load_average_1m_before"] = load_before
    figures["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    figures["python"] = sys.version.split()[0]
    figures["command"] = "make bench-portal"
    figures["date"] = now()
    write_results(RESULTS / out, figures)
    print_summary(figures)
    print(f"goals met: {figures['goals_met']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
