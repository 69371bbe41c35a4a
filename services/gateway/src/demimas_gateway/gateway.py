"""The gateway's request pipeline, independent of HTTP: parse and validate (cached per document), pick the operation,
coerce variables, remove what the caller may not see, plan (cached per document, plan-changing variables, scope
set and override labels), execute, shape. Every failure before execution is a request error with a stable code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    execute_sync,
)
from graphql.execution.values import get_variable_values
from opentelemetry import propagate, trace

from demimas_gateway.authorization import AuthRules
from demimas_gateway.caller import Caller
from demimas_gateway.cost import CostModel, estimate
from demimas_gateway.documents import Documents, Lru, Prepared
from demimas_gateway.errors import RequestError, locations
from demimas_gateway.executor import Executor
from demimas_gateway.fetcher import SubgraphClient
from demimas_gateway.limits import LIMIT_CODES, RequestLimits
from demimas_gateway.operation import normalize
from demimas_gateway.plan import Plan, PlanningError
from demimas_gateway.planner import Planner
from demimas_gateway.policies import PolicyHook, region_policies
from demimas_gateway.shaping import Shaper, abstract_types
from demimas_gateway.supergraph import Supergraph

__all__ = ["Caller", "Gateway", "RequestError", "Response"]

tracer = trace.get_tracer("demimas.gateway")


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
class _CachedPlan:
    plan: Plan
    shaper: Shaper
    unauthorized: bool
    """Some selection was removed for the caller (the reject setting refuses the operation then)."""


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
        self._documents = Documents(self.schema, limits, suggestions=suggestions, size=document_cache_size)
        self._plans = Lru(plan_cache_size)
        self._rules = AuthRules(supergraph)
        self._abstract = abstract_types(self.schema)
        self.max_cost = max_cost
        self.cost_mode = cost_mode
        self.cost_model = CostModel.from_sdl(supergraph.sdl, default_list_size) if max_cost is not None else None
        self.policy_hook = policy_hook
        self.reject_unauthorized = reject_unauthorized

    @property
    def limits(self) -> RequestLimits | None:
        return self._documents.limits

    @property
    def suggestions(self) -> bool:
        return self._documents.suggestions

    def _check_cost(
        self, prepared: Prepared, name: str | None, operation: OperationDefinitionNode, coerced: dict[str, Any]
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

    # ---- execution --------------------------------------------------------------------------------------------

    def _operation(self, prepared: Prepared, operation_name: str | None) -> tuple[str | None, OperationDefinitionNode]:
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

    def operation_type(self, query: str, operation_name: str | None = None) -> str:
        """`query`, `mutation` or `subscription`: which operation of the document runs (raises `RequestError` for a
        document that does not parse or validate, as `plan_for` would; the document is cached for it)."""
        _, operation = self._operation(self._documents.prepare(query), operation_name)
        return operation.operation.value

    def plan_for(
        self,
        query: str,
        operation_name: str | None = None,
        variables: Mapping[str, Any] | None = None,
        caller: Caller | None = None,
        labels: frozenset[str] | None = None,
    ) -> tuple[_CachedPlan, dict[str, Any], OperationDefinitionNode, Prepared]:
        caller = caller or Caller()
        prepared = self._documents.prepare(query)
        name, operation = self._operation(prepared, operation_name)
        values = get_variable_values(self.schema, operation.variable_definitions or (), dict(variables or {}))
        if isinstance(values, list):
            raise RequestError(values[0].message, "BAD_USER_INPUT", locations=locations(values[0]))
        coerced: dict[str, Any] = values.coerced
        self._check_cost(prepared, name, operation, coerced)
        if labels is None:
            labels = self.planner.active_labels()
        plan_vars = tuple(coerced.get(v) for v in prepared.plan_variables[name])
        rules = self._rules
        satisfied = self.policy_hook(caller, rules.policies) & rules.policies if rules.policies else frozenset()
        auth_key = (
            (caller.authenticated, caller.scopes & rules.scopes, satisfied, caller.purpose is None)
            if rules.any
            else None
        )
        key = (query, name, plan_vars, auth_key, labels)
        cached: _CachedPlan | None = self._plans.get_item(key)
        if cached is None:
            with tracer.start_as_current_span("plan"):
                allowed = rules.allowed(caller, satisfied) if rules.any else None
                purpose_missing = rules.purpose_missing if rules.any and caller.purpose is None else None
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
        if operation.operation == OperationType.SUBSCRIPTION:
            raise RequestError(
                "a subscription needs a stream: use a WebSocket (graphql-transport-ws) or Server-Sent Events"
                " (Accept: text/event-stream) at /graphql",
                "SUBSCRIPTION_NOT_SUPPORTED",
            )
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
