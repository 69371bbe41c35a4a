"""Field sets a fetch needs from its parent (an entity key, `@requires` fields): selected in the parent's fetch
where its subgraph resolves them, otherwise fetched from elsewhere first; and how the executor reads them back
into representations (`RepField`)."""

from __future__ import annotations

from graphql import GraphQLAbstractType, GraphQLInterfaceType, GraphQLObjectType, get_named_type

from demimas_gateway.fieldset import FieldSet, FsField, FsFragment
from demimas_gateway.operation import Field, Fragment, Item, type_condition_applies
from demimas_gateway.plan import Fetch, PlanningError, RepField
from demimas_gateway.planning.ownership import Ownership
from demimas_gateway.planning.state import PlanState, Position

__all__ = ["dedupe", "ensure", "names"]


def ensure(b: PlanState, pos: Position, fields: FieldSet, deps: list[Fetch]) -> list[RepField]:
    """Make `fields` (a key or a `@requires` set) present on the objects at `pos`: selected in its fetch when the
    graph resolves them, otherwise fetched from elsewhere first (those fetches are added to `deps`). Returns how to
    read them back."""
    own, graph, type_name = b.own, pos.graph, pos.type_name
    out: list[RepField] = []
    missing: list[Field] = []
    for item in fields:
        if isinstance(item, FsFragment):
            if item.type_condition is None or type_condition_applies(own.schema, item.type_condition, type_name):
                out += ensure(b, pos, item.children, deps)
            continue
        if item.name == "__typename":
            continue
        child_type = own.field_type(type_name, item.name)
        if child_type is None:
            raise PlanningError(f"field set names {type_name}.{item.name}, which the API schema does not have")
        known = _already_there(pos, item.name)
        if known is not None and not item.children:
            out.append(known)  # the objects carry it already: it came in this entity fetch's representation
        elif own.local(graph, type_name, item.name, pos.provided):
            sub = pos.selection.add(item.name, item.name, item.args, composite=bool(item.children), internal=True)
            children: tuple[RepField, ...] | None = None
            if item.children and sub.children is not None:
                inner = pos._replace(
                    type_name=child_type,
                    selection=sub.children,
                    path=(*pos.path, sub.key),
                    provided=own.provided_names(pos.provided, type_name).get(item.name),
                )
                children = tuple(ensure(b, inner, item.children, deps))
            out.append(RepField(item.name, sub.key, children))
        else:
            missing.append(_synthetic(own, type_name, item))
            out.append(RepField(item.name, item.name, _rep_of(item.children) if item.children else None))
    if missing:
        before = len(b.fetches)
        joined = b.jump(pos, missing)
        # every fetch made or joined for the requirement, nested ones included (an object's field fetched in turn)
        deps.extend(dict.fromkeys([*joined, *b.fetches[before:]]))
    return out


def _already_there(pos: Position, name: str) -> RepField | None:
    fetch = pos.fetch
    if not fetch.is_entity or fetch.path != pos.path or pos.type_name not in fetch.typenames:
        return None
    return next((rep for rep in fetch.representation if rep.name == name and not rep.children), None)


def _synthetic(own: Ownership, type_name: str, item: FsField) -> Field:
    """A field set entry as an operation field, so it can be planned like one the client selected."""
    gtype = own.supergraph.full_schema.type_map[type_name]
    definition = gtype.fields[item.name]  # type: ignore[attr-defined]
    named = get_named_type(definition.type)
    composite = isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLAbstractType)
    children = _synthetic_items(own, named.name, item.children)
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


def _synthetic_items(own: Ownership, type_name: str, fields: FieldSet) -> list[Item]:
    out: list[Item] = []
    for child in fields:
        if isinstance(child, FsField):
            out.append(_synthetic(own, type_name, child))
        else:
            condition = child.type_condition or type_name
            out.append(Fragment(condition, _synthetic_items(own, condition, child.children)))
    return out


def _rep_of(fields: FieldSet) -> tuple[RepField, ...]:
    out: list[RepField] = []
    for item in fields:
        if isinstance(item, FsField):
            out.append(RepField(item.name, item.name, _rep_of(item.children) if item.children else None))
        else:  # fields of a fragment: read where present (the object's __typename travels with it)
            out.extend(_rep_of(item.children))
    return tuple(out)


def dedupe(reps: list[RepField]) -> list[RepField]:
    """One entry per field name, the children of repeated object fields merged."""
    seen: dict[str, RepField] = {}
    for rep in reps:
        if rep.name not in seen:
            seen[rep.name] = rep
        elif rep.children and seen[rep.name].children is not None:
            merged = [*(seen[rep.name].children or ()), *rep.children]
            seen[rep.name] = RepField(rep.name, rep.data_key, tuple(dedupe(merged)))
    return list(seen.values())


def names(fields: FieldSet) -> frozenset[str]:
    """The top-level field names of a field set (a key's, for `Fetch.key_names`)."""
    return frozenset(i.name for i in fields if isinstance(i, FsField))
