"""Query planner: a normalised operation -> fetches against subgraphs.

Walks the operation once per subgraph position: a field the current subgraph resolves stays in its fetch (staying
where we are avoids hops, which is how `@shareable` fields are chosen); the others are gathered per object position
and fetched from the subgraph that resolves most of them through `_entities`, with the key (and any `@requires`
fields) added to the parent fetch and passed as representations. Fields `@provides`d at a position count as local.
Abstract positions are split per runtime type the subgraph knows, with `__typename` added so the executor can
filter objects by type. Progressive `@override` labels decide which subgraph owns a field for this plan.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from graphql import (
    GraphQLAbstractType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    print_ast,
)

from demimas_gateway.fieldset import FieldSet, FsField, FsFragment
from demimas_gateway.operation import Field, Fragment, Item, NormalizedOperation, fields_for, type_condition_applies
from demimas_gateway.plan import Fetch, Plan, PlanningError, RepField, SubSelection
from demimas_gateway.supergraph import Supergraph

__all__ = ["Planner", "PlanningError", "active_labels"]

MAX_JUMP_DEPTH = 64  # nested entity hops; deeper only through a cycle of keys or @requires
PERCENT = re.compile(r"^percent\((\d+(?:\.\d+)?)\)$")


def active_labels(
    supergraph: Supergraph, enabled: Iterable[str] = (), rng: random.Random | None = None
) -> frozenset[str]:
    """Progressive-override labels active for one request: `percent(N)` labels by chance, others when enabled."""
    chooser = rng or random
    out = set()
    for label in _labels(supergraph):
        match = PERCENT.match(label)
        if match:
            if chooser.random() * 100 < float(match[1]):
                out.add(label)
        elif label in enabled:
            out.add(label)
    return frozenset(out)


def _labels(supergraph: Supergraph) -> set[str]:
    cached: set[str] | None = getattr(supergraph, "_labels_cache", None)
    if cached is None:
        cached = {
            meta.override_label
            for t in supergraph.types.values()
            for graphs in t.fields.values()
            for meta in graphs.values()
            if meta.override_label
        }
        supergraph._labels_cache = cached  # type: ignore[attr-defined]
    return cached


class Planner:
    def __init__(self, supergraph: Supergraph, labels: frozenset[str] = frozenset()) -> None:
        self.sg = supergraph
        self.schema: GraphQLSchema = supergraph.api_schema
        self.labels = labels
        self.order = list(supergraph.graphs)
        self.fetches: list[Fetch] = []
        self._siblings: dict[tuple[int, tuple[str, ...], str, str], Fetch] = {}
        self._depth = 0
        self._creating: set[int] = set()
        self._parents: list[tuple[str, Field, tuple[str, ...], SubSelection, FieldSet | None]] = []
        self._candidates: list[frozenset[str]] = []
        self.operation_name = "Op"
        self.var_types: dict[str, str] = {}
        self.root = "Query"

    # ---- ownership ----------------------------------------------------------------------------------------------

    def owners(self, type_name: str, field_name: str) -> list[str]:
        meta = self.sg.types.get(type_name)
        if meta is None:
            return []
        per_graph = meta.fields.get(field_name)
        if per_graph is None and field_name in meta.via_interface_object:
            return []
        if per_graph is None:
            return [g for g in self.order if g in meta.graphs]
        out = []
        for graph in self.order:
            fm = per_graph.get(graph)
            if fm is None or fm.external or fm.used_overridden:
                continue
            if fm.override_label:
                active = fm.override_label in self.labels
                if fm.override_from is not None and not active:
                    continue
                if fm.override_from is None and active:
                    continue
            out.append(graph)
        if not out and all(fm.external or fm.used_overridden for fm in per_graph.values()):
            return []
        return out

    def _requires(self, graph: str, type_name: str, field_name: str) -> FieldSet | None:
        meta = self.sg.types.get(type_name)
        fm = meta.fields.get(field_name, {}).get(graph) if meta else None
        return fm.requires if fm else None

    def _provides(self, graph: str, type_name: str, field_name: str) -> FieldSet | None:
        meta = self.sg.types.get(type_name)
        fm = meta.fields.get(field_name, {}).get(graph) if meta else None
        return fm.provides if fm else None

    def _provided_names(self, provided: FieldSet | None, type_name: str) -> dict[str, FieldSet]:
        out: dict[str, FieldSet] = {}
        for item in provided or ():
            if isinstance(item, FsField):
                out[item.name] = out.get(item.name, ()) + item.children
            elif item.type_condition is None or type_condition_applies(self.schema, item.type_condition, type_name):
                for name, children in self._provided_names(item.children, type_name).items():
                    out[name] = out.get(name, ()) + children
        return out

    def _local(self, graph: str, type_name: str, field_name: str, provided: FieldSet | None) -> bool:
        if field_name == "__typename":
            return True
        if graph in self.owners(type_name, field_name):
            return self._requires(graph, type_name, field_name) is None
        return field_name in self._provided_names(provided, type_name)

    def _type_in_graph(self, graph: str, type_name: str, field_name: str) -> str | None:
        """The named type a subgraph gives a field when it differs from the supergraph's (an object where the
        supergraph has an interface or union): the subgraph's query must be written against its own type."""
        meta = self.sg.types.get(type_name)
        fm = meta.fields.get(field_name, {}).get(graph) if meta else None
        if fm is None or fm.type_in_graph is None:
            return None
        named = fm.type_in_graph.replace("[", "").replace("]", "").replace("!", "").strip()
        return named if isinstance(self.schema.type_map.get(named), GraphQLObjectType) else None

    def _knows(self, graph: str, type_name: str) -> bool:
        meta = self.sg.types.get(type_name)
        return meta is not None and graph in meta.graphs

    # ---- planning -----------------------------------------------------------------------------------------------

    def plan(
        self, operation: NormalizedOperation, var_types: dict[str, str], operation_name: str | None = None
    ) -> Plan:
        self.fetches = []
        self._siblings = {}
        self._depth = 0
        self._creating = set()
        self._parents = []
        self._candidates = []
        self.var_types = var_types
        self.operation_name = re.sub(r"\W", "_", operation_name or "") or "Op"
        root = operation.root_type
        self.root = root
        fields = fields_for(self.schema, operation.items, root)
        groups: list[tuple[str, list[Field]]] = []
        introspection = False
        for f in fields:
            if f.name in ("__schema", "__type"):
                introspection = True
                continue
            if f.name == "__typename" or f.unauthorized:
                continue
            owners = self.owners(root, f.name)
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
            fetch = self._new_fetch(graph, operation.operation if operation.operation != "subscription" else "query")
            fetch.stage = stage if operation.operation == "mutation" else 0
            self._plan_object(graph, root, list(group), fetch.selection, (), fetch, None)
        _check_acyclic(self.fetches)
        self._merge_siblings()
        for fetch in self.fetches:
            if fetch.stage == 0 and fetch.depends and operation.operation == "mutation":
                fetch.stage = max(d.stage for d in fetch.depends)
            self._print(fetch)
        stages = max((f.stage for f in self.fetches), default=0) + 1
        return Plan(operation, self.fetches, stages, introspection)

    def _root_parts(self, f: Field, owners: list[str], asked: list[str]) -> list[tuple[str, Field]]:
        """Where a query root field is fetched: one subgraph (already asked, else the one resolving most of its
        children), or, for a root field several subgraphs share whose type is no entity (no key to come back
        with), each subgraph for the children it resolves, the answers merged."""
        chosen = self._cheapest(f, owners, asked)
        named = self.schema.type_map.get(f.named)
        if len(owners) < 2 or not isinstance(named, GraphQLObjectType) or any(self._keys(g, f.named) for g in owners):
            return [(chosen, f)]
        children = fields_for(self.schema, f.children, f.named)
        if all(self._local(chosen, f.named, c.name, None) for c in children if not c.name.startswith("__")):
            return [(chosen, f)]
        parts: dict[str, list[Item]] = {}
        for child in children:
            where = next(
                (g for g in [chosen, *owners] if self._local(g, f.named, child.name, None)),
                chosen,
            )
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
            trial = Planner(self.sg, self.labels)
            trial.var_types = self.var_types
            trial.root = self.root
            fetch = trial._new_fetch(graph, "query")
            try:
                trial._plan_object(graph, self.root, [f], fetch.selection, (), fetch, None)
            except PlanningError:
                continue
            trial._merge_siblings()
            cost = (len(trial.fetches), 0 if graph in asked else 1, index)
            if best is None or cost < best:
                best, chosen = cost, graph
        return chosen

    def _entity_fetch(self, target: str, type_name: str, path: tuple[str, ...], after: Fetch) -> Fetch:
        """An `_entities` fetch to `target` for the objects of `type_name` at `path`, run after `after`."""
        entity = self._new_fetch(target, "query")
        entity.entity_type = type_name
        entity.typenames = self._typenames(type_name)
        entity.path = path
        entity.depends.append(after)
        return entity

    def _new_fetch(self, graph: str, operation: str) -> Fetch:
        fetch = Fetch(id=len(self.fetches), graph=graph, operation=operation)
        self.fetches.append(fetch)
        return fetch

    def _plan_object(
        self,
        graph: str,
        type_name: str,
        items: list[Item],
        selection: SubSelection,
        path: tuple[str, ...],
        fetch: Fetch,
        provided: FieldSet | None,
        satisfied: frozenset[str] = frozenset(),
    ) -> None:
        """Plan `items` on objects of `type_name` in `graph`'s fetch; `satisfied` names fields whose `@requires`
        the fetch's representations already carry."""
        gtype = self.schema.type_map.get(type_name)
        meta = self.sg.types.get(type_name)
        if isinstance(gtype, GraphQLAbstractType):
            if meta and graph in meta.interface_object_in:
                self._plan_interface_object(graph, gtype, items, selection, path, fetch, provided, satisfied)
            else:
                self._plan_abstract(graph, gtype, items, selection, path, fetch, provided)
            return
        self._plan_object_fields(graph, type_name, items, selection, path, fetch, provided, satisfied)

    def _plan_object_fields(
        self,
        graph: str,
        type_name: str,
        items: list[Item],
        selection: SubSelection,
        path: tuple[str, ...],
        fetch: Fetch,
        provided: FieldSet | None,
        satisfied: frozenset[str],
    ) -> None:
        fields = fields_for(self.schema, items, type_name)
        missing: list[Field] = []
        provided_names = self._provided_names(provided, type_name)
        for f in fields:
            if f.unauthorized or f.name.startswith("__"):
                continue
            if f.name not in satisfied and not self._local(graph, type_name, f.name, provided):
                missing.append(f)
                continue
            sub = selection.add(
                f.key,
                f.name,
                _args_text(f),
                composite=f.composite,
                variables=_variables(f),
            )
            if f.composite and sub.children is not None:
                child_provided = self._provides(graph, type_name, f.name)
                if child_provided is None and f.name in provided_names:
                    child_provided = provided_names[f.name]
                child_type = self._type_in_graph(graph, type_name, f.name) or f.named
                if child_type != f.named:  # the client's fragments are matched by the concrete type
                    sub.children.add("__typename", "__typename", internal=True)
                self._parents.append((type_name, f, path, selection, provided))
                self._candidates.append(self._candidates_for(graph, type_name, f.name))
                try:
                    self._plan_object(
                        graph, child_type, f.children, sub.children, (*path, f.key), fetch, child_provided
                    )
                finally:
                    self._parents.pop()
                    self._candidates.pop()
        if missing:
            self._jump(graph, type_name, missing, selection, path, fetch, provided)

    # ---- merging entity fetches --------------------------------------------------------------------------------

    def _merge_siblings(self) -> None:
        """Entity fetches to one subgraph for objects at one path become one fetch when neither waits for the other:
        the same type's selections merged, different types as parts of one `_entities` request (Apollo's planner
        plans them so; planning per runtime type of an abstract field otherwise asks each branch separately)."""
        merged = True
        while merged:
            merged = False
            ancestors = _ancestors(self.fetches)
            groups: dict[tuple[str, str, int], list[Fetch]] = {}
            for fetch in self.fetches:
                if fetch.is_entity:
                    groups.setdefault((fetch.graph, fetch.operation, fetch.stage), []).append(fetch)
            for group in groups.values():
                for i, first in enumerate(group):
                    for second in group[i + 1 :]:
                        if first in ancestors[second.id] or second in ancestors[first.id]:
                            continue
                        if _paths(first) != _paths(second) and set(first.depends) != set(second.depends):
                            continue  # objects elsewhere join only a fetch that waits for nothing more
                        if self._merge_pair(first, second):
                            merged = True
                            break
                    if merged:
                        break
                if merged:
                    break
        for index, fetch in enumerate(self.fetches):
            fetch.id = index

    def _merge_pair(self, into: Fetch, other: Fetch) -> bool:
        """Merge `other` into `into` when their parts agree (same type: same representation and compatible
        selections; different types: no object of one is also of the other). False, and nothing changed, if not."""
        mine = into.parts or [into]
        same: list[tuple[Fetch, Fetch]] = []
        new: list[Fetch] = []
        for part in other.parts or [other]:
            match = next((p for p in mine if p.entity_type == part.entity_type), None)
            if match is not None:
                if (
                    match.rep_typename != part.rep_typename
                    or match.key_names != part.key_names
                    or match.representation != part.representation
                    or not match.selection.compatible(part.selection)
                ):
                    return False
                same.append((match, part))
            elif any(p.typenames & part.typenames for p in mine) or part.rep_typename is not None:
                return False
            else:
                new.append(part)
        if new and (into.rep_typename is not None or any(p.rep_typename for p in mine)):
            return False
        elsewhere: list[Fetch] = []  # one type at another path: one selection (the request has one fragment per type)
        for match, part in same:
            match.selection.merge(part.selection)
            if part.path != match.path and all(p.path != part.path for p in mine if p.entity_type == part.entity_type):
                moved = _as_part(part)
                moved.selection = match.selection
                elsewhere.append(moved)
        if new or elsewhere:
            if not into.parts:
                into.parts = [_as_part(into)]
            into.parts += [_as_part(p) for p in new] + elsewhere
            into.typenames = frozenset().union(*(p.typenames for p in into.parts))
            scratch = SubSelection(fragments={p.entity_type or "": p.selection for p in into.parts})
            self._separate_conflicts(into.graph, scratch)
        into.depends = [d for d in dict.fromkeys([*into.depends, *other.depends]) if d is not into and d is not other]
        self.fetches.remove(other)
        for fetch in self.fetches:
            if other in fetch.depends:
                fetch.depends = [into if d is other else d for d in fetch.depends]
                fetch.depends = [d for d in dict.fromkeys(fetch.depends) if d is not fetch]
        return True

    def _candidates_for(self, graph: str, type_name: str, field_name: str) -> frozenset[str]:
        """The subgraphs that could answer `type_name.field_name` here (this one included): the field's owners on a
        root type; on an entity, its owners that can be reached with a key; on a value type, those of the parent's
        candidates that resolve the field too. Union members are kept only where every candidate knows them."""
        owners = self.owners(type_name, field_name)
        if type_name == self.root:
            found = set(owners)
        elif any(self._keys(g, type_name) for g in self.order):
            found = {g for g in owners if self._keys(g, type_name)}
        elif self._candidates and graph in self._candidates[-1]:
            found = set(self._candidates[-1]) & set(owners)
        else:
            found = set()
        return frozenset(found | {graph})

    def _plan_interface_object(
        self,
        graph: str,
        interface: GraphQLAbstractType,
        items: list[Item],
        selection: SubSelection,
        path: tuple[str, ...],
        fetch: Fetch,
        provided: FieldSet | None,
        satisfied: frozenset[str] = frozenset(),
    ) -> None:
        """An interface this graph only knows as an `@interfaceObject`: its own fields are planned here as on an
        object; the concrete `__typename` and fragments on implementations come from a graph that knows the real
        interface, through `_entities` with the interface's name as the representation's `__typename`."""
        name = interface.name
        fields = fields_for(self.schema, items, name)
        own = [f for f in fields if f.name != "__typename"]
        concrete: list[Item] = [i for i in items if isinstance(i, Fragment) and i.type_condition != name]
        wants_type = len(own) != len(fields) or bool(concrete)
        meta = self.sg.types[name]
        object_items: list[Item] = list(own)
        self._plan_object_fields(graph, name, object_items, selection, path, fetch, provided, satisfied)
        if not wants_type:
            return
        target = next(
            (g for g in self.order if g in meta.graphs and g not in meta.interface_object_in and self._keys(g, name)),
            None,
        )
        if target is None:
            raise PlanningError(f"no subgraph resolves the concrete type of {name} objects from {graph!r}")
        selection.add("__typename", "__typename", internal=True)
        sibling_key = (fetch.id, path, name, target)
        entity = self._siblings.get(sibling_key)
        if entity is None:
            entity = self._entity_fetch(target, name, path, fetch)
            self._siblings[sibling_key] = entity
            key = self._keys(target, name)[0]
            entity.key_names = _names(key)
            reps = self._ensure(graph, name, key, selection, path, fetch, provided, entity.depends)
            entity.representation = _dedupe(reps)
        entity.rep_typename = name
        self._plan_abstract(target, interface, concrete, entity.selection, path, entity, None)

    def _plan_abstract(
        self,
        graph: str,
        abstract: GraphQLAbstractType,
        items: list[Item],
        selection: SubSelection,
        path: tuple[str, ...],
        fetch: Fetch,
        provided: FieldSet | None,
    ) -> None:
        selection.add("__typename", "__typename", internal=True)
        candidates = self._candidates[-1] if self._candidates and graph in self._candidates[-1] else {graph}
        union = isinstance(abstract, GraphQLUnionType)
        # the full schema's possible types: a `@requires` or key may select fields of types clients cannot see
        # (`@inaccessible`), and the subgraph that needs them computes from their values
        full = self.sg.full_schema
        full_abstract = full.type_map.get(abstract.name)
        possible = (
            full.get_possible_types(full_abstract)
            if isinstance(full_abstract, GraphQLAbstractType)
            else self.schema.get_possible_types(abstract)
        )
        members = [r for r in possible if self._member_in(graph, abstract.name, r.name)]
        if isinstance(abstract, GraphQLInterfaceType):
            self._check_reachable(graph, abstract.name, items, [r.name for r in members])
        for runtime in members:
            if union and not all(self._member_in(g, abstract.name, runtime.name) for g in candidates):
                # a partial union under a field several subgraphs could answer: only the members they all have
                # are sure to be resolvable wherever the answer comes from (Apollo's planner drops the others)
                continue
            fields = fields_for(self.schema if runtime.name in self.schema.type_map else full, items, runtime.name)
            if not any(not f.name.startswith("__") for f in fields):
                continue
            branch = selection.fragment(runtime.name)
            self._plan_object(graph, runtime.name, list(fields), branch, path, fetch, provided)
        self._separate_conflicts(graph, selection)

    def _check_reachable(self, graph: str, interface: str, items: list[Item], runtimes: list[str]) -> None:
        """Refuse to plan an interface field no subgraph can give the objects at hand: not resolved here, on the
        interface or on any of its types this graph returns, and not reachable through a resolvable key (for
        example a field of an `@interfaceObject` whose key is `resolvable: false`). Without this check the field
        would be silently left out."""
        for f in fields_for(self.schema, items, interface):
            if f.name.startswith("__") or f.unauthorized:
                continue
            if self._reachable(graph, interface, f.name) or any(self._reachable(graph, r, f.name) for r in runtimes):
                continue
            raise PlanningError(
                f"cannot plan {interface}.{f.name} from {graph!r}: no subgraph that resolves it can be reached "
                "with a resolvable key"
            )

    def _reachable(self, graph: str, type_name: str, field_name: str) -> bool:
        owners = self.owners(type_name, field_name)
        return graph in owners or any(self._keys(g, type_name) for g in owners)

    def _separate_conflicts(self, graph: str, selection: SubSelection) -> None:
        """GraphQL forbids one response key with two types across the fragments of a selection (`id: ID!` on
        one type, `id: ID` on another, as subgraphs may declare them): later ones get a private alias, which
        the executor turns back into the client's key before merging."""
        seen: dict[str, str] = {}
        for runtime, branch in selection.fragments.items():
            for key, sub in list(branch.fields.items()):
                shape = self._graph_field_type(graph, runtime, sub.name)
                first = seen.setdefault(key, shape)
                if first != shape:
                    alias = f"{key}__{runtime}"
                    del branch.fields[key]
                    sub.rename_to, sub.key = key, alias
                    branch.fields[alias] = sub

    def _graph_field_type(self, graph: str, type_name: str, field_name: str) -> str:
        meta = self.sg.types.get(type_name)
        fm = meta.fields.get(field_name, {}).get(graph) if meta else None
        if fm is not None and fm.type_in_graph is not None:
            return fm.type_in_graph
        gtype = self.sg.full_schema.type_map.get(type_name)
        fields = getattr(gtype, "fields", None) or {}
        return str(fields[field_name].type) if field_name in fields else ""

    def _member_in(self, graph: str, abstract: str, runtime: str) -> bool:
        ameta = self.sg.types.get(abstract)
        rmeta = self.sg.types.get(runtime)
        if rmeta is None or graph not in rmeta.graphs:
            return False
        if ameta is not None and ameta.kind == "union":
            members = ameta.members.get(graph)
            return members is None or runtime in members
        implemented = rmeta.implements.get(graph)
        if implemented is not None:
            return abstract in implemented
        return not rmeta.implements  # no join__implements at all: trust the API schema

    def _keys(self, graph: str, type_name: str) -> list[FieldSet]:
        meta = self.sg.types.get(type_name)
        return [k.fields for k in (meta.keys.get(graph, []) if meta else []) if k.resolvable]

    def _jump(
        self,
        graph: str,
        type_name: str,
        missing: list[Field],
        selection: SubSelection,
        path: tuple[str, ...],
        fetch: Fetch,
        provided: FieldSet | None,
    ) -> list[Fetch]:
        """Fetch `missing` fields of the objects at `path` from other subgraphs through `_entities`."""
        self._depth += 1
        try:
            return self._jump_inner(graph, type_name, missing, selection, path, fetch, provided)
        finally:
            self._depth -= 1

    def _jump_inner(
        self,
        graph: str,
        type_name: str,
        missing: list[Field],
        selection: SubSelection,
        path: tuple[str, ...],
        fetch: Fetch,
        provided: FieldSet | None,
    ) -> list[Fetch]:
        if self._depth > MAX_JUMP_DEPTH:
            names = ", ".join(f"{type_name}.{f.name}" for f in missing)
            raise PlanningError(f"cannot plan {names}: its keys or requirements depend on each other in a cycle")
        remaining = list(missing)
        created: list[Fetch] = []
        fresh = False
        while remaining:
            best: tuple[str, list[Field], FieldSet] | None = None
            for target in self.order:
                keys = self._keys(target, type_name)
                if not keys:
                    continue
                can = [f for f in remaining if target in self.owners(type_name, f.name)]
                if target == graph:  # only fields that need their @requires passed in
                    can = [f for f in can if self._requires(graph, type_name, f.name) is not None]
                if not can:
                    continue
                key = next((k for k in keys if self._all_local(graph, type_name, k, provided)), keys[0])
                if not self._all_local(graph, type_name, key, provided):
                    can = [f for f in can if f.name not in _names(key)]  # a key cannot be fetched with itself
                    if not can:
                        continue
                score = (len(can), self._all_local(graph, type_name, key, provided))
                if best is None or score > (len(best[1]), self._all_local(graph, type_name, best[2], provided)):
                    best = (target, can, key)
            if best is None:
                through_parent = self._jump_through_parent(graph, type_name, remaining, path, fetch)
                if through_parent is not None:
                    created.append(through_parent)
                    break
                # the last resort: an @interfaceObject of one of the type's interfaces (or an error)
                created += self._jump_interface_object(graph, type_name, remaining, selection, path, fetch, provided)
                break
            target, fields, key = best
            remaining = [f for f in remaining if f not in fields]
            sibling_key = (fetch.id, path, type_name, target)
            entity = None if fresh else self._siblings.get(sibling_key)
            if entity is not None and entity.id in self._creating:
                entity = None  # its own key or requirements cannot come from itself
            # one representation carries one value per field: requirements of one field with other arguments
            # (price(currency: "USD") and price(currency: "EUR")) go to another fetch
            rep_args = dict(entity.rep_args) if entity is not None else {}
            chosen: list[Field] = []
            for f in fields:
                wanted = {
                    i.name: i.args for i in self._requires(target, type_name, f.name) or () if isinstance(i, FsField)
                }
                if any(rep_args.get(n, a) != a for n, a in wanted.items()):
                    remaining.append(f)
                else:
                    rep_args.update(wanted)
                    chosen.append(f)
            fresh = len(chosen) != len(fields)
            fields = chosen
            if not fields:
                continue
            if entity is None:
                entity = self._entity_fetch(target, type_name, path, fetch)
                if type_name in self.sg.types and target in self.sg.types[type_name].interface_object_in:
                    entity.rep_typename = type_name
                self._siblings.setdefault(sibling_key, entity)
                selection.add("__typename", "__typename", internal=True)
                entity.rep_args = rep_args
                entity.key_names = _names(key)
                self._creating.add(entity.id)
                try:
                    reps = self._ensure(graph, type_name, key, selection, path, fetch, provided, entity.depends)
                finally:
                    self._creating.discard(entity.id)
            else:  # one fetch per subgraph and position: later needs join the fetch already planned there
                reps = list(entity.representation)
                entity.rep_args = rep_args
            self._creating.add(entity.id)
            try:
                for f in fields:
                    requires = self._requires(target, type_name, f.name)
                    if requires:
                        reps += self._ensure(
                            graph, type_name, requires, selection, path, fetch, provided, entity.depends
                        )
            finally:
                self._creating.discard(entity.id)
            entity.representation = _dedupe(reps)
            satisfied = frozenset(f.name for f in fields)
            self._plan_object(target, type_name, list(fields), entity.selection, path, entity, None, satisfied)
            created.append(entity)
        return created

    def _jump_through_parent(
        self, graph: str, type_name: str, missing: list[Field], path: tuple[str, ...], fetch: Fetch
    ) -> Fetch | None:
        """Fields of an object that is no entity where they live (no key there): fetch them through the parent
        entity instead, from a subgraph that resolves the parent's field and these fields under it."""
        if not self._parents:
            return None
        parent_type, field, parent_path, parent_selection, parent_provided = self._parents[-1]
        if (*parent_path, field.key) != path:
            return None
        for target in self.order:
            keys = self._keys(target, parent_type)
            if target == graph or not keys or target not in self.owners(parent_type, field.name):
                continue
            if not all(self._local(target, type_name, f.name, None) for f in missing):
                continue
            key = next((k for k in keys if self._all_local(graph, parent_type, k, parent_provided)), keys[0])
            entity = self._entity_fetch(target, parent_type, parent_path, fetch)
            entity.key_names = _names(key)
            parent_selection.add("__typename", "__typename", internal=True)
            self._creating.add(entity.id)
            try:
                reps = self._ensure(graph, parent_type, key, parent_selection, parent_path, fetch, parent_provided,
                                    entity.depends)  # fmt: skip
            finally:
                self._creating.discard(entity.id)
            entity.representation = _dedupe(reps)
            wrapper = Field(**{**field.__dict__, "children": list(missing)})
            self._plan_object(target, parent_type, [wrapper], entity.selection, parent_path, entity, None)
            return entity
        return None

    def _typenames(self, type_name: str) -> frozenset[str]:
        """`__typename`s an object at an entity position may carry: an interface's own name (as an interface
        object answers) and those of its implementations (once a subgraph told the concrete type)."""
        gtype = self.schema.type_map.get(type_name)
        if isinstance(gtype, GraphQLAbstractType):
            return frozenset({type_name, *(t.name for t in self.schema.get_possible_types(gtype))})
        return frozenset({type_name})

    def _jump_interface_object(
        self,
        graph: str,
        type_name: str,
        missing: list[Field],
        selection: SubSelection,
        path: tuple[str, ...],
        fetch: Fetch,
        provided: FieldSet | None,
    ) -> list[Fetch]:
        """Fields of an object that a subgraph resolves on one of its interfaces declared there as
        `@interfaceObject`: the representation carries the interface's name as `__typename`."""
        gtype = self.schema.type_map.get(type_name)
        interfaces = [i.name for i in getattr(gtype, "interfaces", ())]
        created: list[Fetch] = []
        groups: dict[tuple[str, str], list[Field]] = {}
        for f in missing:
            route = next(
                (
                    (iface, target)
                    for iface in interfaces
                    for target in self.order
                    if target in self.sg.types[iface].interface_object_in
                    and target in self.owners(iface, f.name)
                    and self._keys(target, iface)
                ),
                None,
            )
            if route is None:
                raise PlanningError(
                    f"cannot plan {type_name}.{f.name}: no subgraph resolves it with a key reachable from {graph!r}"
                )
            groups.setdefault(route, []).append(f)
        for (iface, target), fields in groups.items():
            sibling_key = (fetch.id, path, iface, target)
            entity = self._siblings.get(sibling_key)
            selection.add("__typename", "__typename", internal=True)
            if entity is None:
                entity = self._entity_fetch(target, iface, path, fetch)
                entity.typenames = frozenset()  # the implementations met are added below
                entity.rep_typename = iface
                self._siblings[sibling_key] = entity
                created.append(entity)
            key = self._keys(target, iface)[0]
            entity.key_names = _names(key)
            reps = list(entity.representation)
            self._creating.add(entity.id)
            try:
                reps += self._ensure(graph, type_name, key, selection, path, fetch, provided, entity.depends)
                for f in fields:
                    requires = self._requires(target, iface, f.name)
                    if requires:
                        reps += self._ensure(
                            graph, type_name, requires, selection, path, fetch, provided, entity.depends
                        )
            finally:
                self._creating.discard(entity.id)
            entity.representation = _dedupe(reps)
            entity.typenames = entity.typenames | {type_name}
            satisfied = frozenset(f.name for f in fields)
            self._plan_object(target, iface, list(fields), entity.selection, path, entity, None, satisfied)
        return created

    def _all_local(self, graph: str, type_name: str, fields: FieldSet, provided: FieldSet | None) -> bool:
        for item in fields:
            if isinstance(item, FsFragment):
                continue
            if not self._local(graph, type_name, item.name, provided):
                return False
            if item.children:
                child = self._field_type(type_name, item.name)
                if child is None or not self._all_local(graph, child, item.children, None):
                    return False
        return True

    def _field_type(self, type_name: str, field_name: str) -> str | None:
        gtype = self.sg.full_schema.type_map.get(type_name)
        fields = getattr(gtype, "fields", None)
        if not fields or field_name not in fields:
            return None
        return str(get_named_type(fields[field_name].type).name)

    def _ensure(
        self,
        graph: str,
        type_name: str,
        fields: FieldSet,
        selection: SubSelection,
        path: tuple[str, ...],
        fetch: Fetch,
        provided: FieldSet | None,
        deps: list[Fetch],
    ) -> list[RepField]:
        """Make `fields` (a key or a `@requires` set) present on the objects at `path`: selected in this fetch when
        the graph resolves them, otherwise fetched from elsewhere first. Returns how to read them back."""
        out: list[RepField] = []
        missing: list[Field] = []
        for item in fields:
            if isinstance(item, FsFragment):
                if item.type_condition is None or type_condition_applies(self.schema, item.type_condition, type_name):
                    out += self._ensure(graph, type_name, item.children, selection, path, fetch, provided, deps)
                continue
            if item.name == "__typename":
                continue
            child_type = self._field_type(type_name, item.name)
            if child_type is None:
                raise PlanningError(f"field set names {type_name}.{item.name}, which the API schema does not have")
            known = self._already_there(fetch, type_name, path, item.name)
            if known is not None and not item.children:
                out.append(known)  # the objects carry it already: it came in this entity fetch's representation
            elif self._local(graph, type_name, item.name, provided):
                sub = selection.add(item.name, item.name, item.args, composite=bool(item.children), internal=True)
                children: tuple[RepField, ...] | None = None
                if item.children and sub.children is not None:
                    inner_provided = self._provided_names(provided, type_name).get(item.name)
                    children = tuple(
                        self._ensure(
                            graph,
                            child_type,
                            item.children,
                            sub.children,
                            (*path, sub.key),
                            fetch,
                            inner_provided,
                            deps,
                        )
                    )
                out.append(RepField(item.name, sub.key, children))
            else:
                missing.append(self._synthetic(type_name, item))
                out.append(RepField(item.name, item.name, _rep_of(item.children) if item.children else None))
        if missing:
            before = len(self.fetches)
            joined = self._jump(graph, type_name, missing, selection, path, fetch, provided)
            # every fetch made or joined for the requirement, nested ones included (an object's field fetched in turn)
            deps.extend(dict.fromkeys([*joined, *self.fetches[before:]]))
        return out

    def _already_there(self, fetch: Fetch, type_name: str, path: tuple[str, ...], name: str) -> RepField | None:
        if not fetch.is_entity or fetch.path != path or type_name not in fetch.typenames:
            return None
        return next((rep for rep in fetch.representation if rep.name == name and not rep.children), None)

    def _synthetic_items(self, type_name: str, fields: FieldSet) -> list[Item]:
        out: list[Item] = []
        for child in fields:
            if isinstance(child, FsField):
                out.append(self._synthetic(type_name, child))
            else:
                condition = child.type_condition or type_name
                out.append(Fragment(condition, self._synthetic_items(condition, child.children)))
        return out

    def _synthetic(self, type_name: str, item: FsField) -> Field:
        """A field set entry as an operation field, so it can be planned like one the client selected."""
        gtype = self.sg.full_schema.type_map[type_name]
        definition = gtype.fields[item.name]  # type: ignore[attr-defined]
        named = get_named_type(definition.type)
        composite = isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLAbstractType)
        children = self._synthetic_items(named.name, item.children)
        return Field(
            key=item.name,
            name=item.name,
            arguments=(),
            args_text=item.args,
            type=definition.type,
            named=named.name,
            parent=type_name,
            children=children,
            composite=composite,
        )

    # ---- printing -----------------------------------------------------------------------------------------------

    def _print(self, fetch: Fetch) -> None:
        fetch.renames = fetch.selection.has_renames()
        used = sorted(fetch.selection.variables())
        fetch.variables = tuple(used)
        defs = [f"${name}:{self.var_types[name]}" for name in used if name in self.var_types]
        name = f"{self.operation_name}__{fetch.graph}__{fetch.id}"
        if fetch.parts:
            used = sorted(set().union(*(p.selection.variables() for p in fetch.parts)))
            fetch.variables = tuple(used)
            fetch.renames = any(p.selection.has_renames() for p in fetch.parts)
            defs = ["$representations:[_Any!]!", *(f"${n}:{self.var_types[n]}" for n in used if n in self.var_types)]
            types = {p.entity_type: p.selection for p in fetch.parts}  # one fragment per type, at every path
            branches = " ".join(f"...on {name} {selection.text()}" for name, selection in types.items())
            body = "{_entities(representations:$representations){" + branches + "}}"
        elif fetch.is_entity:
            defs.insert(0, "$representations:[_Any!]!")
            body = (
                "{_entities(representations:$representations){..." + f"on {fetch.entity_type} "
                f"{fetch.selection.text()}" + "}}"
            )
        else:
            body = fetch.selection.text()
        head = f"{fetch.operation} {name}" + (f"({','.join(defs)})" if defs else "")
        fetch.query = f"{head}{body}"


def _args_text(f: Field) -> str:
    if f.args_text is not None:
        return f.args_text
    if not f.arguments:
        return ""
    return "(" + ",".join(print_ast(a) for a in f.arguments) + ")"


def _variables(f: Field) -> frozenset[str]:
    if not f.arguments:
        return frozenset()
    out: set[str] = set()
    for arg in f.arguments:
        out |= set(re.findall(r"\$(\w+)", print_ast(arg)))
    return frozenset(out)


def _rep_of(fields: FieldSet) -> tuple[RepField, ...]:
    out: list[RepField] = []
    for item in fields:
        if isinstance(item, FsField):
            out.append(RepField(item.name, item.name, _rep_of(item.children) if item.children else None))
        else:  # fields of a fragment: read where present (the object's __typename travels with it)
            out.extend(_rep_of(item.children))
    return tuple(out)


def _dedupe(reps: list[RepField]) -> list[RepField]:
    seen: dict[str, RepField] = {}
    for rep in reps:
        if rep.name not in seen:
            seen[rep.name] = rep
        elif rep.children and seen[rep.name].children is not None:
            merged = [*(seen[rep.name].children or ()), *rep.children]
            seen[rep.name] = RepField(rep.name, rep.data_key, tuple(_dedupe(merged)))
    return list(seen.values())


def _names(fields: FieldSet) -> frozenset[str]:
    return frozenset(i.name for i in fields if isinstance(i, FsField))


def _paths(fetch: Fetch) -> set[tuple[str, ...]]:
    return {p.path for p in fetch.parts} if fetch.parts else {fetch.path}


def _as_part(fetch: Fetch) -> Fetch:
    """The entity-specific half of a fetch, as a part of a merged one."""
    return Fetch(
        id=-1,
        graph=fetch.graph,
        operation=fetch.operation,
        selection=fetch.selection,
        path=fetch.path,
        entity_type=fetch.entity_type,
        typenames=fetch.typenames,
        key_names=fetch.key_names,
        rep_typename=fetch.rep_typename,
        representation=fetch.representation,
    )


def _ancestors(fetches: list[Fetch]) -> dict[int, set[Fetch]]:
    """Every fetch each fetch waits for, directly or not (by fetch id)."""
    out: dict[int, set[Fetch]] = {}

    def visit(fetch: Fetch) -> set[Fetch]:
        known = out.get(fetch.id)
        if known is None:
            known = out[fetch.id] = set()
            for dep in fetch.depends:
                known.add(dep)
                known |= visit(dep)
        return known

    for fetch in fetches:
        visit(fetch)
    return out


def _check_acyclic(fetches: list[Fetch]) -> None:
    """A fetch waiting for itself, directly or not, would never run: refuse the plan instead."""
    state: dict[int, int] = {}

    def visit(fetch: Fetch) -> None:
        mark = state.get(fetch.id)
        if mark == 2:
            return
        if mark == 1:
            raise PlanningError(f"the plan's fetches wait for each other in a cycle (at {fetch.graph!r})")
        state[fetch.id] = 1
        for dep in fetch.depends:
            visit(dep)
        state[fetch.id] = 2

    for fetch in fetches:
        fetch.depends = list(dict.fromkeys(d for d in fetch.depends if d is not fetch))
        visit(fetch)
