"""The access rules every subgraph enforces in its own code, from the declarations that also print its SDL.

The gateway checks `@authenticated` and `@requiresScopes` before it plans, but that is the first of two checks: a
token sent straight to a subgraph (or a gateway bug) must meet the same rules here. So `install_access_rules`
walks the graphql-core schema strawberry built from the very `strawberry.federation.field(requires_scopes=...)`
and `strawberry.federation.type(requires_scopes=...)` declarations that produce the SDL, and wraps resolvers:

- **Scopes.** A field answers only when the caller meets its own declaration and the type-level declaration of the
  type it returns (a type-level `@requiresScopes` guards every way of reaching that type). A root field that
  declares nothing still needs a caller: reference data is for authenticated callers, never anonymous ones.
  `_entities` needs a caller and applies the type-level declaration of each representation's type; the fields
  then selected on an entity carry their own checks. A refused field is null with a `FORBIDDEN` (or
  `UNAUTHENTICATED`) error at its path, as the gateway would answer.
  A subscription field is checked when it starts (before its stream opens) and again for every event.
- **Regions.** A type is *region-bound* when its class defines `region_code(self, info)`: the Kemendagri code of
  the village (or region) it belongs to, an awaitable of it, or None when unknown. For a caller whose token carries
  a region, an object outside it is invisible however it is reached: a field returning one answers null, a list
  drops it (edges whose `node` is region-bound count as their node), `_entities` answers null. Unknown (None) is
  outside (fail closed); `ANYWHERE` is for an object that holds nothing of any region (a reference to a person a
  subgraph has no data about). A class may set `region_visibility = "overlapping"` (a `Region` the caller's region
  lies in, such as its province, is visible; its aggregates still check the region themselves). In a non-nullable
  position an invisible object is a NOT_FOUND error rather than null.

Only fields with something to check are wrapped, scope checks are a set lookup, and the region filter returns at
once for callers without a region (national agencies), so the common case costs a function call per guarded field.
`@policy` is the gateway's hook alone: a subgraph that declares one fails to build rather than skip the check.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from graphql import (
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    default_field_resolver,
)
from strawberry.federation.schema_directives import Authenticated, Policy, RequiresScopes

from demimas_common.auth.principal import Principal, region_covers
from demimas_common.errors import Forbidden, NotFound, Unauthenticated

__all__ = ["ANYWHERE", "AccessRules", "RegionBound", "Requirement", "install_access_rules"]

Resolver = Callable[..., Any]
Visibility = Literal["inside", "overlapping"]
ROOT_TYPES = ("Query", "Mutation", "Subscription")
ANYWHERE = "*"
OPEN_ROOT_FIELDS = frozenset({"_service", "__typename", "_entities"})  # `_entities` is checked per representation


class RegionBound(Protocol):
    """What a region-bound GraphQL type's class defines (see the module's docstring)."""

    def region_code(self, info: Any) -> str | Awaitable[str | None] | None: ...


@dataclass(frozen=True, slots=True)
class Requirement:
    """One declaration: `@authenticated`, or `@requiresScopes` (any group, all scopes of that group)."""

    scopes: tuple[frozenset[str], ...] = ()
    """Empty: a caller suffices (`@authenticated`, or a root field that declares nothing)."""

    def met_by(self, principal: Principal) -> bool:
        return not self.scopes or any(group <= principal.scopes for group in self.scopes)

    def describe(self) -> str:
        return " or ".join(" and ".join(sorted(g)) for g in self.scopes) or "a token"


def requirements_of(directives: Iterable[object], where: str) -> tuple[Requirement, ...]:
    """The requirements a field's or type's schema directives declare."""
    found: list[Requirement] = []
    for directive in directives:
        if isinstance(directive, Authenticated):
            found.append(Requirement())
        elif isinstance(directive, RequiresScopes):
            found.append(Requirement(tuple(frozenset(group) for group in directive.scopes)))
        elif isinstance(directive, Policy):
            raise TypeError(f"{where}: @policy is evaluated by the gateway only; check the rule in code instead")
    return tuple(found)


def check(requirements: tuple[Requirement, ...], context: Any, where: str) -> Principal:
    """The caller, when it meets every requirement; else the error a caller can act on."""
    require = getattr(context, "require_principal", None)
    if require is None:  # a context without a caller (a schema executed outside a request): nobody to allow
        raise Unauthenticated("this API needs a token: send `Authorization: Bearer <token>`", reason="missing")
    principal: Principal = require()
    for requirement in requirements:
        if not requirement.met_by(principal):
            raise Forbidden(
                f"{principal.agency.value} token lacks the scope {requirement.describe()} needed for {where}",
                required_scopes=[sorted(g) for g in requirement.scopes],
            )
    return principal


RegionOf = Callable[[Any, Any], "str | Awaitable[str | None] | None"]


@dataclass(frozen=True, slots=True)
class RegionRule:
    region_of: RegionOf
    visibility: Visibility

    def visible(self, code: str | None, region: str) -> bool:
        if code is None:
            return False
        if code == ANYWHERE:
            return True
        if self.visibility == "overlapping":
            return region_covers(region, code) or region_covers(code, region)
        return region_covers(region, code)


@dataclass
class AccessRules:
    """What `install_access_rules` found: per type, its type-level requirements and its region rule."""

    type_requirements: dict[str, tuple[Requirement, ...]]
    region_rules: dict[str, RegionRule]
    guarded_fields: dict[str, tuple[Requirement, ...]]
    """`Type.field` -> what it needs (own and returned type's), for tests and docs."""

    def entity_resolver(self, resolve_one: Callable[[Any, dict[str, Any]], Any]) -> Callable[..., list[Any]]:
        """`_entities` with the rules applied per representation: the type's requirements, then its region."""

        def resolver(info: Any, representations: list[Any]) -> list[Any]:
            principal = check((), info.context, "_entities")
            results: list[Any] = []
            for representation in representations:
                typename = representation.get("__typename") if isinstance(representation, dict) else None
                try:
                    check(self.type_requirements.get(str(typename), ()), info.context, str(typename))
                except Exception as error:  # the representation's answer is the error
                    results.append(error)
                    continue
                result = resolve_one(info, representation)
                rule = self.region_rules.get(str(typename))
                if rule is not None and principal.region is not None and not isinstance(result, Exception):
                    result = _visible(result, principal.region, rule, info)
                results.append(result)
            return results

        return resolver


def install_access_rules(schema: GraphQLSchema) -> AccessRules:
    """Wrap the resolvers of `schema` (a strawberry-built graphql-core schema) with its declared rules."""
    type_requirements: dict[str, tuple[Requirement, ...]] = {}
    region_rules: dict[str, RegionRule] = {}
    objects = [t for n, t in schema.type_map.items() if isinstance(t, GraphQLObjectType) and not n.startswith("__")]
    for gtype in objects:
        definition = gtype.extensions.get("strawberry-definition")
        if definition is None:
            continue
        type_requirements[gtype.name] = requirements_of(definition.directives or (), gtype.name)
        origin = definition.origin
        if callable(getattr(origin, "region_code", None)):
            visibility: Visibility = getattr(origin, "region_visibility", "inside")
            region_rules[gtype.name] = RegionRule(_own_region_code, visibility)
    for gtype in objects:  # edges count as their node
        node = gtype.fields.get("node")
        node_rule = region_rules.get(_named(node.type).name) if node is not None else None
        if node_rule is not None and gtype.name not in region_rules:
            region_rules[gtype.name] = RegionRule(_of_node(node_rule.region_of), node_rule.visibility)

    guarded: dict[str, tuple[Requirement, ...]] = {}
    for gtype in objects:
        for name, field in gtype.fields.items():
            where = f"{gtype.name}.{name}"
            definition = field.extensions.get("strawberry-definition")
            own = requirements_of(getattr(definition, "directives", None) or (), where)
            returned = _named(field.type).name
            needs = own + type_requirements.get(returned, ())
            if not needs and gtype.name in ROOT_TYPES and name not in OPEN_ROOT_FIELDS:
                needs = (Requirement(),)
            rule = region_rules.get(returned)
            if needs:
                guarded[where] = needs
                field.resolve = _guarded(field.resolve or default_field_resolver, needs, where)
                if field.subscribe is not None:  # a subscription is refused before its stream opens, not per event
                    field.subscribe = _guarded(field.subscribe, needs, where)
            if rule is not None:
                non_null = isinstance(field.type, GraphQLNonNull)
                field.resolve = _region_filtered(field.resolve or default_field_resolver, rule, non_null=non_null)
    return AccessRules(type_requirements, region_rules, guarded)


def _of_node(region_of: RegionOf) -> RegionOf:
    """An edge's region: its node's."""
    return lambda edge, info: region_of(edge.node, info)


def _own_region_code(obj: Any, info: Any) -> str | Awaitable[str | None] | None:
    return obj.region_code(info)  # type: ignore[no-any-return]


def _named(gtype: GraphQLOutputType) -> GraphQLNamedType:
    while isinstance(gtype, GraphQLNonNull | GraphQLList):
        gtype = gtype.of_type
    return gtype


def _guarded(resolve: Resolver, needs: tuple[Requirement, ...], where: str) -> Resolver:
    def resolver(source: Any, info: Any, **args: Any) -> Any:
        check(needs, info.context, where)
        return resolve(source, info, **args)

    return resolver


def _region_filtered(resolve: Resolver, rule: RegionRule, *, non_null: bool) -> Resolver:
    """In a non-nullable position an invisible object cannot be null: it is a NOT_FOUND error there instead
    (graphql-core then nulls the nearest nullable parent), never an internal error."""

    def resolver(source: Any, info: Any, **args: Any) -> Any:
        result = resolve(source, info, **args)
        principal: Principal | None = getattr(info.context, "principal", None)
        if principal is None or principal.region is None:
            return result
        shown = _visible(result, principal.region, rule, info)
        if not non_null:
            return shown
        if inspect.isawaitable(shown):
            return _required(shown)
        if shown is None:
            raise _not_visible()
        return shown

    return resolver


def _not_visible() -> NotFound:
    return NotFound("not found")  # says nothing of where, or whether, the object exists


async def _required(shown: Awaitable[Any]) -> Any:
    found = await shown
    if found is None:
        raise _not_visible()
    return found


def _visible(value: Any, region: str, rule: RegionRule, info: Any) -> Any:
    """`value` with what lies outside `region` removed (null for one object, dropped from a list); awaitables, of
    the value or of an object's region code, are awaited in a coroutine only when there is one."""
    if inspect.isawaitable(value):
        return _visible_later(value, region, rule, info)
    if value is None or isinstance(value, Exception):
        return value
    if isinstance(value, list | tuple):
        if any(inspect.isawaitable(item) for item in value):
            return _visible_list_later(list(value), None, region, rule, info)
        codes = [rule.region_of(item, info) if item is not None else ANYWHERE for item in value]
        if any(inspect.isawaitable(c) for c in codes):
            return _visible_list_later(list(value), codes, region, rule, info)
        return [item for item, code in zip(value, codes, strict=True) if rule.visible(cast("str | None", code), region)]
    code = rule.region_of(value, info)
    if inspect.isawaitable(code):
        return _one_later(value, code, region, rule)
    return value if rule.visible(code, region) else None


async def _visible_later(value: Awaitable[Any], region: str, rule: RegionRule, info: Any) -> Any:
    found = _visible(await value, region, rule, info)
    return await found if inspect.isawaitable(found) else found


async def _one_later(value: Any, code: Awaitable[str | None], region: str, rule: RegionRule) -> Any:
    return value if rule.visible(await code, region) else None


async def _visible_list_later(
    items: list[Any], codes: list[Any] | None, region: str, rule: RegionRule, info: Any
) -> list[Any]:
    """The list once its items and their region codes are known (`codes`: already asked for, one per item)."""
    kept: list[Any] = []
    for index, item in enumerate(items):
        if inspect.isawaitable(item):
            item = await item
        if item is None:
            kept.append(item)
            continue
        code = codes[index] if codes is not None else rule.region_of(item, info)
        if inspect.isawaitable(code):
            code = await code
        if rule.visible(code, region):
            kept.append(item)
    return kept
