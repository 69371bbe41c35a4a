"""The client's response from the merged subgraph data: exactly the selected response keys in the operation's order,
`__typename` answered by the gateway, and GraphQL null propagation (a null in a non-null position nulls the nearest
nullable parent, with one error at the path where it happened unless a subgraph already reported one there), and an
`UNAUTHORIZED_FIELD_OR_TYPE` error at each path where a field removed for the caller would have been."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLAbstractType, GraphQLEnumType, GraphQLList, GraphQLNonNull, GraphQLOutputType, GraphQLSchema

from demimas_common.auth.principal import PURPOSE_HEADER
from demimas_gateway.operation import Field, Item, fields_for

__all__ = ["HIDDEN", "Shaper", "abstract_types"]

HIDDEN = "__demimas_hidden"
"""Set on an object for which a subgraph's `_entities` answered null: that subgraph does not show it to this caller
(outside the caller's region, or no such record). A non-nullable field of it left unanswered is then explained as
NOT_FOUND, never as the gateway's INTERNAL_SERVER_ERROR. No GraphQL name can clash (names starting `__` are
reserved)."""


def abstract_types(schema: GraphQLSchema) -> dict[str, bool]:
    return {name: isinstance(t, GraphQLAbstractType) for name, t in schema.type_map.items()}


SCALAR, SCALAR_NON_NULL, TYPENAME, NULL, GENERAL = range(5)


class _Invalid:
    """Marks a value that must be null in a non-null position: the parent has to become null."""


INVALID = _Invalid()
Path = tuple[Any, ...] | None  # (parent, key) chain, materialised only when an error needs it


def _materialise(path: Path) -> list[str | int]:
    out: list[str | int] = []
    while path is not None:
        path, key = path
        out.append(key)
    out.reverse()
    return out


class Shaper:
    def __init__(self, schema: GraphQLSchema, abstract: dict[str, bool] | None = None) -> None:
        self.schema = schema
        self._fields: dict[tuple[int, str], list[tuple[str, int, Field]]] = {}
        self._abstract = abstract if abstract is not None else abstract_types(schema)
        self._enums = {
            name: frozenset(t.values) for name, t in schema.type_map.items() if isinstance(t, GraphQLEnumType)
        }

    def fields(self, items: list[Item], runtime: str) -> list[Field]:
        """Cached per item list (lists live as long as the plan holding them) and runtime type."""
        return [f for _, _, f in self._compiled(items, runtime)]

    def _compiled(self, items: list[Item], runtime: str) -> list[tuple[str, int, Field]]:
        """(response key, kind, field): the kind picks a fast path for the common flat cases."""
        key = (id(items), runtime)
        cached = self._fields.get(key)
        if cached is None:
            cached = []
            for f in fields_for(self.schema, items, runtime):
                if f.name == "__typename":
                    kind = TYPENAME
                elif f.named in self._enums:
                    kind = GENERAL  # checked against the API schema's values
                elif f.unauthorized:
                    kind = NULL if type(f.type) is not GraphQLNonNull else GENERAL
                elif not f.composite and type(f.type) is not GraphQLNonNull and type(f.type) is not GraphQLList:
                    kind = SCALAR
                elif not f.composite and type(f.type) is GraphQLNonNull and type(f.type.of_type) is not GraphQLList:
                    kind = SCALAR_NON_NULL
                else:
                    kind = GENERAL
                cached.append((f.key, kind, f))
            self._fields[key] = cached
        return cached

    def shape(
        self, items: list[Item], root_type: str, data: dict[str, Any], errors: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        state = _State(errors)
        result = self._object(items, data, root_type, None, state)
        return None if result is INVALID else result

    def _object(self, items: list[Item], obj: dict[str, Any], named: str, path: Path, state: _State) -> Any:
        if self._abstract.get(named):
            runtime = obj.get("__typename", named)
            if runtime not in self._abstract:  # a type the API schema does not have (@inaccessible): null
                return None
        else:
            runtime = named
        out: dict[str, Any] = {}
        get = obj.get
        hidden = HIDDEN in obj
        for key, kind, field in self._compiled(items, runtime):
            if kind == SCALAR:
                out[key] = get(key)
            elif kind == SCALAR_NON_NULL:
                value = get(key)
                if value is None:
                    state.null_error(field, (path, key), hidden=hidden)
                    return INVALID
                out[key] = value
            elif kind == TYPENAME:
                out[key] = runtime
            elif kind == NULL:
                out[key] = None
                state.unauthorized(field, (path, key))
            else:
                if field.unauthorized:
                    state.unauthorized(field, (path, key))
                    value = None
                else:
                    value = get(key)
                    if value is None and hidden and type(field.type) is GraphQLNonNull:
                        state.null_error(field, (path, key), hidden=True)
                        return INVALID
                completed = self._value(field, field.type, value, (path, key), state)
                if completed is INVALID:
                    return INVALID
                out[key] = completed
        return out

    def _value(self, field: Field, gtype: GraphQLOutputType, value: Any, path: Path, state: _State) -> Any:
        if type(gtype) is GraphQLNonNull:
            inner = self._inner(field, gtype.of_type, value, path, state)
            if inner is None:
                state.null_error(field, path)
                return INVALID
            return inner
        inner = self._inner(field, gtype, value, path, state)
        return None if inner is INVALID else inner

    def _inner(self, field: Field, gtype: GraphQLOutputType, value: Any, path: Path, state: _State) -> Any:
        if value is None:
            return None
        if type(gtype) is GraphQLList:
            if type(value) is not list:
                return None
            item_type = gtype.of_type
            out = []
            for index, item in enumerate(value):
                completed = self._value(field, item_type, item, (path, index), state)
                if completed is INVALID:
                    return INVALID
                out.append(completed)
            return out
        if field.composite:
            if type(value) is not dict:
                return None
            return self._object(field.children, value, field.named, path, state)
        allowed = self._enums.get(field.named)
        if allowed is not None and value not in allowed:
            # a value the API schema does not have (@inaccessible, or known to one subgraph only): null, as the
            # field would be were the value unknown to the client; subgraphs own their data's meaning
            return None
        return value


DENIALS = {
    "UNAUTHORIZED_FIELD_OR_TYPE": "Unauthorized field or type",
    "PURPOSE_REQUIRED": f"Personal data needs a purpose: name one in the token or the {PURPOSE_HEADER} header",
}


class _State:
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors

    def unauthorized(self, field: Field, path: Path) -> None:
        """One error at each response path where a removed field would have been (the message names nothing)."""
        self.errors.append(
            {
                "message": DENIALS.get(field.denial, DENIALS["UNAUTHORIZED_FIELD_OR_TYPE"]),
                "path": _materialise(path),
                "extensions": {"code": field.denial},
            }
        )

    def null_error(self, field: Field, path: Path, *, hidden: bool = False) -> None:
        where = _materialise(path)
        for error in self.errors:
            existing = error.get("path")
            if existing is None or where[: len(existing)] == existing:
                return  # a subgraph (or the gateway) already explained this null
        if hidden:
            message = "An object here is not visible to this caller (outside its region or grants, or gone)."
            self.errors.append({"message": message, "path": where[:-1], "extensions": {"code": "NOT_FOUND"}})
            return
        self.errors.append(
            {
                "message": f"Cannot return null for non-nullable field {field.parent}.{field.name}.",
                "path": where,
                "extensions": {"code": "INTERNAL_SERVER_ERROR"},
            }
        )
