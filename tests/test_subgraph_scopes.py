"""Every subgraph enforces, in its own code, the scopes its SDL declares: generated from the committed SDL, not
from a list of fields.

For each subgraph, the printed SDL (`deploy/subgraphs/<name>.graphql`, what the gateway composes) is read for every
field's `@authenticated` / `@requiresScopes`, plus the type-level declaration of the type the field returns; a root
field that declares nothing still needs a caller. Then the subgraph's own resolver for that field is called, as
graphql-core would call it, with no caller, and with a caller holding every scope but those the declaration names:
it must refuse before doing anything (no database is involved: a resolver that got past the check would fail on its
missing parent and the test would say so). A caller holding one declared group passes the check. A new field is
covered the day its SDL is printed.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    DirectiveNode,
    FieldDefinitionNode,
    ListValueNode,
    NamedTypeNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    StringValueNode,
    TypeNode,
    parse,
)

from demimas_audit.entrypoints.graphql.schema import schema as audit_schema
from demimas_cases.entrypoints.graphql.schema import schema as cases_schema
from demimas_common.auth.grants import ALL_SCOPES
from demimas_common.auth.principal import Agency, Principal
from demimas_common.errors import Forbidden, Unauthenticated
from demimas_common.graphql.context import RequestContext
from demimas_designation.entrypoints.graphql.schema import schema as designation_schema
from demimas_feeds.entrypoints.graphql.schema import schema as feeds_schema
from demimas_pillars.entrypoints.graphql.schema import schema as pillars_schema
from demimas_registry.entrypoints.graphql.schema import schema as registry_schema

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = {"registry": registry_schema, "designation": designation_schema, "pillars": pillars_schema,
           "audit": audit_schema, "cases": cases_schema, "feeds": feeds_schema}  # fmt: skip
ROOT_TYPES = {"Query", "Mutation", "Subscription"}
Groups = tuple[frozenset[str], ...]


@dataclass(frozen=True)
class Declared:
    subgraph: str
    type: str
    field: str
    requirements: tuple[Groups, ...]
    """Each must hold; an empty Groups is @authenticated (a caller suffices)."""

    def __str__(self) -> str:
        return f"{self.subgraph}:{self.type}.{self.field}"


def _groups(directive: DirectiveNode) -> Groups:
    [argument] = [a for a in directive.arguments or () if a.name.value == "scopes"]
    outer = argument.value
    assert isinstance(outer, ListValueNode)
    groups = []
    for inner in outer.values:
        assert isinstance(inner, ListValueNode)
        groups.append(frozenset(v.value for v in inner.values if isinstance(v, StringValueNode)))
    return tuple(groups)


def _declared(directives: tuple[DirectiveNode, ...] | list[DirectiveNode] | None) -> tuple[Groups, ...]:
    found: list[Groups] = []
    for d in directives or ():
        if d.name.value == "authenticated":
            found.append(())
        elif d.name.value == "requiresScopes":
            found.append(_groups(d))
    return tuple(found)


def _named(node: TypeNode) -> str:
    while not isinstance(node, NamedTypeNode):
        node = node.type  # type: ignore[attr-defined]
    return node.name.value


def declarations(subgraph: str) -> list[Declared]:
    document = parse((ROOT / "deploy" / "subgraphs" / f"{subgraph}.graphql").read_text())
    objects = [d for d in document.definitions if isinstance(d, ObjectTypeDefinitionNode | ObjectTypeExtensionNode)]
    type_level: dict[str, tuple[Groups, ...]] = {}
    for obj in objects:
        type_level[obj.name.value] = type_level.get(obj.name.value, ()) + _declared(obj.directives)
    out = []
    for obj in objects:
        for fld in obj.fields or ():
            assert isinstance(fld, FieldDefinitionNode)
            needs = _declared(fld.directives) + type_level.get(_named(fld.type), ())
            if not needs and obj.name.value in ROOT_TYPES and fld.name.value != "_service":  # the SDL is public
                needs = ((),)
            if needs:
                out.append(Declared(subgraph, obj.name.value, fld.name.value, needs))
    return out


ALL = [d for name in SCHEMAS for d in declarations(name)]


@dataclass
class _Info:
    context: RequestContext
    field_name: str = ""


def _resolve(declared: Declared, principal: Principal | None) -> BaseException | None:
    schema = SCHEMAS[declared.subgraph]._schema
    gtype = schema.type_map[declared.type]
    field = gtype.fields[declared.field]  # type: ignore[attr-defined]
    assert field.resolve is not None, f"{declared} has no resolver of its own: nothing checks it"
    try:
        args = {"representations": []} if declared.field == "_entities" else {}
        result: Any = field.resolve(None, _Info(RequestContext(principal), declared.field), **args)
    except BaseException as error:
        return error
    if hasattr(result, "close"):
        result.close()  # a coroutine the check let through: not awaited, nothing ran
    return None


def _caller(scopes: frozenset[str]) -> Principal:
    return Principal(sub="scope-test", agency=Agency.KP2MI, scopes=scopes)


def test_every_subgraph_declares_something_to_enforce() -> None:
    assert {d.subgraph for d in ALL} == set(SCHEMAS)
    assert len(ALL) > 60


@pytest.mark.parametrize("declared", ALL, ids=str)
def test_a_field_refuses_a_caller_without_its_declared_scopes(declared: Declared) -> None:
    assert isinstance(_resolve(declared, None), Unauthenticated), f"{declared} answered an anonymous caller"
    for groups in declared.requirements:
        if not groups:
            continue
        lacking = ALL_SCOPES - frozenset().union(*groups)
        refusal = _resolve(declared, _caller(lacking))
        assert isinstance(refusal, Forbidden), f"{declared} answered a caller without {groups}: {refusal!r}"
        assert refusal.extensions["code"] == "FORBIDDEN"


@pytest.mark.parametrize("declared", ALL, ids=str)
def test_a_field_lets_a_caller_with_one_declared_group_past_its_check(declared: Declared) -> None:
    held = frozenset().union(*(groups[0] for groups in declared.requirements if groups))
    refusal = _resolve(declared, _caller(held))
    assert not isinstance(refusal, Forbidden | Unauthenticated), f"{declared} refused {sorted(held)}: {refusal!r}"


PERSON_SCOPES = frozenset({"registry:read", "family:read"})
PERSON_TYPES = {"Worker", "FamilyMember"}
PERSON_ID_FIELDS = {"personId", "workerId", "workerIds", "familyMemberId", "familyMemberIds"}


def _holds_person_scope(requirements: tuple[Groups, ...]) -> bool:
    """True when every way to meet the requirements includes a person-level scope."""
    return any(groups and all(g & PERSON_SCOPES for g in groups) for groups in requirements)


@pytest.mark.parametrize("subgraph", sorted(SCHEMAS))
def test_who_a_person_is_needs_a_person_level_scope_on_every_path(subgraph: str) -> None:
    """A person (a `Worker`, a `FamilyMember`, or their id) is reachable only through a field that needs
    registry:read or family:read, whichever parent leads there: walked from every root query field and every entity
    type (`_entities` takes any id), so the rule cannot be declared on one field and bypassed through another."""
    document = parse((ROOT / "deploy" / "subgraphs" / f"{subgraph}.graphql").read_text())
    objects = [d for d in document.definitions if isinstance(d, ObjectTypeDefinitionNode | ObjectTypeExtensionNode)]
    fields: dict[str, list[FieldDefinitionNode]] = {}
    type_level: dict[str, tuple[Groups, ...]] = {}
    entities = set()
    for obj in objects:
        fields.setdefault(obj.name.value, []).extend(obj.fields or ())
        type_level[obj.name.value] = type_level.get(obj.name.value, ()) + _declared(obj.directives)
        if any(d.name.value == "key" for d in obj.directives or ()):
            entities.add(obj.name.value)
    starts = [(t, False, t) for t in entities] + [
        (_named(f.type), _holds_person_scope(_declared(f.directives)), f"Query.{f.name.value}")
        for f in fields.get("Query", []) if not f.name.value.startswith("_")
    ]  # fmt: skip
    exposed, seen = [], set()
    queue = list(starts)
    while queue:
        type_name, held, path = queue.pop()
        if (type_name, held) in seen or type_name not in fields:
            continue
        seen.add((type_name, held))
        for f in fields[type_name]:
            returned = _named(f.type)
            here = held or _holds_person_scope(_declared(f.directives) + type_level.get(returned, ()))
            if not here and (returned in PERSON_TYPES or f.name.value in PERSON_ID_FIELDS):
                exposed.append(f"{path}.{f.name.value}")
            queue.append((returned, here, f"{path}.{f.name.value}"))
    assert exposed == []


def _key_fields(obj: ObjectTypeDefinitionNode | ObjectTypeExtensionNode) -> set[str]:
    keys = [d for d in obj.directives or () if d.name.value == "key"]
    texts = [a.value.value for d in keys for a in d.arguments or () if isinstance(a.value, StringValueNode)]
    return {name for text in texts for name in text.split()}


def person_entities() -> list[tuple[str, str]]:
    """(subgraph, type) of each person entity a subgraph answers more than its key about by reference: a type in
    PERSON_TYPES with `@key` and a field besides the key that declares no scope of its own. (One whose other fields
    each declare their scope, such as pillars' `Worker { id enrolments }`, echoes the caller's id and nothing else;
    its fields are checked above.)"""
    found = []
    for subgraph in SCHEMAS:
        document = parse((ROOT / "deploy" / "subgraphs" / f"{subgraph}.graphql").read_text())
        for obj in document.definitions:
            if not isinstance(obj, ObjectTypeDefinitionNode | ObjectTypeExtensionNode):
                continue
            keys = _key_fields(obj)
            if obj.name.value not in PERSON_TYPES or not keys:
                continue
            open_fields = [f for f in obj.fields or () if f.name.value not in keys and not _declared(f.directives)]
            if open_fields:
                found.append((subgraph, obj.name.value))
    return found


def _entity(subgraph: str, typename: str, principal: Principal | None) -> BaseException | object:
    """`_entities` of one representation (an id nobody registered) as graphql-core would resolve it: the error it
    answers with, or what it found. A check that passes reaches the database, which this context lacks."""
    field = SCHEMAS[subgraph]._schema.type_map["Query"].fields["_entities"]  # type: ignore[attr-defined]
    assert field.resolve is not None
    representation = {"__typename": typename, "id": str(uuid.uuid4())}
    try:
        [result] = field.resolve(None, _Info(RequestContext(principal), "_entities"), representations=[representation])
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
    except BaseException as error:
        return error
    return result  # type: ignore[no-any-return]


async def _awaited(value: Any) -> Any:
    return await value


def test_the_registry_answers_about_its_people_by_reference() -> None:
    assert set(person_entities()) >= {("registry", "Worker"), ("registry", "FamilyMember")}


# What reaching each person through the registry's root fields needs: a worker through `worker(id)`, a family
# member through `worker(id) { family }`.
PATH_SCOPES = {"Worker": frozenset({"registry:read"}), "FamilyMember": frozenset({"registry:read", "family:read"})}


@pytest.mark.parametrize(("subgraph", "typename"), person_entities(), ids=lambda v: str(v))
def test_a_person_entity_refuses_a_caller_without_a_person_level_scope(subgraph: str, typename: str) -> None:
    """`_entities` takes any id: a person reached by reference needs what the path through the root fields needs,
    each scope of it, before anything is read."""
    assert isinstance(_entity(subgraph, typename, None), Unauthenticated)
    for lacking in [PERSON_SCOPES, *({scope} for scope in PATH_SCOPES[typename])]:
        answer = _entity(subgraph, typename, _caller(ALL_SCOPES - lacking))
        assert isinstance(answer, Forbidden), f"{subgraph}:{typename} answered a caller without {lacking}: {answer!r}"
