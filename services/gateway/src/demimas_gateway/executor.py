"""Runs a plan: fetches concurrently as soon as what they wait for has landed, entity representations collected
from the merged response and deduplicated, results merged in place (no resolver per field), subgraph error paths
rewritten to the client's paths. Mutation stages run one after the other."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson
from opentelemetry import propagate, trace

from demimas_gateway.fetcher import SubgraphClient, SubgraphFailure
from demimas_gateway.plan import Fetch, Plan, RepField
from demimas_gateway.shaping import HIDDEN

__all__ = ["Executor"]

tracer = trace.get_tracer("demimas.gateway")
_MISSING = object()


def _flatten(value: list[Any], out: list[dict[str, Any]]) -> None:
    for item in value:
        if type(item) is dict:
            out.append(item)
        elif type(item) is list:
            _flatten(item, out)


def collect(data: dict[str, Any], path: tuple[str, ...]) -> list[dict[str, Any]]:
    current = [data]
    for key in path:
        nxt: list[dict[str, Any]] = []
        for obj in current:
            value = obj.get(key)
            if type(value) is dict:
                nxt.append(value)
            elif type(value) is list:
                _flatten(value, nxt)
        current = nxt
    return current


def collect_paths(data: dict[str, Any], path: tuple[str, ...]) -> list[list[str | int]]:
    """The response paths of `collect(data, path)`'s objects, in the same order."""
    current: list[tuple[dict[str, Any], list[str | int]]] = [(data, [])]
    for key in path:
        nxt: list[tuple[dict[str, Any], list[str | int]]] = []
        for obj, where in current:
            value = obj.get(key)
            if type(value) is dict:
                nxt.append((value, [*where, key]))
            elif type(value) is list:
                _flatten_paths(value, [*where, key], nxt)
        current = nxt
    return [where for _, where in current]


def _flatten_paths(value: list[Any], where: list[str | int], out: list[tuple[dict[str, Any], list[str | int]]]) -> None:
    for index, item in enumerate(value):
        if type(item) is dict:
            out.append((item, [*where, index]))
        elif type(item) is list:
            _flatten_paths(item, [*where, index], out)


def merge_into(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        current = target.get(key)
        if current is None:
            target[key] = value
        elif type(current) is dict and type(value) is dict:
            merge_into(current, value)
        elif type(current) is list and type(value) is list and len(current) == len(value):
            _merge_lists(current, value)
        else:
            target[key] = value


def _merge_lists(target: list[Any], source: list[Any]) -> None:
    for index, value in enumerate(source):
        current = target[index]
        if type(current) is dict and type(value) is dict:
            merge_into(current, value)
        elif type(current) is list and type(value) is list and len(current) == len(value):
            _merge_lists(current, value)
        else:
            target[index] = value


def _rep_value(value: Any, children: tuple[RepField, ...]) -> Any:
    if type(value) is list:
        return [_rep_value(v, children) for v in value]
    if type(value) is not dict:
        return value
    out: dict[str, Any] = {}
    if "__typename" in value:
        out["__typename"] = value["__typename"]
    for rep in children:
        inner = value.get(rep.data_key)
        out[rep.name] = _rep_value(inner, rep.children) if rep.children else inner
    return out


def representation(
    obj: dict[str, Any], fields: list[RepField], typename: str, keys: frozenset[str] = frozenset()
) -> dict[str, Any] | None:
    """The representation of `obj`, or None when it cannot be resolved (a field missing, or a key field null)."""
    rep: dict[str, Any] = {"__typename": typename}
    for field in fields:
        value = obj.get(field.data_key, _MISSING)
        if value is _MISSING or (value is None and field.name in keys):
            return None
        rep[field.name] = _rep_value(value, field.children) if field.children else value
    return rep


class Executor:
    def __init__(self, client: SubgraphClient, *, trace_fetches: bool = False) -> None:
        self.client = client
        self.trace_fetches = trace_fetches
        """A span per fetch when spans are exported; otherwise the request span alone (span objects cost about a
        tenth of the gateway's CPU on a many-fetch query, and nobody would see them)."""

    async def _traced_post(self, fetch: Fetch, body: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        attributes: dict[str, str | int] = {"graphql.subgraph": fetch.graph, "demimas.fetch.id": fetch.id}
        with tracer.start_as_current_span(f"fetch {fetch.graph}", attributes=attributes) as span:
            out_headers = dict(headers)
            propagate.inject(out_headers)
            try:
                return await self.client.post(fetch.graph, body, out_headers, idempotent=fetch.operation != "mutation")
            except SubgraphFailure as failure:
                span.set_status(trace.StatusCode.ERROR, failure.message)
                raise

    async def run(
        self,
        plan: Plan,
        variables: Mapping[str, Any],
        headers: Mapping[str, str],
        given: Mapping[int, dict[str, Any]] | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """`given`: answers already received for some fetches, by fetch id (a subscription's event is its root
        fetch's answer): used as that fetch's response instead of calling the subgraph."""
        data: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for stage in range(plan.stages):
            fetches = [f for f in plan.fetches if f.stage == stage]
            if len(fetches) == 1:
                await self._fetch(fetches[0], data, errors, variables, headers, given)
                continue
            done: dict[int, asyncio.Future[None]] = {}
            loop = asyncio.get_running_loop()
            for fetch in fetches:
                done[fetch.id] = loop.create_future()
            await asyncio.gather(*(self._after(f, done, data, errors, variables, headers, given) for f in fetches))
        return data, errors

    async def _after(
        self,
        fetch: Fetch,
        done: dict[int, asyncio.Future[None]],
        data: dict[str, Any],
        errors: list[dict[str, Any]],
        variables: Mapping[str, Any],
        headers: Mapping[str, str],
        given: Mapping[int, dict[str, Any]] | None = None,
    ) -> None:
        """Runs `fetch` once every fetch it waits for has finished (successfully or not)."""
        try:
            for dep in fetch.depends:
                waiter = done.get(dep.id)
                if waiter is not None:
                    await waiter
            await self._fetch(fetch, data, errors, variables, headers, given)
        finally:
            done[fetch.id].set_result(None)

    async def _fetch(
        self,
        fetch: Fetch,
        data: dict[str, Any],
        errors: list[dict[str, Any]],
        variables: Mapping[str, Any],
        headers: Mapping[str, str],
        given: Mapping[int, dict[str, Any]] | None = None,
    ) -> None:
        if given is not None and fetch.id in given:
            self._merge(fetch, given[fetch.id], data, errors, [], [], [])
            return
        fetch_vars = {name: variables[name] for name in fetch.variables if name in variables}
        targets: list[list[dict[str, Any]]] = []
        objects: list[dict[str, Any]] = []
        target_parts: list[Fetch] = []
        if fetch.parts:
            part_reps = self._part_representations(fetch, data, objects, targets, target_parts)
            if not part_reps:
                return
            fetch_vars["representations"] = part_reps
        elif fetch.is_entity:
            objects = [o for o in collect(data, fetch.path) if o.get("__typename") in fetch.typenames]
            reps: list[dict[str, Any]] = []
            index: dict[bytes, int] = {}
            for obj in objects:
                rep = representation(
                    obj, fetch.representation, fetch.rep_typename or obj["__typename"], fetch.key_names
                )
                if rep is None:
                    continue
                fingerprint = orjson.dumps(rep)
                at = index.get(fingerprint)
                if at is None:
                    index[fingerprint] = len(reps)
                    reps.append(rep)
                    targets.append([obj])
                else:
                    targets[at].append(obj)
            if not reps:
                return
            fetch_vars["representations"] = reps
        body: dict[str, Any] = {"query": fetch.query, "variables": fetch_vars}
        try:
            if self.trace_fetches:
                response = await self._traced_post(fetch, body, headers)
            else:  # the request's own span is the subgraphs' parent (its traceparent is in `headers` already)
                response = await self.client.post(fetch.graph, body, headers, idempotent=fetch.operation != "mutation")
        except SubgraphFailure as failure:
            error: dict[str, Any] = {
                "message": failure.message,
                "extensions": {"code": failure.code, "serviceName": failure.graph},
            }
            if fetch.path:
                error["path"] = list(fetch.path)
            errors.append(error)
            return
        self._merge(fetch, response, data, errors, objects, targets, target_parts)

    def _merge(
        self,
        fetch: Fetch,
        response: dict[str, Any],
        data: dict[str, Any],
        errors: list[dict[str, Any]],
        objects: list[dict[str, Any]],
        targets: list[list[dict[str, Any]]],
        target_parts: list[Fetch],
    ) -> None:
        """Merge one fetch's answer into `data` (errors into `errors`, at the client's paths)."""
        result = response.get("data")
        sub_errors = response.get("errors")
        if fetch.renames and type(result) is dict:
            if fetch.parts:
                entities = result.get("_entities")
                if type(entities) is list and len(entities) == len(target_parts):
                    for entity, part in zip(entities, target_parts, strict=True):
                        part.selection.restore(entity)
            else:
                fetch.selection.restore(result.get("_entities") if fetch.is_entity else result)
        if fetch.is_entity:
            entities = result.get("_entities") if type(result) is dict else None
            if type(entities) is list and len(entities) == len(targets):
                for entity, objs in zip(entities, targets, strict=True):
                    if type(entity) is dict:
                        for obj in objs:
                            merge_into(obj, entity)
                    elif entity is None:
                        for obj in objs:  # the subgraph has no such object for this caller (a region, a grant)
                            obj[HIDDEN] = True
            elif not sub_errors:
                sub_errors = [{"message": f"subgraph {fetch.graph!r} answered _entities of the wrong length"}]
        elif type(result) is dict:
            merge_into(data, result)
        if sub_errors:
            self._add_errors(fetch, sub_errors, data, objects, targets, errors)

    @staticmethod
    def _part_representations(
        fetch: Fetch,
        data: dict[str, Any],
        objects: list[dict[str, Any]],
        targets: list[list[dict[str, Any]]],
        target_parts: list[Fetch],
    ) -> list[dict[str, Any]]:
        """Representations for a fetch of several entity types (parts): each object by its own type's part."""
        by_path: dict[tuple[str, ...], dict[str, Fetch]] = {}
        for part in fetch.parts:
            by_path.setdefault(part.path, {}).update(dict.fromkeys(part.typenames, part))
        reps: list[dict[str, Any]] = []
        index: dict[bytes, int] = {}
        for path, part_of in by_path.items():
            for obj in collect(data, path):
                found = part_of.get(obj.get("__typename"))  # type: ignore[arg-type]
                if found is None:
                    continue
                part = found
                objects.append(obj)
                rep = representation(obj, part.representation, part.rep_typename or obj["__typename"], part.key_names)
                if rep is None:
                    continue
                fingerprint = orjson.dumps(rep)
                at = index.get(fingerprint)
                if at is None:
                    index[fingerprint] = len(reps)
                    reps.append(rep)
                    targets.append([obj])
                    target_parts.append(part)
                else:
                    targets[at].append(obj)
        return reps

    def _add_errors(
        self,
        fetch: Fetch,
        sub_errors: Any,
        data: dict[str, Any],
        objects: list[dict[str, Any]],
        targets: list[list[dict[str, Any]]],
        errors: list[dict[str, Any]],
    ) -> None:
        paths: list[list[str | int]] | None = None
        by_id: dict[int, int] = {}
        for sub in sub_errors if isinstance(sub_errors, list) else [sub_errors]:
            if not isinstance(sub, dict):
                sub = {"message": str(sub)}
            error: dict[str, Any] = {"message": str(sub.get("message", "subgraph error"))}
            path = sub.get("path")
            if fetch.is_entity and isinstance(path, list) and len(path) >= 2 and path[0] == "_entities":
                if paths is None:
                    all_objs, paths = [], []
                    for where in dict.fromkeys(p.path for p in fetch.parts) if fetch.parts else [fetch.path]:
                        all_objs += collect(data, where)
                        paths += collect_paths(data, where)
                    by_id = {id(o): i for i, o in enumerate(all_objs)}
                position = path[1]
                if isinstance(position, int) and 0 <= position < len(targets):
                    at = by_id.get(id(targets[position][0]))
                    if at is not None:
                        error["path"] = [*paths[at], *path[2:]]
            elif not fetch.is_entity and isinstance(path, list):
                error["path"] = path
            if "locations" in sub and not fetch.is_entity:
                pass  # subgraph locations refer to the subgraph query, not the client's document
            extensions = sub.get("extensions")
            merged = dict(extensions) if isinstance(extensions, dict) else {}
            merged.setdefault("serviceName", fetch.graph)
            error["extensions"] = merged
            errors.append(error)
