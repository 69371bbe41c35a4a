"""Entity jumps: fields the position's subgraph cannot give are fetched through `_entities` from the subgraph that
resolves most of them, with the key (and any `@requires` fields) added to the parent fetch and passed as
representations. One fetch per subgraph and position: later needs join the fetch already planned there."""

from __future__ import annotations

from demimas_gateway.fieldset import FieldSet, FsField
from demimas_gateway.operation import Field
from demimas_gateway.plan import Fetch, PlanningError
from demimas_gateway.planning.abstract import jump_interface_object
from demimas_gateway.planning.requires import dedupe, names
from demimas_gateway.planning.state import MAX_JUMP_DEPTH, PlanState, Position

__all__ = ["jump"]


def jump(b: PlanState, pos: Position, missing: list[Field]) -> list[Fetch]:
    """Fetch `missing` fields of the objects at `pos` from other subgraphs through `_entities`; returns the entity
    fetches made or joined."""
    b.depth += 1
    try:
        return _jump(b, pos, missing)
    finally:
        b.depth -= 1


def _jump(b: PlanState, pos: Position, missing: list[Field]) -> list[Fetch]:
    own, graph, type_name, provided = b.own, pos.graph, pos.type_name, pos.provided
    if b.depth > MAX_JUMP_DEPTH:
        listed = ", ".join(f"{type_name}.{f.name}" for f in missing)
        raise PlanningError(f"cannot plan {listed}: its keys or requirements depend on each other in a cycle")
    remaining = list(missing)
    created: list[Fetch] = []
    fresh = False
    while remaining:
        best: tuple[str, list[Field], FieldSet] | None = None
        for target in own.order:
            keys = own.keys(target, type_name)
            if not keys:
                continue
            can = [f for f in remaining if target in own.owners(type_name, f.name)]
            if target == graph:  # only fields that need their @requires passed in
                can = [f for f in can if own.requires(graph, type_name, f.name) is not None]
            if not can:
                continue
            key = next((k for k in keys if own.all_local(graph, type_name, k, provided)), keys[0])
            if not own.all_local(graph, type_name, key, provided):
                can = [f for f in can if f.name not in names(key)]  # a key cannot be fetched with itself
                if not can:
                    continue
            score = (len(can), own.all_local(graph, type_name, key, provided))
            if best is None or score > (len(best[1]), own.all_local(graph, type_name, best[2], provided)):
                best = (target, can, key)
        if best is None:
            through_parent = _jump_through_parent(b, pos, remaining)
            if through_parent is not None:
                created.append(through_parent)
                break
            # the last resort: an @interfaceObject of one of the type's interfaces (or an error)
            created += jump_interface_object(b, pos, remaining)
            break
        target, fields, key = best
        remaining = [f for f in remaining if f not in fields]
        sibling_key = (pos.fetch.id, pos.path, type_name, target)
        entity = None if fresh else b.siblings.get(sibling_key)
        if entity is not None and b.is_creating(entity):
            entity = None  # its own key or requirements cannot come from itself
        # one representation carries one value per field: requirements of one field with other arguments
        # (price(currency: "USD") and price(currency: "EUR")) go to another fetch
        rep_args = dict(entity.rep_args) if entity is not None else {}
        chosen: list[Field] = []
        for f in fields:
            wanted = {i.name: i.args for i in own.requires(target, type_name, f.name) or () if isinstance(i, FsField)}
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
            entity = b.entity_fetch(target, type_name, pos.path, pos.fetch)
            if type_name in own.supergraph.types and target in own.supergraph.types[type_name].interface_object_in:
                entity.rep_typename = type_name
            b.siblings.setdefault(sibling_key, entity)
            pos.selection.add("__typename", "__typename", internal=True)
            entity.rep_args = rep_args
            entity.key_names = names(key)
            with b.creating(entity):
                reps = b.ensure(pos, key, entity.depends)
        else:  # one fetch per subgraph and position: later needs join the fetch already planned there
            reps = list(entity.representation)
            entity.rep_args = rep_args
        with b.creating(entity):
            for f in fields:
                requires = own.requires(target, type_name, f.name)
                if requires:
                    reps += b.ensure(pos, requires, entity.depends)
        entity.representation = dedupe(reps)
        satisfied = frozenset(f.name for f in fields)
        there = pos._replace(graph=target, selection=entity.selection, fetch=entity, provided=None)
        b.plan_object(there, list(fields), satisfied)
        created.append(entity)
    return created


def _jump_through_parent(b: PlanState, pos: Position, missing: list[Field]) -> Fetch | None:
    """Fields of an object that is no entity where they live (no key there): fetch them through the parent
    entity instead, from a subgraph that resolves the parent's field and these fields under it."""
    own, graph, parent = b.own, pos.graph, pos.parent
    if parent is None or (*parent.path, parent.field.key) != pos.path:
        return None
    for target in own.order:
        keys = own.keys(target, parent.type_name)
        if target == graph or not keys or target not in own.owners(parent.type_name, parent.field.name):
            continue
        if not all(own.local(target, pos.type_name, f.name, None) for f in missing):
            continue
        key = next((k for k in keys if own.all_local(graph, parent.type_name, k, parent.provided)), keys[0])
        entity = b.entity_fetch(target, parent.type_name, parent.path, pos.fetch)
        entity.key_names = names(key)
        parent.selection.add("__typename", "__typename", internal=True)
        at_parent = pos._replace(
            type_name=parent.type_name, selection=parent.selection, path=parent.path, provided=parent.provided
        )
        with b.creating(entity):
            reps = b.ensure(at_parent, key, entity.depends)
        entity.representation = dedupe(reps)
        wrapper = Field(**{**parent.field.__dict__, "children": list(missing)})
        there = at_parent._replace(graph=target, selection=entity.selection, fetch=entity, provided=None)
        b.plan_object(there, [wrapper])
        return entity
    return None
