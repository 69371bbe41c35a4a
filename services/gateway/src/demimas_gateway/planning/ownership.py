"""Who resolves what, for one plan: the supergraph's field ownership read with this plan's progressive `@override`
labels, keys, `@requires`/`@provides` field sets, and whether a field is local to a subgraph at a position.

Pure questions about the supergraph: nothing here changes during planning.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLAbstractType, GraphQLObjectType, GraphQLSchema, get_named_type

from demimas_gateway.fieldset import FieldSet, FsField, FsFragment
from demimas_gateway.operation import type_condition_applies
from demimas_gateway.supergraph import Supergraph

__all__ = ["Ownership"]


@dataclass(frozen=True)
class Ownership:
    supergraph: Supergraph
    schema: GraphQLSchema
    """The API schema (clients' types); `supergraph.full_schema` has the `@inaccessible` ones too."""
    order: tuple[str, ...]
    """Subgraphs in the supergraph's order: ties go to the first."""
    labels: frozenset[str]
    """Progressive-override labels active for this plan."""

    @classmethod
    def of(cls, supergraph: Supergraph, labels: frozenset[str] = frozenset()) -> Ownership:
        return cls(supergraph, supergraph.api_schema, tuple(supergraph.graphs), labels)

    def owners(self, type_name: str, field_name: str) -> list[str]:
        """The subgraphs that resolve `type_name.field_name` (none for a field only an `@interfaceObject` gives)."""
        meta = self.supergraph.types.get(type_name)
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

    def requires(self, graph: str, type_name: str, field_name: str) -> FieldSet | None:
        meta = self.supergraph.types.get(type_name)
        fm = meta.fields.get(field_name, {}).get(graph) if meta else None
        return fm.requires if fm else None

    def provides(self, graph: str, type_name: str, field_name: str) -> FieldSet | None:
        meta = self.supergraph.types.get(type_name)
        fm = meta.fields.get(field_name, {}).get(graph) if meta else None
        return fm.provides if fm else None

    def provided_names(self, provided: FieldSet | None, type_name: str) -> dict[str, FieldSet]:
        """Field name -> provided sub-selection, for the fields a `@provides` set gives objects of `type_name`."""
        out: dict[str, FieldSet] = {}
        for item in provided or ():
            if isinstance(item, FsField):
                out[item.name] = out.get(item.name, ()) + item.children
            elif item.type_condition is None or type_condition_applies(self.schema, item.type_condition, type_name):
                for name, children in self.provided_names(item.children, type_name).items():
                    out[name] = out.get(name, ()) + children
        return out

    def local(self, graph: str, type_name: str, field_name: str, provided: FieldSet | None) -> bool:
        """Whether `graph` answers the field in the fetch at hand: it owns it without `@requires`, or it is
        `@provides`d at this position."""
        if field_name == "__typename":
            return True
        if graph in self.owners(type_name, field_name):
            return self.requires(graph, type_name, field_name) is None
        return field_name in self.provided_names(provided, type_name)

    def all_local(self, graph: str, type_name: str, fields: FieldSet, provided: FieldSet | None) -> bool:
        for item in fields:
            if isinstance(item, FsFragment):
                continue
            if not self.local(graph, type_name, item.name, provided):
                return False
            if item.children:
                child = self.field_type(type_name, item.name)
                if child is None or not self.all_local(graph, child, item.children, None):
                    return False
        return True

    def keys(self, graph: str, type_name: str) -> list[FieldSet]:
        """The resolvable keys `graph` declares on `type_name` (none: objects cannot be fetched from it)."""
        meta = self.supergraph.types.get(type_name)
        return [k.fields for k in (meta.keys.get(graph, []) if meta else []) if k.resolvable]

    def reachable(self, graph: str, type_name: str, field_name: str) -> bool:
        owners = self.owners(type_name, field_name)
        return graph in owners or any(self.keys(g, type_name) for g in owners)

    def type_in_graph(self, graph: str, type_name: str, field_name: str) -> str | None:
        """The named type a subgraph gives a field when it differs from the supergraph's (an object where the
        supergraph has an interface or union): the subgraph's query must be written against its own type."""
        meta = self.supergraph.types.get(type_name)
        fm = meta.fields.get(field_name, {}).get(graph) if meta else None
        if fm is None or fm.type_in_graph is None:
            return None
        named = fm.type_in_graph.replace("[", "").replace("]", "").replace("!", "").strip()
        return named if isinstance(self.schema.type_map.get(named), GraphQLObjectType) else None

    def graph_field_type(self, graph: str, type_name: str, field_name: str) -> str:
        """The field's type as `graph` declares it (printed), else as the supergraph does."""
        meta = self.supergraph.types.get(type_name)
        fm = meta.fields.get(field_name, {}).get(graph) if meta else None
        if fm is not None and fm.type_in_graph is not None:
            return fm.type_in_graph
        gtype = self.supergraph.full_schema.type_map.get(type_name)
        fields = getattr(gtype, "fields", None) or {}
        return str(fields[field_name].type) if field_name in fields else ""

    def field_type(self, type_name: str, field_name: str) -> str | None:
        """The named type of a field of the whole supergraph (`@inaccessible` ones included), None if no such field."""
        gtype = self.supergraph.full_schema.type_map.get(type_name)
        fields = getattr(gtype, "fields", None)
        if not fields or field_name not in fields:
            return None
        return str(get_named_type(fields[field_name].type).name)

    def member_in(self, graph: str, abstract: str, runtime: str) -> bool:
        """Whether `runtime` is a member (union) or implementation (interface) of `abstract` in `graph`."""
        ameta = self.supergraph.types.get(abstract)
        rmeta = self.supergraph.types.get(runtime)
        if rmeta is None or graph not in rmeta.graphs:
            return False
        if ameta is not None and ameta.kind == "union":
            members = ameta.members.get(graph)
            return members is None or runtime in members
        implemented = rmeta.implements.get(graph)
        if implemented is not None:
            return abstract in implemented
        return not rmeta.implements  # no join__implements at all: trust the API schema

    def typenames(self, type_name: str) -> frozenset[str]:
        """`__typename`s an object at an entity position may carry: an interface's own name (as an interface
        object answers) and those of its implementations (once a subgraph told the concrete type)."""
        gtype = self.schema.type_map.get(type_name)
        if isinstance(gtype, GraphQLAbstractType):
            return frozenset({type_name, *(t.name for t in self.schema.get_possible_types(gtype))})
        return frozenset({type_name})
