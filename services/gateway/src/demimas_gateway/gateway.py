"""The gateway's request pipeline, independent of HTTP: parse and validate (cached per document), pick the operation,
coerce variables, remove what the caller may not see, plan (cached per document, plan-changing variables, scope
set and override labels), execute, shape. Every failure before execution is a request error with a stable code."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLAbstractType,
    GraphQLError,
    GraphQLInterfaceType,
    OperationDefinitionNode,
    OperationType,
    execute_sync,
    parse,
    print_ast,
    validate,
)
from graphql.execution.values import get_variable_values
from opentelemetry import propagate, trace

from demimas_common.auth.principal import Purpose
from demimas_gateway.cost import CostModel, estimate
from demimas_gateway.executor import Executor
from demimas_gateway.fetcher import SubgraphClient
from demimas_gateway.limits import LIMIT_CODES, RequestLimits, first_violation, measure
from demimas_gateway.operation import AuthCheck, normalize
from demimas_gateway.plan import Plan, PlanningError
from demimas_gateway.planner import Planner
from demimas_gateway.policies import PolicyHook, region_policies
from demimas_gateway.shaping import Shaper, abstract_types
from demimas_gateway.supergraph import Supergraph

__all__ = ["Caller", "Gateway", "RequestError", "Response"]

tracer = trace.get_tracer("demimas.gateway")


class RequestError(Exception):
    """The request cannot be executed at all (GraphQL over HTTP: no `data` in the response)."""

    def __init__(
        self,
        message: str,
        code: str,
        *,
        locations: list[dict[str, int]] | None = None,
        status: int = 400,
        always_status: bool = False,
    ):
        """`always_status`: answer with `status` whatever the accepted media type (limits, rejections), where
        other request errors are 200 under the legacy `application/json`."""
        super().__init__(message)
        self.message = message
        self.code = code
        self.locations = locations
        self.status = status
        self.always_status = always_status

    def as_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "extensions": {"code": self.code}}
        if self.locations:
            error["locations"] = self.locations
        return error


@dataclass(frozen=True)
class Caller:
    """What the gateway knows of the caller: whether authenticated, its scopes, and the claims policies and the
    purpose rule read (agency, region, purpose: from the token, the purpose also from `X-Demimas-Purpose`)."""

    authenticated: bool = False
    scopes: frozenset[str] = frozenset()
    agency: str | None = None
    region: str | None = None
    purpose: str | None = None


PURPOSE_SCOPES = frozenset({"pii:read", "family:read"})
"""Fields guarded by these scopes hold personal data: an operation that selects one needs a purpose (UU 27/2022)."""
PURPOSES = frozenset(p.value for p in Purpose)


@dataclass
class Response:
    data: dict[str, Any] | None
    errors: list[dict[str, Any]]
    operation: str = "query"

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.errors:
            out["errors"] = self.errors
        out["data"] = self.data
        return out


@dataclass
class _Prepared:
    document: DocumentNode | None
    """None for a document refused before validation (`refusal` says why; kept so that a repeat costs nothing)."""
    operations: dict[str | None, OperationDefinitionNode]
    fragments: dict[str, FragmentDefinitionNode]
    plan_variables: dict[str | None, tuple[str, ...]] = field(default_factory=dict)
    var_types: dict[str | None, dict[str, str]] = field(default_factory=dict)
    refusal: RequestError | None = None
    costs: dict[Any, float] = field(default_factory=dict)


@dataclass
class _CachedPlan:
    plan: Plan
    shaper: Shaper
    unauthorized: bool
    """Some selection was removed for the caller (the reject setting refuses the operation then)."""


class _Lru(OrderedDict[Any, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_item(self, key: Any) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)


class Gateway:
    def __init__(
        self,
        supergraph: Supergraph,
        client: SubgraphClient,
        *,
        plan_cache_size: int = 2000,
        document_cache_size: int = 2000,
        introspection: bool = True,
        trace_fetches: bool = False,
        limits: RequestLimits | None = None,
        max_cost: float | None = None,
        cost_mode: str = "enforce",
        default_list_size: int = 10,
        policy_hook: PolicyHook = region_policies,
        reject_unauthorized: bool = False,
        suggestions: bool = True,
    ) -> None:
        """`limits` None: no request limits (tests of planning); `cost_mode` "enforce" refuses operations costing
        more than `max_cost`, "measure" only records the estimate on the request span; `reject_unauthorized`
        refuses a whole operation that selects anything the caller may not see instead of nulling it;
        `suggestions` False removes "Did you mean" hints (schema names) from validation errors."""
        self.supergraph = supergraph
        self.schema = supergraph.api_schema
        self.client = client
        self.executor = Executor(client, trace_fetches=trace_fetches)
        self.planner = Planner(supergraph)
        self.introspection = introspection
        self._documents = _Lru(document_cache_size)
        self._plans = _Lru(plan_cache_size)
        self._auth_scopes = self._scopes_in_rules()
        self._has_auth = any(
            t.authenticated or t.auth_scopes is not None or t.policies is not None or t.field_auth
            for t in supergraph.types.values()
        )
        self._abstract = abstract_types(self.schema)
        self.limits = limits
        self.max_cost = max_cost
        self.cost_mode = cost_mode
        self.cost_model = CostModel.from_sdl(supergraph.sdl, default_list_size) if max_cost is not None else None
        self.policy_hook = policy_hook
        self._policies = self._policies_in_rules()
        self.reject_unauthorized = reject_unauthorized
        self.suggestions = suggestions

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

    # ---- document ---------------------------------------------------------------------------------------------

    def _prepare(self, query: str) -> _Prepared:
        prepared: _Prepared | None = self._documents.get_item(query)
        if prepared is not None:
            if prepared.refusal is not None:
                raise prepared.refusal
            return prepared
        try:
            prepared = self._parse(query)
        except RequestError as exc:
            if exc.code != "GRAPHQL_PARSE_FAILED":  # limits and validation: the same answer next time, for free
                self._documents.put(query, _Prepared(None, {}, {}, refusal=exc))
            raise
        return prepared

    def _parse(self, query: str) -> _Prepared:
        limits = self.limits
        if limits is not None and limits.max_query_bytes is not None and len(query) > limits.max_query_bytes:
            raise RequestError(
                f"the query is {len(query)} characters long, more than the allowed {limits.max_query_bytes}",
                LIMIT_CODES["query_bytes"],
                always_status=True,
            )
        try:
            document = parse(query, max_tokens=limits.max_tokens if limits is not None else None)
        except GraphQLError as exc:
            if "Document contains more than" in exc.message:
                raise RequestError(exc.message, LIMIT_CODES["tokens"], always_status=True) from exc
            if "nested too deeply" in exc.message:  # graphql-core's own guard against recursion
                raise RequestError(
                    "the operation is nested too deeply", LIMIT_CODES["depth"], always_status=True
                ) from exc
            raise RequestError(exc.message, "GRAPHQL_PARSE_FAILED", locations=_locations(exc)) from exc
        except RecursionError as exc:
            raise RequestError("the operation is nested too deeply", LIMIT_CODES["depth"], always_status=True) from exc
        operations: dict[str | None, OperationDefinitionNode] = {}
        fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                operations[definition.name.value if definition.name else None] = definition
            elif isinstance(definition, FragmentDefinitionNode):
                fragments[definition.name.value] = definition
        if limits is not None:  # before validation, which abusive documents make slow
            for operation in operations.values():
                try:
                    violation = first_violation(measure(operation, fragments), limits)
                except RecursionError as exc:
                    raise RequestError(
                        "the operation is nested too deeply", LIMIT_CODES["depth"], always_status=True
                    ) from exc
                if violation is not None:
                    raise RequestError(violation.message, violation.code, always_status=True)
        errors = validate(self.schema, document)
        if errors:
            first = errors[0]
            message = first.message if self.suggestions else _without_suggestions(first.message)
            raise RequestError(message, "GRAPHQL_VALIDATION_FAILED", locations=_locations(first))
        prepared = _Prepared(document, operations, fragments)
        for name, operation in operations.items():
            prepared.plan_variables[name] = tuple(sorted(_conditional_variables(operation, fragments)))
            prepared.var_types[name] = {  # type and default, as the subgraph operations declare them
                d.variable.name.value: print_ast(d.type) + (f"={print_ast(d.default_value)}" if d.default_value else "")
                for d in operation.variable_definitions or ()
            }
        self._documents.put(query, prepared)
        return prepared

    def _check_cost(
        self, prepared: _Prepared, name: str | None, operation: OperationDefinitionNode, coerced: dict[str, Any]
    ) -> None:
        model = self.cost_model
        if model is None or self.max_cost is None:
            return
        key = (name, tuple((k, v) for k, v in coerced.items() if type(v) is int)) if coerced else name
        cost = prepared.costs.get(key)
        if cost is None:
            assert prepared.document is not None
            if len(prepared.costs) >= 64:  # keyed by every int variable's value: keep it bounded
                prepared.costs.clear()
            cost = prepared.costs[key] = estimate(self.schema, model, operation, prepared.fragments, coerced)
        trace.get_current_span().set_attribute("graphql.cost.estimated", cost)
        if self.cost_mode == "enforce" and cost > self.max_cost:
            raise RequestError(
                f"the operation's estimated cost is {cost:g}, more than the allowed {self.max_cost:g}",
                LIMIT_CODES["cost"],
                always_status=True,
            )

    # ---- auth -------------------------------------------------------------------------------------------------

    def _allowed(self, caller: Caller, satisfied: frozenset[str]) -> AuthCheck:
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

    def _purpose_missing(self, type_name: str, field_name: str | None) -> bool:
        """Whether a field is guarded by a personal-data scope (called only for callers without a purpose)."""
        meta = self.supergraph.types.get(type_name)
        rule = meta.field_auth.get(field_name) if meta is not None and field_name else None
        return rule is not None and rule[1] is not None and any(group & PURPOSE_SCOPES for group in rule[1])

    # ---- execution --------------------------------------------------------------------------------------------

    def _operation(self, prepared: _Prepared, operation_name: str | None) -> tuple[str | None, OperationDefinitionNode]:
        if operation_name is None:
            if len(prepared.operations) != 1:
                raise RequestError(
                    "the document holds several operations: say which one to run with `operationName`", "BAD_REQUEST"
                )
            return next(iter(prepared.operations.items()))
        operation = prepared.operations.get(operation_name)
        if operation is None:
            raise RequestError(f"the document has no operation named {operation_name!r}", "BAD_REQUEST")
        return operation_name, operation

    def plan_for(
        self,
        query: str,
        operation_name: str | None = None,
        variables: Mapping[str, Any] | None = None,
        caller: Caller | None = None,
        labels: frozenset[str] | None = None,
    ) -> tuple[_CachedPlan, dict[str, Any], OperationDefinitionNode, _Prepared]:
        caller = caller or Caller()
        prepared = self._prepare(query)
        name, operation = self._operation(prepared, operation_name)
        if operation.operation == OperationType.SUBSCRIPTION:
            raise RequestError("subscriptions are not supported by this gateway yet", "SUBSCRIPTION_NOT_SUPPORTED")
        values = get_variable_values(self.schema, operation.variable_definitions or (), dict(variables or {}))
        if isinstance(values, list):
            raise RequestError(values[0].message, "BAD_USER_INPUT", locations=_locations(values[0]))
        coerced: dict[str, Any] = values.coerced
        self._check_cost(prepared, name, operation, coerced)
        if labels is None:
            labels = self.planner.active_labels()
        plan_vars = tuple(coerced.get(v) for v in prepared.plan_variables[name])
        satisfied = self.policy_hook(caller, self._policies) & self._policies if self._policies else frozenset()
        auth_key = (
            (caller.authenticated, caller.scopes & self._auth_scopes, satisfied, caller.purpose is None)
            if self._has_auth
            else None
        )
        key = (query, name, plan_vars, auth_key, labels)
        cached: _CachedPlan | None = self._plans.get_item(key)
        if cached is None:
            with tracer.start_as_current_span("plan"):
                allowed = self._allowed(caller, satisfied) if self._has_auth else None
                purpose_missing = self._purpose_missing if self._has_auth and caller.purpose is None else None
                normalized = normalize(self.schema, operation, prepared.fragments, coerced, allowed, purpose_missing)
                try:
                    plan = self.planner.plan(normalized, prepared.var_types[name], name, labels)
                except PlanningError as exc:
                    raise RequestError(str(exc), "QUERY_PLANNING_FAILED", status=500) from exc
                except RecursionError as exc:  # absurdly deep operations; request limits come with the security issue
                    raise RequestError("the operation is nested too deeply to plan", "QUERY_TOO_DEEP") from exc
            cached = _CachedPlan(
                plan,
                Shaper(self.schema, self._abstract),
                bool(normalized.unauthorized_paths),
            )
            self._plans.put(key, cached)
        if cached.unauthorized and self.reject_unauthorized:
            raise RequestError(
                "the operation selects fields or types this caller may not see",
                "UNAUTHORIZED_FIELD_OR_TYPE",
                status=403,
                always_status=True,
            )
        return cached, coerced, operation, prepared

    async def execute(
        self,
        query: str,
        operation_name: str | None = None,
        variables: Mapping[str, Any] | None = None,
        *,
        caller: Caller | None = None,
        headers: Mapping[str, str] | None = None,
        allowed_operations: frozenset[str] = frozenset({"query", "mutation"}),
    ) -> Response:
        cached, coerced, operation, prepared = self.plan_for(query, operation_name, variables, caller)
        plan = cached.plan
        if plan.operation.operation not in allowed_operations:
            raise RequestError(
                f"{plan.operation.operation}s are not allowed over this method: use POST",
                "METHOD_NOT_ALLOWED",
                status=405,
            )
        if plan.introspection and not self.introspection:  # before any subgraph is called
            raise RequestError("introspection is disabled on this gateway", "INTROSPECTION_DISABLED")
        errors: list[dict[str, Any]] = []
        forwarded = dict(headers or {})
        propagate.inject(forwarded)  # traceparent of the current (request) span
        data, fetch_errors = await self.executor.run(plan, coerced, forwarded)
        errors.extend(fetch_errors)
        if plan.introspection:
            assert prepared.document is not None
            result = execute_sync(
                self.schema, _introspection_only(prepared.document, operation), variable_values=coerced
            )
            for key, value in (result.data or {}).items():
                if value is not None:
                    data[key] = value
            errors.extend(e.formatted for e in result.errors or ())  # type: ignore[misc]
        shaped = cached.shaper.shape(plan.operation.items, plan.operation.root_type, data, errors)
        return Response(shaped, errors, plan.operation.operation)


def _introspection_only(document: DocumentNode, operation: OperationDefinitionNode) -> DocumentNode:
    """The operation with only its introspection root fields, for graphql-core to answer from the API schema."""
    from graphql import FieldNode, SelectionSetNode

    kept = tuple(
        s
        for s in operation.selection_set.selections
        if isinstance(s, FieldNode) and s.name.value in ("__schema", "__type")
    )
    only = OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=operation.variable_definitions,
        directives=(),
        selection_set=SelectionSetNode(selections=kept),
    )
    fragments = tuple(d for d in document.definitions if isinstance(d, FragmentDefinitionNode))
    return DocumentNode(definitions=(only, *fragments))


def _without_suggestions(message: str) -> str:
    """graphql-core's hints name schema elements a caller did not ask for: none outside development."""
    head, _, _ = message.partition(" Did you mean")
    return head


def _locations(error: GraphQLError) -> list[dict[str, int]] | None:
    if not error.locations:
        return None
    return [{"line": loc.line, "column": loc.column} for loc in error.locations]


def _conditional_variables(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> set[str]:
    """Variables in `@skip`/`@include`: their values change the plan, so they belong to its cache key."""
    from graphql import VariableNode, visit
    from graphql.language import Visitor

    found: set[str] = set()

    class _V(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            if node.name.value in ("skip", "include"):
                for arg in node.arguments or ():
                    if isinstance(arg.value, VariableNode):
                        found.add(arg.value.name.value)

    visit(operation, _V())
    for fragment in fragments.values():
        visit(fragment, _V())
    return found
