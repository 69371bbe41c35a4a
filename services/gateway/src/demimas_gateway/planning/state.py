"""What planning passes around: a `Position` (immutable: where in which fetch the planner stands) and the
`PlanState` of one plan in the making (the fetches so far, and the bookkeeping that lets later needs join them).

The planner's parts call each other recursively (a field leads to an entity jump, whose key needs a field set
ensured, which may need another jump): they do so through `PlanState`'s three abstract steps, which
`planning.builder.PlanBuilder` implements, so that the modules import one another in one direction only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from demimas_gateway.fieldset import FieldSet
from demimas_gateway.operation import Field, Item
from demimas_gateway.plan import Fetch, RepField, SubSelection
from demimas_gateway.planning.ownership import Ownership

__all__ = ["MAX_JUMP_DEPTH", "Parent", "PlanState", "Position"]

MAX_JUMP_DEPTH = 64  # nested entity hops; deeper only through a cycle of keys or @requires


class Parent(NamedTuple):
    """The field whose objects a position holds, where it was planned: a field its subgraph cannot give at the
    position (no key there) may be fetched through this parent entity instead."""

    type_name: str
    field: Field
    path: tuple[str, ...]
    selection: SubSelection
    provided: FieldSet | None


class Position(NamedTuple):
    """Objects of `type_name` at `path` of `fetch`'s response, answered by `graph`, whose fields go into
    `selection`; `provided`: the `@provides` field set that applies here. `parent` and `candidates` come from the
    last field planned on the way here (positions made at the same path keep them)."""

    graph: str
    type_name: str
    selection: SubSelection
    path: tuple[str, ...]
    fetch: Fetch
    provided: FieldSet | None = None
    parent: Parent | None = None
    candidates: frozenset[str] | None = None
    """The subgraphs that could have answered the field leading here (see `selections.candidates_for`)."""


class PlanState(ABC):
    """One plan in the making: made per call of `Planner.plan` (and per trial of a root field's subgraph)."""

    def __init__(self, own: Ownership, root: str) -> None:
        self.own = own
        self.root = root
        self.fetches: list[Fetch] = []
        self.siblings: dict[tuple[int, tuple[str, ...], str, str], Fetch] = {}
        """(parent fetch id, path, type, subgraph) -> the entity fetch there: later needs join it."""
        self.depth = 0
        """Entity jumps under way, one inside another."""
        self._creating: set[int] = set()

    def new_fetch(self, graph: str, operation: str) -> Fetch:
        fetch = Fetch(id=len(self.fetches), graph=graph, operation=operation)
        self.fetches.append(fetch)
        return fetch

    def entity_fetch(self, target: str, type_name: str, path: tuple[str, ...], after: Fetch) -> Fetch:
        """An `_entities` fetch to `target` for the objects of `type_name` at `path`, run after `after`."""
        entity = self.new_fetch(target, "query")
        entity.entity_type = type_name
        entity.typenames = self.own.typenames(type_name)
        entity.path = path
        entity.depends.append(after)
        return entity

    @contextmanager
    def creating(self, entity: Fetch) -> Iterator[None]:
        """While the representation of `entity` is gathered: its own key or requirements cannot come from it."""
        self._creating.add(entity.id)
        try:
            yield
        finally:
            self._creating.discard(entity.id)

    def is_creating(self, entity: Fetch) -> bool:
        return entity.id in self._creating

    @abstractmethod
    def plan_object(self, pos: Position, items: list[Item], satisfied: frozenset[str] = frozenset()) -> None:
        """Plan `items` on the objects at `pos`; `satisfied` names fields whose `@requires` the fetch's
        representations already carry."""

    @abstractmethod
    def jump(self, pos: Position, missing: list[Field]) -> list[Fetch]:
        """Fetch `missing` fields of the objects at `pos` from other subgraphs through `_entities`."""

    @abstractmethod
    def ensure(self, pos: Position, fields: FieldSet, deps: list[Fetch]) -> list[RepField]:
        """Make `fields` (a key or a `@requires` set) present on the objects at `pos`; returns how to read them."""
