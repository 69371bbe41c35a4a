"""Plans against Apollo's (`make bench-plans`, or `python -m bench.plans` from the repository root).

For the public gateway benchmark's query and, when a checkout of the federation gateway audit is given
(`BENCH_AUDIT_DIR`, or `--audit-dir`; never part of this repository), for every case of every audit suite: the number
of subgraph fetches our planner makes and the number Apollo's query planner (`@apollo/query-planner`, run by
`bench/node/apollo-plans.mjs` on Node; benchmark only, its packages installed by `make bench-node`) makes for the
same supergraph and operation. Goal: ours is never larger. A case one planner refuses to plan is reported as such
(the audit expects some refusals).

The audit's suites are composed by its own server (`npx --no tsx src/cli.ts serve`: the checkout's own tsx, nothing
installed; started here on a free port and stopped at the end; Node 20 gets a `Promise.withResolvers` polyfill).
Figures to bench/results/plans.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.gateway_servers import NODE_PROJECT, node_ready
from bench.harness import RESULTS, BenchError, now, stop_group, write_results
from bench.scenario import Scenario
from demimas_common.devstack.ports import free_port
from demimas_gateway.fetcher import SubgraphClient
from demimas_gateway.gateway import Caller, Gateway, RequestError
from demimas_gateway.supergraph import SupergraphError, load_supergraph

EXPLAINED = {
    "requires-with-argument-conflict_0": (
        "two @requires need price(currency: USD) and price(currency: EUR): two representations, so two fetches; "
        "Apollo's plan sends one price for both and answers wrongly (Apollo Gateway fails this audit case)"
    ),
}
POLYFILL = (
    "if (!Promise.withResolvers) { Promise.withResolvers = function () { let resolve, reject;"
    " const promise = new Promise((a, b) => { resolve = a; reject = b; }); return { promise, resolve, reject }; }; }"
)


@dataclass
class Case:
    id: str
    supergraph: str
    query: str
    ours: int | None = None
    ours_error: str | None = None
    apollo: int | None = None
    apollo_error: str | None = None

    @property
    def verdict(self) -> str:
        if self.ours is not None and self.apollo is not None:
            return "fewer" if self.ours < self.apollo else "equal" if self.ours == self.apollo else "more"
        if self.ours is None and not self.apollo:
            return "both refuse"  # Apollo may "plan" an operation it cannot serve as a plan without any fetch
        return "only ours plans" if self.ours is not None else "only apollo plans"


def our_fetches(cases: list[Case]) -> None:
    gateways: dict[str, Gateway | str] = {}
    for case in cases:
        gateway = gateways.get(case.supergraph)
        if gateway is None:
            try:
                gateway = Gateway(load_supergraph(case.supergraph), SubgraphClient({}))
            except SupergraphError as exc:
                gateway = f"supergraph refused: {exc}"
            gateways[case.supergraph] = gateway
        if isinstance(gateway, str):
            case.ours_error = gateway
            continue
        try:
            cached, *_ = gateway.plan_for(case.query, None, None, Caller(authenticated=False, scopes=frozenset()))
        except RequestError as exc:
            case.ours_error = f"{exc.code}: {exc.message}"
            continue
        case.ours = len(cached.plan.fetches)
    for gateway in gateways.values():
        if isinstance(gateway, Gateway):
            asyncio.run(gateway.client.close())


def apollo_fetches(cases: list[Case]) -> None:
    lines = "".join(
        json.dumps({"id": case.id, "supergraph": case.supergraph, "query": case.query}) + "\n" for case in cases
    )
    done = subprocess.run(
        ["node", str(NODE_PROJECT / "apollo-plans.mjs")],
        input=lines,
        capture_output=True,
        text=True,
        check=False,
        cwd=NODE_PROJECT,
    )
    if done.returncode != 0:
        raise BenchError(f"apollo-plans.mjs failed: {done.stderr[-800:]}")
    by_id = {case.id: case for case in cases}
    for line in done.stdout.splitlines():
        answer = json.loads(line)
        case = by_id[answer["id"]]
        case.apollo = answer.get("fetches")
        case.apollo_error = answer.get("error")


@contextmanager
def audit_server(audit_dir: Path) -> Iterator[str]:
    """The audit's own server (it composes each suite's supergraph with @apollo/composition)."""
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".cjs", delete=False) as polyfill:
        polyfill.write(POLYFILL)
    env = {**os.environ, "NODE_OPTIONS": f"--require {polyfill.name}"}
    process = subprocess.Popen(
        ["npx", "--no", "tsx", "src/cli.ts", "serve", "--port", str(port)],
        cwd=audit_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/ids", timeout=2).read()  # noqa: S310 - loopback
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"the audit server in {audit_dir} did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        stop_group(process)  # npx -> tsx -> node: the whole group
        Path(polyfill.name).unlink(missing_ok=True)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
        body = response.read().decode()
    return json.loads(body) if body.lstrip().startswith(("{", "[")) else body


def audit_cases(url: str) -> list[Case]:
    cases: list[Case] = []
    for suite in _get(f"{url}/ids"):
        supergraph = _get(f"{url}/{suite}/supergraph")
        for index, test in enumerate(_get(f"{url}/{suite}/tests")):
            cases.append(Case(f"{suite}_{index}", supergraph, test["query"]))
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--audit-dir",
        default=os.environ.get("BENCH_AUDIT_DIR"),
        help="a federation-gateway-audit checkout with its npm packages installed",
    )
    parser.add_argument(
        "--scenario", help="a scenario folder (supergraph.graphql, query.graphql); default BENCH_GATEWAY_SCENARIO, "
        "else the scenario in the repository (bench/scenario.py)"
    )  # fmt: skip
    args = parser.parse_args(argv)
    node = node_ready()
    scenario = Scenario.in_folder(Path(args.scenario)) if args.scenario else Scenario.from_env()
    cases = [Case("gateway-benchmark", scenario.supergraph.read_text(), scenario.query.read_text())]
    if args.audit_dir:
        with audit_server(Path(args.audit_dir)) as url:
            cases += audit_cases(url)
    our_fetches(cases)
    apollo_fetches(cases)
    verdicts: dict[str, int] = {}
    for case in cases:
        verdicts[case.verdict] = verdicts.get(case.verdict, 0) + 1
    more = [c.id for c in cases if c.verdict in ("more", "only apollo plans")]
    benchmark = cases[0]
    results = {
        "plans_cases": len(cases),
        "plans_more_fetches_than_apollo": len(more),
        "plans_more_fetches_cases": {case: EXPLAINED.get(case, "not explained") for case in more},
        "plans_verdicts": verdicts,
        "plans_fetches_total_ours": sum(c.ours or 0 for c in cases if c.ours is not None and c.apollo is not None),
        "plans_fetches_total_apollo": sum(c.apollo or 0 for c in cases if c.ours is not None and c.apollo is not None),
        "benchmark_query_fetches": {"ours": benchmark.ours, "apollo": benchmark.apollo},
        "audit_included": bool(args.audit_dir),
        "cases": [
            {"id": c.id, "ours": c.ours, "apollo": c.apollo, "verdict": c.verdict}
            | ({"ours_error": c.ours_error} if c.ours_error else {})
            | ({"apollo_error": c.apollo_error} if c.apollo_error else {})
            for c in cases
        ],
        "machine": {"node": node, "python": platform.python_version()},
        "measured_at": now(),
    }
    write_results(RESULTS / "plans.json", results)
    print(f"{len(cases)} operations planned by both planners: {verdicts}")
    print(f"benchmark query: ours {benchmark.ours} fetches, Apollo's {benchmark.apollo}")
    for case in cases:
        if case.verdict in ("more", "only apollo plans", "only ours plans"):
            ours = f"{case.ours} {case.ours_error or ''}".strip()
            print(f"  {case.id}: ours {ours}; apollo {case.apollo} {case.apollo_error or ''}")
            if case.id in EXPLAINED:
                print(f"    why: {EXPLAINED[case.id]}")
    print(f"results: {RESULTS / 'plans.json'}")
    return 1 if any(case not in EXPLAINED for case in more) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench.plans: {exc}", file=sys.stderr)
        sys.exit(2)
