"""The finished fetch graph: refused when fetches wait for each other in a cycle, and entity fetches to one
subgraph for objects at one path merged into one request when neither waits for the other."""

from __future__ import annotations

from demimas_gateway.plan import Fetch, PlanningError, SubSelection
from demimas_gateway.planning.abstract import separate_conflicts
from demimas_gateway.planning.ownership import Ownership

__all__ = ["check_acyclic", "merge_siblings"]


def merge_siblings(own: Ownership, fetches: list[Fetch]) -> None:
    """Entity fetches to one subgraph for objects at one path become one fetch when neither waits for the other:
    the same type's selections merged, different types as parts of one `_entities` request (Apollo's planner
    plans them so; planning per runtime type of an abstract field otherwise asks each branch separately).
    Changes `fetches` in place, and numbers them anew."""
    merged = True
    while merged:
        merged = False
        ancestors = _ancestors(fetches)
        groups: dict[tuple[str, str, int], list[Fetch]] = {}
        for fetch in fetches:
            if fetch.is_entity:
                groups.setdefault((fetch.graph, fetch.operation, fetch.stage), []).append(fetch)
        for group in groups.values():
            for i, first in enumerate(group):
                for second in group[i + 1 :]:
                    if first in ancestors[second.id] or second in ancestors[first.id]:
                        continue
                    if _paths(first) != _paths(second) and set(first.depends) != set(second.depends):
                        continue  # objects elsewhere join only a fetch that waits for nothing more
                    if _merge_pair(own, fetches, first, second):
                        merged = True
                        break
                if merged:
                    break
            if merged:
                break
    for index, fetch in enumerate(fetches):
        fetch.id = index


def _merge_pair(own: Ownership, fetches: list[Fetch], into: Fetch, other: Fetch) -> bool:
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
        separate_conflicts(own, into.graph, scratch)
    into.depends = [d for d in dict.fromkeys([*into.depends, *other.depends]) if d is not into and d is not other]
    fetches.remove(other)
    for fetch in fetches:
        if other in fetch.depends:
            fetch.depends = [into if d is other else d for d in fetch.depends]
            fetch.depends = [d for d in dict.fromkeys(fetch.depends) if d is not fetch]
    return True


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


def check_acyclic(fetches: list[Fetch]) -> None:
    """A fetch waiting for itself, directly or not, would never run: refuse the plan instead. (Drops a fetch's
    wait for itself and repeated waits first.)"""
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
