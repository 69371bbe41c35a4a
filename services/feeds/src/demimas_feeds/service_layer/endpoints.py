"""Webhook endpoint use cases: create (the secret shown once), update, rotate the secret (both sign for the grace
period), disable, enable, delete; each `handler(cmd, uow, principal, rules)`, scope `feeds:manage`, and an endpoint
of another agency (or outside a regional caller's region) answered as NOT_FOUND, whatever the path."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import uuid_utils

from demimas_common.auth.principal import Principal
from demimas_common.errors import Conflict
from demimas_feeds.domain import events
from demimas_feeds.domain.commands import CreateEndpoint, EndpointAction, UpdateEndpoint
from demimas_feeds.domain.endpoint import (
    Endpoint,
    EndpointStatus,
    check_description,
    check_event_types,
    check_region_prefix,
    require_full_grants,
    require_visible,
)
from demimas_feeds.domain.secrets import SecretBox, new_secret
from demimas_feeds.domain.url_policy import Resolver, UrlPolicy, resolve_target, system_resolver
from demimas_feeds.service_layer.fanout import still_deliverable
from demimas_feeds.service_layer.ports import FeedsUoW
from demimas_feeds.settings import FeedsSettings

__all__ = [
    "MANAGE",
    "Created",
    "EndpointRules",
    "Rotated",
    "create_endpoint",
    "delete_endpoint",
    "disable_endpoint",
    "enable_endpoint",
    "rotate_secret",
    "update_endpoint",
]

MANAGE = "feeds:manage"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class EndpointRules:
    """The configuration the endpoint use cases depend on (from the settings; tests pass their own)."""

    box: SecretBox
    policy: UrlPolicy
    rotation_grace: dt.timedelta
    max_per_agency: int = 50
    max_per_office: int = 5
    resolver: Resolver = system_resolver
    clock: Callable[[], dt.datetime] = field(default=_now)

    @classmethod
    def from_settings(cls, settings: FeedsSettings) -> EndpointRules:
        return cls(
            box=SecretBox(settings.secret_key_bytes()),
            policy=UrlPolicy.for_environment(settings.environment),
            rotation_grace=dt.timedelta(hours=settings.feeds_rotation_grace_hours),
            max_per_agency=settings.feeds_max_endpoints_per_agency,
            max_per_office=settings.feeds_max_endpoints_per_office,
        )


@dataclass(frozen=True)
class Created:
    endpoint: Endpoint
    secret: str


@dataclass(frozen=True)
class Rotated:
    endpoint: Endpoint
    secret: str
    old_secret_expires_at: dt.datetime


async def create_endpoint(cmd: CreateEndpoint, uow: FeedsUoW, principal: Principal, rules: EndpointRules) -> Created:
    principal.require_scope(MANAGE)
    event_types = check_event_types(cmd.event_types, principal)
    region_prefix = check_region_prefix(cmd.region_prefix, principal)
    description = check_description(cmd.description)
    target = await resolve_target(cmd.url, rules.policy, rules.resolver)
    # The agency's limit, and within it one per office (a token's region): DISNAKER is one agency of hundreds of
    # regency offices, and one of them must not be able to take every endpoint the agency may have.
    agency_count, office_count = await uow.endpoints.count_live(principal.agency.value, principal.region)
    if agency_count >= rules.max_per_agency:
        raise Conflict(
            f"{principal.agency.value} has {rules.max_per_agency} webhook endpoints, the most allowed: delete one "
            "first",
            reason="too_many_endpoints",
        )
    if principal.region is not None and office_count >= rules.max_per_office:
        raise Conflict(
            f"the office of {principal.region} has {rules.max_per_office} webhook endpoints, the most one office of "
            "an agency may have: delete one first",
            reason="too_many_endpoints",
        )
    now = rules.clock()
    endpoint = Endpoint(
        id=uuid.UUID(str(uuid_utils.uuid7())),
        agency=principal.agency.value,
        url=target.url,
        description=description,
        event_types=event_types,
        region_prefix=region_prefix,
        owner_scopes=frozenset(principal.scopes),
        owner_region=principal.region,
        status=EndpointStatus.ACTIVE,
        created_by=principal.sub,
        created_at=now,
        updated_at=now,
        version=1,
    )
    secret = new_secret()
    await uow.endpoints.add(endpoint)
    await uow.endpoints.add_secret(endpoint.id, rules.box.encrypt(endpoint.id, secret), now)
    uow.publish(events.endpoint_created(endpoint, principal.actor))
    await uow.commit()
    return Created(endpoint, secret)


async def _load(uow: FeedsUoW, principal: Principal, endpoint_id: uuid.UUID) -> Endpoint:
    principal.require_scope(MANAGE)
    return require_visible(await uow.endpoints.get(endpoint_id, for_update=True), principal)


async def update_endpoint(cmd: UpdateEndpoint, uow: FeedsUoW, principal: Principal, rules: EndpointRules) -> Endpoint:
    """Change what was given; the endpoint's deliveries are filtered from now on with the updating principal's
    grants and region (it decides what the endpoint receives)."""
    endpoint = await _load(uow, principal, cmd.endpoint_id)
    url = endpoint.url
    if cmd.url is not None:
        url = (await resolve_target(cmd.url, rules.policy, rules.resolver)).url
    event_types = check_event_types(cmd.event_types, principal) if cmd.event_types is not None else None
    if event_types is None:
        check_event_types(endpoint.event_types, principal)  # the kept types must suit the new owner too
    region_prefix = endpoint.region_prefix
    if cmd.region_prefix is not None:
        region_prefix = check_region_prefix(cmd.region_prefix or None, principal)
    else:
        check_region_prefix(region_prefix, principal)
    changed = endpoint.changed(
        rules.clock(),
        url=url,
        event_types=event_types or endpoint.event_types,
        region_prefix=region_prefix,
        description=check_description(cmd.description) if cmd.description is not None else endpoint.description,
        owner_scopes=frozenset(principal.scopes),
        owner_region=principal.region,
    )
    await uow.endpoints.save(changed)
    # What waits was projected for the grants, region and filter frozen before: whatever the new ones would not
    # deliver exactly so (a narrower token pointing the endpoint at its own URL) is cancelled, never sent. Read in
    # slices: a queue may hold a replay's 100,000 deliveries.
    before = (endpoint.url, endpoint.audience, endpoint.region_prefix, endpoint.event_types)
    if (changed.url, changed.audience, changed.region_prefix, changed.event_types) != before:
        after_seq = 0
        while slice_ := await uow.endpoints.pending_bodies(changed.id, after_seq=after_seq):
            stale = [
                delivery_id
                for delivery_id, _seq, body in slice_
                if not still_deliverable(body, changed.event_types, changed.audience, changed.region_prefix)
            ]
            await uow.endpoints.cancel_deliveries(
                stale, "endpoint updated: no longer delivered with its new grants or filter"
            )
            after_seq = slice_[-1][1]
    uow.publish(events.endpoint_updated(changed, principal.actor))
    await uow.commit()
    return changed


async def rotate_secret(cmd: EndpointAction, uow: FeedsUoW, principal: Principal, rules: EndpointRules) -> Rotated:
    """Only a token holding every grant the endpoint delivers with may rotate it: the new secret signs deliveries of
    those grants, and a narrowed token (say `feeds:manage` alone) that could rotate could forge them to the agency's
    own receiver or lock the receiver out."""
    endpoint = await _load(uow, principal, cmd.endpoint_id)
    require_full_grants(endpoint, principal, "rotate its secret")
    now = rules.clock()
    old_expires_at = now + rules.rotation_grace
    await uow.endpoints.expire_secrets(endpoint.id, now, old_expires_at)
    secret = new_secret()
    await uow.endpoints.add_secret(endpoint.id, rules.box.encrypt(endpoint.id, secret), now)
    changed = endpoint.changed(now)
    await uow.endpoints.save(changed)
    uow.publish(events.secret_rotated(changed, principal.actor, old_expires_at))
    await uow.commit()
    return Rotated(changed, secret, old_expires_at)


async def disable_endpoint(cmd: EndpointAction, uow: FeedsUoW, principal: Principal, rules: EndpointRules) -> Endpoint:
    endpoint = await _load(uow, principal, cmd.endpoint_id)
    if endpoint.status is EndpointStatus.DISABLED:
        return endpoint  # already so: nothing changes, no event
    now = rules.clock()
    changed = endpoint.changed(
        now, status=EndpointStatus.DISABLED, disabled_reason=events.DISABLED_BY_AGENCY, disabled_at=now
    )
    await uow.endpoints.save(changed)
    uow.publish(events.endpoint_disabled(changed, principal.actor, events.DISABLED_BY_AGENCY))
    await uow.commit()
    return changed


async def enable_endpoint(cmd: EndpointAction, uow: FeedsUoW, principal: Principal, rules: EndpointRules) -> Endpoint:
    """Deliveries resume (what was queued is sent in order); the failure clock starts afresh."""
    endpoint = await _load(uow, principal, cmd.endpoint_id)
    if endpoint.status is EndpointStatus.ACTIVE:
        return endpoint
    changed = endpoint.changed(
        rules.clock(), status=EndpointStatus.ACTIVE, disabled_reason=None, disabled_at=None, failing_since=None
    )
    await uow.endpoints.save(changed)
    uow.publish(events.endpoint_enabled(changed, principal.actor))
    await uow.commit()
    return changed


async def delete_endpoint(cmd: EndpointAction, uow: FeedsUoW, principal: Principal, rules: EndpointRules) -> bool:
    """Soft delete: nothing more is delivered (pending deliveries are CANCELLED), the log stays in the database."""
    endpoint = await _load(uow, principal, cmd.endpoint_id)
    now = rules.clock()
    changed = endpoint.changed(now, deleted_at=now)
    await uow.endpoints.save(changed)
    await uow.endpoints.cancel_pending(endpoint.id)
    uow.publish(events.endpoint_deleted(changed, principal.actor))
    await uow.commit()
    return True
