"""One plan in the making: the root fields grouped into fetches, then each walked position by position (the
`PlanState` steps are implemented here by the parts: `selections`, `abstract`, `entities`, `requires`)."""

from __future__ import annotations

from graphql import GraphQLAbstractType, GraphQLObjectType

from demimas_gateway.fieldset import FieldSet
from demimas_gateway.operation import Field, Item, NormalizedOperation, fields_for
from demimas_gateway.plan import Fetch, PlanningError, RepField
from demimas_gateway.planning import entities, requires
from demimas_gateway.planning.abstract import plan_abstract, plan_interface_object
from demimas_gateway.planning.merging import merge_siblings
from demimas_gateway.planning.selections import plan_object_fields
from demimas_gateway.planning.state import PlanState, Position

__all__ = ["PlanBuilder"]


class PlanBuilder(PlanState):
    def plan_object(self, pos: Position, items: list[Item], satisfied: frozenset[str] = frozenset()) -> None:
        gtype = self.own.schema.type_map.get(pos.type_name)
        if isinstance(gtype, GraphQLAbstractType):
            meta = self.own.supergraph.types.get(pos.type_name)
            if meta and pos.graph in meta.interface_object_in:
                plan_interface_object(self, pos, gtype, items, satisfied)
            else:
                plan_abstract(self, pos, gtype, items)
            return
        plan_object_fields(self, pos, items, satisfied)

    def jump(self, pos: Position, missing: list[Field]) -> list[Fetch]:
        return entities.jump(self, pos, missing)

    def ensure(self, pos: Position, fields: FieldSet, deps: list[Fetch]) -> list[RepField]:
        return requires.ensure(self, pos, fields, deps)

    def plan_operation(self, operation: NormalizedOperation) -> bool:
        """Plan the operation's root fields into `fetches` (not yet merged nor printed); True when it asks for
        introspection (`__schema`, `__type`), which the gateway answers itself."""
        own, root = self.own, self.root
        groups: list[tuple[str, list[Field]]] = []
        introspection = False
        for f in fields_for(own.schema, operation.items, root):
            if f.name in ("__schema", "__type"):
                introspection = True
                continue
            if f.name == "__typename" or f.unauthorized:
                continue
            owners = own.owners(root, f.name)
            if not owners:
                raise PlanningError(f"no subgraph resolves {root}.{f.name}")
            if operation.operation == "mutation":  # in order; a shared field from the subgraph needing fewest fetches
                chosen = self._cheapest(f, owners, [groups[-1][0]] if groups else [])
                if groups and groups[-1][0] == chosen:
                    groups[-1][1].append(f)
                else:
                    groups.append((chosen, [f]))
                continue
            for chosen, part in self._root_parts(f, owners, [g for g, _ in groups]):
                if all(g != chosen for g, _ in groups):
                    groups.append((chosen, []))
                next(fs for g, fs in groups if g == chosen).append(part)
        for stage, (graph, group) in enumerate(groups):
            fetch = self.new_fetch(graph, operation.operation)
            fetch.stage = stage if operation.operation == "mutation" else 0
            self.plan_object(Position(graph, root, fetch.selection, (), fetch), list(group))
        return introspection

    def _root_parts(self, f: Field, owners: list[str], asked: list[str]) -> list[tuple[str, Field]]:
        """Where a query root field is fetched: one subgraph (already asked, else the one resolving most of its
        children), or, for a root field several subgraphs share whose type is no entity (no key to come back
        with), each subgraph for the children it resolves, the answers merged."""
        own = self.own
        chosen = self._cheapest(f, owners, asked)
        named = own.schema.type_map.get(f.named)
        if len(owners) < 2 or not isinstance(named, GraphQLObjectType) or any(own.keys(g, f.named) for g in owners):
            return [(chosen, f)]
        children = fields_for(own.schema, f.children, f.named)
        if all(own.local(chosen, f.named, c.name, None) for c in children if not c.name.startswith("__")):
            return [(chosen, f)]
        parts: dict[str, list[Item]] = {}
        for child in children:
            where = next((g for g in [chosen, *owners] if own.local(g, f.named, child.name, None)), chosen)
            parts.setdefault(where, []).append(child)
        return [(g, Field(**{**f.__dict__, "children": items})) for g, items in parts.items()]

    def _cheapest(self, f: Field, owners: list[str], asked: list[str]) -> str:
        """The owner from which the field's whole selection needs the fewest fetches (planned for real with each
        candidate; plans are cached, so this costs once per operation); ties go to a subgraph already asked."""
        if len(owners) == 1 or not f.composite:
            return next((g for g in asked if g in owners), owners[0])
        best: tuple[int, int, int] | None = None
        chosen = owners[0]
        for index, graph in enumerate(owners):
            trial = PlanBuilder(self.own, self.root)
            fetch = trial.new_fetch(graph, "query")
            try:
                trial.plan_object(Position(graph, self.root, fetch.selection, (), fetch), [f])
            except PlanningError:
                continue
            merge_siblings(trial.own, trial.fetches)
            cost = (len(trial.fetches), 0 if graph in asked else 1, index)
            if best is None or cost < best:
                best, chosen = cost, graph
        return chosen
