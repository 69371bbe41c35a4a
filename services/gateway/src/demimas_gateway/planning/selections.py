"""Fields at a position: a field the position's subgraph resolves stays in its fetch (staying where we are avoids
hops, which is how `@shareable` fields are chosen; `@provides`d fields count as local), composite fields lead to a
position below, and the rest is gathered for one entity jump."""

from __future__ import annotations

import re

from graphql import print_ast

from demimas_gateway.operation import Field, Item, fields_for
from demimas_gateway.planning.state import Parent, PlanState, Position

__all__ = ["candidates_for", "plan_object_fields"]


def plan_object_fields(b: PlanState, pos: Position, items: list[Item], satisfied: frozenset[str]) -> None:
    """Plan `items` on objects of the (object) type at `pos`."""
    own = b.own
    graph, type_name = pos.graph, pos.type_name
    fields = fields_for(own.schema, items, type_name)
    missing: list[Field] = []
    provided_names = own.provided_names(pos.provided, type_name)
    for f in fields:
        if f.unauthorized or f.name.startswith("__"):
            continue
        if f.name not in satisfied and not own.local(graph, type_name, f.name, pos.provided):
            missing.append(f)
            continue
        sub = pos.selection.add(f.key, f.name, _args_text(f), composite=f.composite, variables=_variables(f))
        if f.composite and sub.children is not None:
            child_provided = own.provides(graph, type_name, f.name)
            if child_provided is None and f.name in provided_names:
                child_provided = provided_names[f.name]
            child_type = own.type_in_graph(graph, type_name, f.name) or f.named
            if child_type != f.named:  # the client's fragments are matched by the concrete type
                sub.children.add("__typename", "__typename", internal=True)
            child = Position(
                graph,
                child_type,
                sub.children,
                (*pos.path, f.key),
                pos.fetch,
                child_provided,
                Parent(type_name, f, pos.path, pos.selection, pos.provided),
                candidates_for(b, pos, f.name),
            )
            b.plan_object(child, f.children)
    if missing:
        b.jump(pos, missing)


def candidates_for(b: PlanState, pos: Position, field_name: str) -> frozenset[str]:
    """The subgraphs that could answer `type_name.field_name` here (this one included): the field's owners on a
    root type; on an entity, its owners that can be reached with a key; on a value type, those of the parent's
    candidates that resolve the field too. Union members are kept only where every candidate knows them."""
    own, graph, type_name = b.own, pos.graph, pos.type_name
    owners = own.owners(type_name, field_name)
    if type_name == b.root:
        found = set(owners)
    elif any(own.keys(g, type_name) for g in own.order):
        found = {g for g in owners if own.keys(g, type_name)}
    elif pos.candidates is not None and graph in pos.candidates:
        found = set(pos.candidates) & set(owners)
    else:
        found = set()
    return frozenset(found | {graph})


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
