"""Operations generated from a schema, for tests that must cover every field, today's and tomorrow's.

`entry_operations` turns each root query field (and, for a subgraph, `_entities` of each entity type) into one
operation that selects everything reachable below it: every field, once per type along a path (so the document stays
finite), lists and connections with `first`, unions and interfaces through inline fragments. Arguments come from a
`Filler`, which knows the test's data by argument name and by the type a field returns; a root field whose required
argument it cannot fill is reported rather than skipped, so a new field with a new argument fails the test until the
filler learns it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    print_type,
)

__all__ = ["MISSING", "Filler", "IdProbe", "Operation", "entry_operations", "id_probes", "strings_in"]

MISSING = object()
PAGE = 20


@dataclass(frozen=True)
class Operation:
    name: str
    query: str
    variables: dict[str, Any]


@dataclass
class Filler:
    """Argument values by name (`by_name`), by name and the returned type (`by_type`: {(type, arg): value}), and
    the representations of entities (`entities`: {type: [representation, ...]})."""

    by_name: dict[str, Any]
    by_type: dict[tuple[str, str], Any] = field(default_factory=dict)
    entities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def value(self, returned: str, name: str) -> Any:
        if (returned, name) in self.by_type:
            return self.by_type[(returned, name)]
        return self.by_name.get(name, MISSING)


def _named(gtype: Any) -> GraphQLNamedType:
    while isinstance(gtype, GraphQLNonNull | GraphQLList):
        gtype = gtype.of_type
    return gtype  # type: ignore[no-any-return]


def _input_value(gtype: GraphQLInputType, name: str, returned: str, filler: Filler) -> Any:
    """A value for an input of type `gtype`: known by name, or an input object of whatever fields are known."""
    known = filler.value(returned, name)
    if known is not MISSING:
        return known
    named = _named(gtype)
    if isinstance(named, GraphQLInputObjectType):
        value = {}
        for fname, f in named.fields.items():
            inner = _input_value(f.type, fname, returned, filler)
            if inner is not MISSING:
                value[fname] = inner
            elif isinstance(f.type, GraphQLNonNull) and f.default_value is None:
                return MISSING
        return value if value else MISSING
    return MISSING


def _arguments(fld: GraphQLField, returned: str, filler: Filler, *, filtered: bool) -> dict[str, Any] | None:
    """Arguments of a field: required ones filled (None when one cannot be); optional ones filled when `filtered`,
    else only `first`."""
    values: dict[str, Any] = {}
    for name, arg in fld.args.items():
        required = isinstance(arg.type, GraphQLNonNull) and arg.default_value is None
        if not required and not filtered:
            if name == "first":
                values[name] = PAGE
            continue
        value = _input_value(arg.type, name, returned, filler) if (required or filtered) else MISSING
        if value is MISSING and name == "first":
            value = PAGE
        if value is MISSING:
            if required:
                return None
            continue
        values[name] = value
    return values


class Enum:
    """An enum literal in generated arguments (written bare, not quoted)."""

    def __init__(self, name: str) -> None:
        self.name = name


def _literal(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Enum):
        return value.name
    return json.dumps(value)


def _arg_text(args: dict[str, Any], fld: GraphQLField) -> str:
    if not args:
        return ""
    parts = []
    for name, value in args.items():
        if isinstance(_named(fld.args[name].type), GraphQLEnumType) and isinstance(value, str):
            value = Enum(value)
        parts.append(f"{name}: {_literal(value)}")
    return "(" + ", ".join(parts) + ")"


def selection(gtype: GraphQLOutputType, filler: Filler, path: tuple[str, ...] = ()) -> str | None:
    """Everything below `gtype`, each type at most once along a path; None for a type with nothing selectable."""
    named = _named(gtype)
    if isinstance(named, GraphQLScalarType | GraphQLEnumType):
        return ""
    if named.name in path:
        return None
    inner_path = (*path, named.name)
    if isinstance(named, GraphQLUnionType | GraphQLInterfaceType):
        possible = named.types if isinstance(named, GraphQLUnionType) else []
        parts = ["__typename"]
        for member in possible:
            sub = selection(member, filler, inner_path)
            if sub:
                parts.append(f"... on {member.name} {sub}")
        return "{ " + " ".join(parts) + " }"
    assert isinstance(named, GraphQLObjectType), print_type(named)
    parts = ["__typename"]
    for fname, fld in named.fields.items():
        if fname.startswith("_"):
            continue
        args = _arguments(fld, _named(fld.type).name, filler, filtered=False)
        if args is None:
            continue
        sub = selection(fld.type, filler, inner_path)
        if sub is None:
            continue
        parts.append(f"{fname}{_arg_text(args, fld)} {sub}".rstrip())
    return "{ " + " ".join(parts) + " }"


def entry_operations(schema: GraphQLSchema, filler: Filler, *, missing: list[str]) -> Iterator[Operation]:
    """One operation per root query field (twice for fields with optional arguments: filled and bare) and one per
    entity type and representation when the schema has `_entities`. Root fields that need an argument the filler
    does not know are appended to `missing`."""
    query = schema.query_type
    assert query is not None
    for name, fld in query.fields.items():
        if name.startswith("_"):
            continue
        returned = _named(fld.type).name
        sub = selection(fld.type, filler)
        if sub is None:
            continue
        variants = {"filled": _arguments(fld, returned, filler, filtered=True)}
        if any(not isinstance(a.type, GraphQLNonNull) for a in fld.args.values()):
            variants["bare"] = _arguments(fld, returned, filler, filtered=False)
        for variant, args in variants.items():
            if args is None:
                missing.append(name)
                break
            yield Operation(f"{name}[{variant}]", f"{{ {name}{_arg_text(args, fld)} {sub} }}".replace(" {  }", ""), {})
    entities = query.fields.get("_entities")
    if entities is None:
        return
    union = _named(entities.type)
    assert isinstance(union, GraphQLUnionType)
    for member in union.types:
        representations = filler.entities.get(member.name)
        if not representations:
            missing.append(f"_entities({member.name})")
            continue
        sub = selection(member, filler)
        for i, representation in enumerate(representations):
            yield Operation(
                f"_entities({member.name})[{i}]",
                f"query E($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on {member.name} {sub} }} }}",
                {"r": [{"__typename": member.name, **representation}]},
            )


@dataclass(frozen=True)
class IdProbe:
    """One ID position of a mutation (`path`: the argument, dotted into input objects, e.g. `input.people.id`), the
    type of the object it names (`names`: `Worker`, `Case`, ...), and the mutation with that position as `$probe`."""

    mutation: str
    path: str
    names: str
    query: str
    variables: dict[str, Any]


SCALAR_SAMPLES: dict[str, Any] = {
    "String": "walk",
    "Int": 1,
    "Float": 1.0,
    "Boolean": False,
    "Date": "2026-01-05",
    "DateTime": "2026-01-05T08:00:00+07:00",
    "JSON": {},
}


def _id_paths(gtype: GraphQLInputType, path: str, seen: tuple[str, ...] = (), scalar: str = "ID") -> Iterator[str]:
    named = _named(gtype)
    if isinstance(named, GraphQLScalarType) and named.name == scalar:
        yield path
    elif isinstance(named, GraphQLInputObjectType) and named.name not in seen:
        for fname, f in named.fields.items():
            yield from _id_paths(f.type, f"{path}.{fname}", (*seen, named.name), scalar)


def _probe_value(gtype: GraphQLInputType, path: str, probed: str, known: Callable[[str, str], Any]) -> Any:
    """A value for the input at `path`: the probe's variable at the probed position, known values by name (`known`
    answers MISSING when it has none), else a sample of the type; input objects with their required fields and the
    one on the way to the probed position; lists of one item."""
    if path == probed:
        return _Var("probe") if not isinstance(_strip(gtype), GraphQLList) else [_Var("probe")]
    name = path.rsplit(".", 1)[-1]
    named = _named(gtype)
    if not isinstance(named, GraphQLInputObjectType):
        value = known(path, name)
        if isinstance(named, GraphQLEnumType) and isinstance(value, str):
            value = Enum(value)
        if value is MISSING:
            if isinstance(named, GraphQLEnumType):
                value = Enum(next(iter(named.values)))
            elif isinstance(named, GraphQLScalarType) and named.name in SCALAR_SAMPLES:
                value = SCALAR_SAMPLES[named.name]
            else:
                raise LookupError(f"no sample value for {named.name} at {path}")
        return [value] if isinstance(_strip(gtype), GraphQLList) and not isinstance(value, list) else value
    obj = {}
    for fname, f in named.fields.items():
        inner = f"{path}.{fname}"
        needed = isinstance(f.type, GraphQLNonNull) and f.default_value in (None, Undefined)
        if needed or probed.startswith(inner + ".") or probed == inner:
            obj[fname] = _probe_value(f.type, inner, probed, known)
    return [obj] if isinstance(_strip(gtype), GraphQLList) else obj


def _strip(gtype: Any) -> Any:
    return gtype.of_type if isinstance(gtype, GraphQLNonNull) else gtype


class _Var:
    """A variable reference in generated arguments (`$name`)."""

    def __init__(self, name: str) -> None:
        self.name = name


def id_probes(
    schema: GraphQLSchema,
    owner: Callable[[str, str], str | None],
    known: Callable[[str, str, str], Any],
    *,
    missing: list[str],
    root: str = "mutation",
    scalar: str = "ID",
) -> Iterator[IdProbe]:
    """Every ID position of every mutation (of every root query field with `root="query"`), as an operation
    whose probed ID is the variable `$probe` (`ID!`) and whose other arguments are filled: `known(returned type,
    path, name)` (MISSING when it has no value; ids of other positions included) else a sample of the type.
    `owner(returned type, path)` names the type of object an ID names; a position it cannot name, or a required
    argument without a value, is appended to `missing`. With `scalar="String"`, the String positions instead, those
    `owner` names (None passes over the others silently: most strings are no place)."""
    operation = schema.mutation_type if root == "mutation" else schema.query_type
    if operation is None:
        return
    for name, fld in operation.fields.items():
        if name.startswith("_"):
            continue
        returned = _named(fld.type).name
        plain = isinstance(_named(fld.type), GraphQLScalarType | GraphQLEnumType)
        sub = "" if plain else "{ __typename }"  # a refusal is compared, not data: nothing is read
        for arg_name, arg in fld.args.items():
            for path in _id_paths(arg.type, arg_name, scalar=scalar):
                names = owner(returned, path)
                if names is None:
                    if scalar == "ID":
                        missing.append(f"{name}({path})")
                    continue
                try:
                    args = {}
                    for other, a in fld.args.items():
                        needed = isinstance(a.type, GraphQLNonNull) and a.default_value in (None, Undefined)
                        if needed or other == arg_name:
                            args[other] = _probe_value(a.type, other, path, functools.partial(known, returned))
                except LookupError as e:
                    missing.append(f"{name}({path}): {e}")
                    continue
                text = ", ".join(f"{k}: {_probe_literal(v)}" for k, v in args.items())
                query = f"{root} M($probe: {scalar}!) {{ {name}({text}) {sub} }}"
                yield IdProbe(name, path, names, query, {})


def _probe_literal(value: Any) -> str:
    if isinstance(value, _Var):
        return "$" + value.name
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_probe_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_probe_literal(v) for v in value) + "]"
    return _literal(value)


def strings_in(value: Any) -> Iterator[str]:
    """Every string anywhere in a JSON value (keys excluded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)
