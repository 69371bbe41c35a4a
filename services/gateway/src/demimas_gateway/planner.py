"""Query planner: a normalised operation -> fetches against subgraphs.

Walks the operation once per subgraph position: a field the current subgraph resolves stays in its fetch (staying
where we are avoids hops, which is how `@shareable` fields are chosen); the others are gathered per object position
and fetched from the subgraph that resolves most of them through `_entities`, with the key (and any `@requires`
fields) added to the parent fetch and passed as representations. Fields `@provides`d at a position count as local.
Abstract positions are split per runtime type the subgraph knows, with `__typename` added so the executor can
filter objects by type. Progressive `@override` labels decide which subgraph owns a field for this plan.

The parts, in `demimas_gateway.planning`: `ownership` (who resolves what, under this plan's labels), `state` (the
immutable `Position` passed down the walk and the per-plan `PlanState`), `selections` (fields at a position),
`entities` (entity jumps), `requires` (keys and `@requires` field sets), `abstract` (interfaces, unions,
`@interfaceObject`s), `merging` (sibling entity fetches merged), `printing` (subgraph operation text), and
`builder` (root fields, and the `PlanState` steps wired to the parts).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping

from demimas_gateway.operation import NormalizedOperation
from demimas_gateway.plan import Plan, PlanningError
from demimas_gateway.planning.builder import PlanBuilder
from demimas_gateway.planning.merging import check_acyclic, merge_siblings
from demimas_gateway.planning.ownership import Ownership
from demimas_gateway.planning.printing import print_fetch
from demimas_gateway.supergraph import Supergraph

__all__ = ["Planner", "PlanningError", "override_labels"]

PERCENT = re.compile(r"^percent\((\d+(?:\.\d+)?)\)$")


def override_labels(supergraph: Supergraph) -> frozenset[str]:
    """Every progressive-override label the supergraph's `@override(label:)`s name."""
    return frozenset(
        meta.override_label
        for t in supergraph.types.values()
        for graphs in t.fields.values()
        for meta in graphs.values()
        if meta.override_label
    )


class Planner:
    """Plans operations over one supergraph. Holds nothing that changes between plans: each `plan` call builds its
    plan with a `PlanBuilder` of its own."""

    def __init__(self, supergraph: Supergraph, *, known_labels: frozenset[str] | None = None) -> None:
        """`known_labels`: the supergraph's progressive-override labels, when the caller knows them already (read
        from the supergraph otherwise, once; a request's active ones are chosen among them by `active_labels`)."""
        self.supergraph = supergraph
        self.known_labels = override_labels(supergraph) if known_labels is None else known_labels

    def active_labels(self, enabled: Iterable[str] = (), rng: random.Random | None = None) -> frozenset[str]:
        """Progressive-override labels active for one request: `percent(N)` labels by chance, others when enabled."""
        chooser = rng or random
        out = set()
        for label in self.known_labels:
            match = PERCENT.match(label)
            if match:
                if chooser.random() * 100 < float(match[1]):
                    out.add(label)
            elif label in enabled:
                out.add(label)
        return frozenset(out)

    def plan(
        self,
        operation: NormalizedOperation,
        var_types: Mapping[str, str],
        operation_name: str | None = None,
        labels: frozenset[str] = frozenset(),
    ) -> Plan:
        """The plan of `operation` with the override `labels` active; `var_types`: the client operation's variable
        definitions (name -> printed type and default), `operation_name` names the subgraph operations."""
        builder = PlanBuilder(Ownership.of(self.supergraph, labels), operation.root_type)
        introspection = builder.plan_operation(operation)
        fetches = builder.fetches
        check_acyclic(fetches)
        merge_siblings(builder.own, fetches)
        name = re.sub(r"\W", "_", operation_name or "") or "Op"
        for fetch in fetches:
            if fetch.stage == 0 and fetch.depends and operation.operation == "mutation":
                fetch.stage = max(d.stage for d in fetch.depends)
            print_fetch(fetch, var_types, name)
        stages = max((f.stage for f in fetches), default=0) + 1
        return Plan(operation, fetches, stages, introspection)
