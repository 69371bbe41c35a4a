"""The supergraph's authorization rules (`@authenticated`, `@requiresScopes`, `@policy`) with Apollo Router's
semantics, and the personal-data rule: a field guarded by a personal-data scope needs a purpose (UU 27/2022)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLAbstractType, GraphQLInterfaceType, GraphQLSchema

from demimas_gateway.caller import Caller
from demimas_gateway.operation import AuthCheck
from demimas_gateway.supergraph import Supergraph

__all__ = ["PURPOSE_SCOPES", "AuthRules"]

PURPOSE_SCOPES = frozenset({"pii:read", "family:read"})
"""Fields guarded by these scopes hold personal data: an operation that selects one needs a purpose (UU 27/2022)."""


class AuthRules:
    def __init__(self, supergraph: Supergraph) -> None:
        self.supergraph = supergraph
        self.schema: GraphQLSchema = supergraph.api_schema
        self.scopes = self._scopes_in_rules()
        """Every scope a rule names: the rest of a caller's scopes do not change what it may see."""
        self.policies = self._policies_in_rules()
        """Every policy a rule names: those the `@policy` hook is asked about."""
        self.any = any(
            t.authenticated or t.auth_scopes is not None or t.policies is not None or t.field_auth
            for t in supergraph.types.values()
        )
        """Whether the supergraph has any rule at all."""

    def _policies_in_rules(self) -> frozenset[str]:
        out: set[str] = set()
        for t in self.supergraph.types.values():
            for group in t.policies or ():
                out |= group
            for _, _, policies in t.field_auth.values():
                for group in policies or ():
                    out |= group
        return frozenset(out)

    def _scopes_in_rules(self) -> frozenset[str]:
        out: set[str] = set()
        for t in self.supergraph.types.values():
            for group in t.auth_scopes or ():
                out |= group
            for _, scopes, _ in t.field_auth.values():
                for group in scopes or ():
                    out |= group
        return frozenset(out)

    def allowed(self, caller: Caller, satisfied: frozenset[str]) -> AuthCheck:
        """Different directives on one element combine with AND; each directive's groups with OR (a group with
        AND). An abstract type or a field of one is allowed only when it is for every possible type, so that no
        implementation's guarded field leaks through an interface."""
        types = self.supergraph.types
        schema = self.schema

        def check(rule_auth: bool, scopes: tuple[frozenset[str], ...] | None, policies: Any) -> bool:
            if (rule_auth or scopes is not None or policies is not None) and not caller.authenticated:
                return False
            if scopes is not None and not any(group <= caller.scopes for group in scopes):
                return False
            return policies is None or any(group <= satisfied for group in policies)

        def one(type_name: str, field_name: str | None) -> bool:
            meta = types.get(type_name)
            if meta is None:
                return True
            if field_name is None:
                return check(meta.authenticated, meta.auth_scopes, meta.policies)
            rule = meta.field_auth.get(field_name)
            return rule is None or check(*rule)

        def allowed(type_name: str, field_name: str | None) -> bool:
            if not one(type_name, field_name):
                return False
            gtype = schema.type_map.get(type_name)
            if isinstance(gtype, GraphQLAbstractType | GraphQLInterfaceType):
                return all(one(t.name, field_name) for t in schema.get_possible_types(gtype))
            return True

        return allowed

    def purpose_missing(self, type_name: str, field_name: str | None) -> bool:
        """Whether a field is guarded by a personal-data scope (called only for callers without a purpose)."""
        meta = self.supergraph.types.get(type_name)
        rule = meta.field_auth.get(field_name) if meta is not None and field_name else None
        return rule is not None and rule[1] is not None and any(group & PURPOSE_SCOPES for group in rule[1])
