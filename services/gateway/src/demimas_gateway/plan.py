"""What the planner produces and the executor runs: fetches with their subgraph query text, where their entities
sit in the response, how to build representations, and what they wait for."""

from __future__ import annotations

from dataclasses import dataclass, field

from demimas_gateway.operation import NormalizedOperation

__all__ = ["Fetch", "Plan", "RepField", "SubField", "SubSelection"]


@dataclass(eq=False)
class SubField:
    key: str
    name: str
    args: str
    children: SubSelection | None
    variables: frozenset[str] = frozenset()
    internal: bool = False
    rename_to: str | None = None
    """The client's key when the subgraph is asked under a private alias (see the planner's conflicts)."""

    def print(self, out: list[str]) -> None:
        if self.key != self.name:
            out.append(f"{self.key}:")
        out.append(self.name + self.args)
        if self.children is not None:
            self.children.print(out)


@dataclass(eq=False)
class SubSelection:
    fields: dict[str, SubField] = field(default_factory=dict)
    fragments: dict[str, SubSelection] = field(default_factory=dict)

    def find(self, name: str, args: str) -> SubField | None:
        for sub in self.fields.values():
            if sub.name == name and sub.args == args:
                return sub
        return None

    def add(
        self,
        key: str,
        name: str,
        args: str = "",
        *,
        composite: bool = False,
        variables: frozenset[str] = frozenset(),
        internal: bool = False,
    ) -> SubField:
        """The field at `key`; an internal field (a key or requirement the gateway needs) reuses a field the
        client already selected, or takes a private alias when the client's response key means something else."""
        if internal:
            existing = self.find(name, args)
            if existing is not None:
                return existing
            if key in self.fields:
                key = f"_gw_{name}"
                while key in self.fields and not (self.fields[key].name == name and self.fields[key].args == args):
                    key += "_"
        existing = self.fields.get(key)
        if existing is not None:
            if existing.name != name or existing.args != args:
                raise PlanningError(f"response key {key!r} selects two different fields ({existing.name}, {name})")
            return existing
        sub = SubField(key, name, args, SubSelection() if composite else None, variables, internal)
        self.fields[key] = sub
        return sub

    def fragment(self, type_condition: str) -> SubSelection:
        existing = self.fragments.get(type_condition)
        if existing is None:
            existing = self.fragments[type_condition] = SubSelection()
        return existing

    def has_renames(self) -> bool:
        return any(
            sub.rename_to is not None or (sub.children is not None and sub.children.has_renames())
            for sub in self.fields.values()
        ) or any(frag.has_renames() for frag in self.fragments.values())

    def restore(self, value: object) -> None:
        """Give aliased fields of a subgraph answer their client keys back (in place)."""
        if type(value) is list:
            for item in value:
                self.restore(item)
            return
        if type(value) is not dict:
            return
        for sub in list(self.fields.values()):
            if sub.key in value:
                if sub.children is not None:
                    sub.children.restore(value[sub.key])
                if sub.rename_to is not None:
                    value[sub.rename_to] = value.pop(sub.key)
        runtime = value.get("__typename")
        for condition, frag in self.fragments.items():
            if condition == runtime:
                frag.restore(value)

    def compatible(self, other: SubSelection) -> bool:
        """Whether `other` can be merged into this selection: no response key that means two different fields."""
        for key, sub in other.fields.items():
            mine = self.fields.get(key)
            if mine is None:
                continue
            if mine.name != sub.name or mine.args != sub.args or mine.rename_to != sub.rename_to:
                return False
            if (mine.children is None) != (sub.children is None):
                return False
            if mine.children is not None and sub.children is not None and not mine.children.compatible(sub.children):
                return False
        return all(
            condition not in self.fragments or self.fragments[condition].compatible(frag)
            for condition, frag in other.fragments.items()
        )

    def merge(self, other: SubSelection) -> None:
        """Add `other`'s fields (checked `compatible` first)."""
        for key, sub in other.fields.items():
            mine = self.fields.get(key)
            if mine is None:
                self.fields[key] = sub
            else:
                mine.variables |= sub.variables
                mine.internal = mine.internal and sub.internal
                if mine.children is not None and sub.children is not None:
                    mine.children.merge(sub.children)
        for condition, frag in other.fragments.items():
            self.fragment(condition).merge(frag)

    def variables(self) -> set[str]:
        out: set[str] = set()
        for sub in self.fields.values():
            out |= sub.variables
            if sub.children is not None:
                out |= sub.children.variables()
        for frag in self.fragments.values():
            out |= frag.variables()
        return out

    def print(self, out: list[str]) -> None:
        out.append("{")
        for sub in self.fields.values():
            sub.print(out)
        for condition, frag in self.fragments.items():
            if frag.fields or frag.fragments:
                out.append(f"...on {condition}")
                frag.print(out)
        if not self.fields and not self.fragments:
            out.append("__typename")
        out.append("}")

    def text(self) -> str:
        out: list[str] = []
        self.print(out)
        return " ".join(out)


class PlanningError(Exception):
    """The operation cannot be planned over this supergraph (names the field)."""


@dataclass(frozen=True)
class RepField:
    """One field of an entity representation: its name, where the gateway finds it in the merged object, and its
    own fields when it is an object."""

    name: str
    data_key: str
    children: tuple[RepField, ...] | None = None


@dataclass(eq=False)
class Fetch:
    id: int
    graph: str
    operation: str  # query | mutation
    selection: SubSelection = field(default_factory=SubSelection)
    path: tuple[str, ...] = ()
    entity_type: str | None = None
    typenames: frozenset[str] = frozenset()
    key_names: frozenset[str] = frozenset()
    rep_args: dict[str, str] = field(default_factory=dict)
    """Arguments of the required fields in the representations (one value per field name)."""
    """Top-level key fields: an object whose key is null cannot be resolved and is not sent."""
    rep_typename: str | None = None
    """`__typename` of the representations when it is not the object's own (an `@interfaceObject`'s interface)."""
    representation: list[RepField] = field(default_factory=list)
    depends: list[Fetch] = field(default_factory=list)
    stage: int = 0
    renames: bool = False
    query: str = ""
    variables: tuple[str, ...] = ()
    parts: list[Fetch] = field(default_factory=list)
    """An entity fetch that serves objects of several types at one path in one request (as Apollo's planner
    does): one part per type, each with its own typenames, representation and selection; empty otherwise."""

    @property
    def is_entity(self) -> bool:
        return self.entity_type is not None


@dataclass(eq=False)
class Plan:
    operation: NormalizedOperation
    fetches: list[Fetch]
    stages: int
    introspection: bool = False

    def describe(self) -> str:
        """Human-readable plan, in the spirit of Apollo's query plan output."""
        lines = [f"QueryPlan ({self.operation.operation}, {len(self.fetches)} fetches) {{"]
        for fetch in self.fetches:
            head = f"  [{fetch.id}] Fetch(service: {fetch.graph!r}"
            if fetch.is_entity:
                if fetch.parts:
                    where = ", ".join(f"{p.entity_type} at {'.'.join(p.path) or '(root)'}" for p in fetch.parts)
                    head += f", entities: {where}"
                else:
                    head += f", entities: {fetch.entity_type}, path: {'.'.join(fetch.path) or '(root)'}"
            if fetch.depends:
                head += f", after: {', '.join(str(d.id) for d in fetch.depends)}"
            if self.stages > 1:
                head += f", stage: {fetch.stage}"
            lines.append(head + ")")
            for part in fetch.parts or [fetch]:
                if part.representation:
                    lines.append(f"      representations: {_rep_text(part.representation)}")
            lines.append(f"      {fetch.query}")
        lines.append("}")
        return "\n".join(lines)


def _rep_text(fields: list[RepField] | tuple[RepField, ...]) -> str:
    parts = []
    for rep in fields:
        part = rep.name if rep.data_key == rep.name else f"{rep.name}<-{rep.data_key}"
        if rep.children:
            part += " { " + _rep_text(rep.children) + " }"
        parts.append(part)
    return " ".join(parts)
