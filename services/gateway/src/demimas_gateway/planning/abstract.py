"""Interfaces and unions: an abstract position is split per runtime type the subgraph knows (with `__typename`
added so the executor can filter objects by type), and `@interfaceObject`s, subgraphs that know an interface only
as an object type, are reached through `_entities` with the interface's name as the representation's typename."""

from __future__ import annotations

from graphql import GraphQLAbstractType, GraphQLInterfaceType, GraphQLUnionType

from demimas_gateway.operation import Field, Fragment, Item, fields_for
from demimas_gateway.plan import Fetch, PlanningError, SubSelection
from demimas_gateway.planning.ownership import Ownership
from demimas_gateway.planning.requires import dedupe, names
from demimas_gateway.planning.selections import plan_object_fields
from demimas_gateway.planning.state import PlanState, Position

__all__ = ["jump_interface_object", "plan_abstract", "plan_interface_object", "separate_conflicts"]


def plan_abstract(b: PlanState, pos: Position, abstract: GraphQLAbstractType, items: list[Item]) -> None:
    own, graph = b.own, pos.graph
    pos.selection.add("__typename", "__typename", internal=True)
    candidates = pos.candidates if pos.candidates is not None and graph in pos.candidates else {graph}
    union = isinstance(abstract, GraphQLUnionType)
    # the full schema's possible types: a `@requires` or key may select fields of types clients cannot see
    # (`@inaccessible`), and the subgraph that needs them computes from their values
    full = own.supergraph.full_schema
    full_abstract = full.type_map.get(abstract.name)
    possible = (
        full.get_possible_types(full_abstract)
        if isinstance(full_abstract, GraphQLAbstractType)
        else own.schema.get_possible_types(abstract)
    )
    members = [r for r in possible if own.member_in(graph, abstract.name, r.name)]
    if isinstance(abstract, GraphQLInterfaceType):
        _check_reachable(own, graph, abstract.name, items, [r.name for r in members])
    for runtime in members:
        if union and not all(own.member_in(g, abstract.name, runtime.name) for g in candidates):
            # a partial union under a field several subgraphs could answer: only the members they all have
            # are sure to be resolvable wherever the answer comes from (Apollo's planner drops the others)
            continue
        fields = fields_for(own.schema if runtime.name in own.schema.type_map else full, items, runtime.name)
        if not any(not f.name.startswith("__") for f in fields):
            continue
        branch = pos.selection.fragment(runtime.name)
        b.plan_object(pos._replace(type_name=runtime.name, selection=branch), list(fields))
    separate_conflicts(own, graph, pos.selection)


def plan_interface_object(
    b: PlanState, pos: Position, interface: GraphQLAbstractType, items: list[Item], satisfied: frozenset[str]
) -> None:
    """An interface this graph only knows as an `@interfaceObject`: its own fields are planned here as on an
    object; the concrete `__typename` and fragments on implementations come from a graph that knows the real
    interface, through `_entities` with the interface's name as the representation's `__typename`."""
    own, graph = b.own, pos.graph
    name = interface.name
    fields = fields_for(own.schema, items, name)
    own_fields = [f for f in fields if f.name != "__typename"]
    concrete: list[Item] = [i for i in items if isinstance(i, Fragment) and i.type_condition != name]
    wants_type = len(own_fields) != len(fields) or bool(concrete)
    meta = own.supergraph.types[name]
    object_items: list[Item] = list(own_fields)
    plan_object_fields(b, pos, object_items, satisfied)
    if not wants_type:
        return
    target = next(
        (g for g in own.order if g in meta.graphs and g not in meta.interface_object_in and own.keys(g, name)),
        None,
    )
    if target is None:
        raise PlanningError(f"no subgraph resolves the concrete type of {name} objects from {graph!r}")
    pos.selection.add("__typename", "__typename", internal=True)
    sibling_key = (pos.fetch.id, pos.path, name, target)
    entity = b.siblings.get(sibling_key)
    if entity is None:
        entity = b.entity_fetch(target, name, pos.path, pos.fetch)
        b.siblings[sibling_key] = entity
        key = own.keys(target, name)[0]
        entity.key_names = names(key)
        entity.representation = dedupe(b.ensure(pos, key, entity.depends))
    entity.rep_typename = name
    there = pos._replace(graph=target, selection=entity.selection, fetch=entity, provided=None)
    plan_abstract(b, there, interface, concrete)


def jump_interface_object(b: PlanState, pos: Position, missing: list[Field]) -> list[Fetch]:
    """Fields of an object that a subgraph resolves on one of its interfaces declared there as
    `@interfaceObject`: the representation carries the interface's name as `__typename`."""
    own, graph, type_name = b.own, pos.graph, pos.type_name
    gtype = own.schema.type_map.get(type_name)
    interfaces = [i.name for i in getattr(gtype, "interfaces", ())]
    created: list[Fetch] = []
    groups: dict[tuple[str, str], list[Field]] = {}
    for f in missing:
        route = next(
            (
                (iface, target)
                for iface in interfaces
                for target in own.order
                if target in own.supergraph.types[iface].interface_object_in
                and target in own.owners(iface, f.name)
                and own.keys(target, iface)
            ),
            None,
        )
        if route is None:
            raise PlanningError(
                f"cannot plan {type_name}.{f.name}: no subgraph resolves it with a key reachable from {graph!r}"
            )
        groups.setdefault(route, []).append(f)
    for (iface, target), fields in groups.items():
        sibling_key = (pos.fetch.id, pos.path, iface, target)
        entity = b.siblings.get(sibling_key)
        pos.selection.add("__typename", "__typename", internal=True)
        if entity is None:
            entity = b.entity_fetch(target, iface, pos.path, pos.fetch)
            entity.typenames = frozenset()  # the implementations met are added below
            entity.rep_typename = iface
            b.siblings[sibling_key] = entity
            created.append(entity)
        key = own.keys(target, iface)[0]
        entity.key_names = names(key)
        reps = list(entity.representation)
        with b.creating(entity):
            reps += b.ensure(pos, key, entity.depends)
            for f in fields:
                requires = own.requires(target, iface, f.name)
                if requires:
                    reps += b.ensure(pos, requires, entity.depends)
        entity.representation = dedupe(reps)
        entity.typenames = entity.typenames | {type_name}
        satisfied = frozenset(f.name for f in fields)
        there = pos._replace(graph=target, type_name=iface, selection=entity.selection, fetch=entity, provided=None)
        b.plan_object(there, list(fields), satisfied)
    return created


def _check_reachable(own: Ownership, graph: str, interface: str, items: list[Item], runtimes: list[str]) -> None:
    """Refuse to plan an interface field no subgraph can give the objects at hand: not resolved here, on the
    interface or on any of its types this graph returns, and not reachable through a resolvable key (for
    example a field of an `@interfaceObject` whose key is `resolvable: false`). Without this check the field
    would be silently left out."""
    for f in fields_for(own.schema, items, interface):
        if f.name.startswith("__") or f.unauthorized:
            continue
        if own.reachable(graph, interface, f.name) or any(own.reachable(graph, r, f.name) for r in runtimes):
            continue
        raise PlanningError(
            f"cannot plan {interface}.{f.name} from {graph!r}: no subgraph that resolves it can be reached "
            "with a resolvable key"
        )


def separate_conflicts(own: Ownership, graph: str, selection: SubSelection) -> None:
    """GraphQL forbids one response key with two types across the fragments of a selection (`id: ID!` on
    one type, `id: ID` on another, as subgraphs may declare them): later ones get a private alias, which
    the executor turns back into the client's key before merging."""
    seen: dict[str, str] = {}
    for runtime, branch in selection.fragments.items():
        for key, sub in list(branch.fields.items()):
            shape = own.graph_field_type(graph, runtime, sub.name)
            first = seen.setdefault(key, shape)
            if first != shape:
                alias = f"{key}__{runtime}"
                del branch.fields[key]
                sub.rename_to, sub.key = key, alias
                branch.fields[alias] = sub
