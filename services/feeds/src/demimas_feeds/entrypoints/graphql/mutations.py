"""The feeds subgraph's mutations (`feeds:manage`): each builds the command and runs the use case in the caller's
unit of work. The signing secret is in the answer of `createWebhookEndpoint` and `rotateWebhookSecret` only: it is
never readable again."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry

from demimas_common.graphql.ids import parse_uuid
from demimas_feeds.domain.commands import CreateEndpoint, EndpointAction, UpdateEndpoint
from demimas_feeds.entrypoints.graphql.context import Ctx
from demimas_feeds.entrypoints.graphql.types import MANAGE, WebhookDelivery, WebhookEndpoint
from demimas_feeds.service_layer import endpoints as flow
from demimas_feeds.service_layer import redelivery

__all__ = ["Mutation"]


@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="https:// (in production), resolving to public addresses only.")
    event_types: list[str] = strawberry.field(
        description="Exact types, prefixes ending in '.*' (demimas.registry.worker.*), or '*'."
    )
    region_prefix: str | None = strawberry.field(default=None, description="Only events of villages within it.")
    description: str | None = None


@strawberry.input(description="What to change of an endpoint; what is left out stays.")
class UpdateWebhookEndpointInput:
    url: str | None = None
    event_types: list[str] | None = None
    region_prefix: str | None = strawberry.field(default=None, description='"" removes the region filter.')
    description: str | None = None


@strawberry.type(description="A new endpoint and its signing secret, shown this once.")
class CreatedWebhookEndpoint:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(description="whsec_...: keep it; it is never shown again.")


@strawberry.type(description="The endpoint's new signing secret, shown this once; the old one signs until it expires.")
class RotatedWebhookSecret:
    endpoint: WebhookEndpoint
    secret: str
    old_secret_expires_at: dt.datetime


def _id(value: strawberry.ID, field: str = "id") -> uuid.UUID:
    return parse_uuid(value, field)


@strawberry.type
class Mutation:
    @strawberry.federation.field(requires_scopes=MANAGE, description="Register a webhook endpoint.")
    async def create_webhook_endpoint(
        self, info: Ctx, input: CreateWebhookEndpointInput
    ) -> CreatedWebhookEndpoint | None:
        ctx = info.context
        principal = ctx.require_principal()
        cmd = CreateEndpoint(input.url, tuple(input.event_types), input.region_prefix, input.description)
        created = await ctx.run(flow.create_endpoint, cmd, principal, ctx.rules)
        return CreatedWebhookEndpoint(endpoint=WebhookEndpoint.from_domain(created.endpoint), secret=created.secret)

    @strawberry.federation.field(requires_scopes=MANAGE, description="Change an endpoint's URL, types or filter.")
    async def update_webhook_endpoint(
        self, info: Ctx, id: strawberry.ID, input: UpdateWebhookEndpointInput
    ) -> WebhookEndpoint | None:
        ctx = info.context
        principal = ctx.require_principal()
        cmd = UpdateEndpoint(
            _id(id),
            url=input.url,
            event_types=tuple(input.event_types) if input.event_types is not None else None,
            region_prefix=input.region_prefix,
            description=input.description,
        )
        return WebhookEndpoint.from_domain(await ctx.run(flow.update_endpoint, cmd, principal, ctx.rules))

    @strawberry.federation.field(
        requires_scopes=MANAGE,
        description="A new signing secret; the old one still signs (both signatures are sent) for the grace period.",
    )
    async def rotate_webhook_secret(self, info: Ctx, id: strawberry.ID) -> RotatedWebhookSecret | None:
        ctx = info.context
        principal = ctx.require_principal()
        rotated = await ctx.run(flow.rotate_secret, EndpointAction(_id(id)), principal, ctx.rules)
        return RotatedWebhookSecret(
            endpoint=WebhookEndpoint.from_domain(rotated.endpoint),
            secret=rotated.secret,
            old_secret_expires_at=rotated.old_secret_expires_at,
        )

    @strawberry.federation.field(
        requires_scopes=MANAGE,
        description="Stop deliveries; events meanwhile are not queued (replay them after enabling).",
    )
    async def disable_webhook_endpoint(self, info: Ctx, id: strawberry.ID) -> WebhookEndpoint | None:
        ctx = info.context
        principal = ctx.require_principal()
        return WebhookEndpoint.from_domain(
            await ctx.run(flow.disable_endpoint, EndpointAction(_id(id)), principal, ctx.rules)
        )

    @strawberry.federation.field(requires_scopes=MANAGE, description="Resume deliveries, in order.")
    async def enable_webhook_endpoint(self, info: Ctx, id: strawberry.ID) -> WebhookEndpoint | None:
        ctx = info.context
        principal = ctx.require_principal()
        return WebhookEndpoint.from_domain(
            await ctx.run(flow.enable_endpoint, EndpointAction(_id(id)), principal, ctx.rules)
        )

    @strawberry.federation.field(
        requires_scopes=MANAGE, description="Delete an endpoint: nothing more is delivered; its log is kept."
    )
    async def delete_webhook_endpoint(self, info: Ctx, id: strawberry.ID) -> bool | None:
        ctx = info.context
        principal = ctx.require_principal()
        return await ctx.run(flow.delete_endpoint, EndpointAction(_id(id)), principal, ctx.rules)

    @strawberry.federation.field(
        requires_scopes=MANAGE,
        description="Send a delivery again now (same webhook-id, so receivers recognise it).",
    )
    async def redeliver(self, info: Ctx, delivery_id: strawberry.ID) -> WebhookDelivery | None:
        ctx = info.context
        principal = ctx.require_principal()
        async with ctx.unit_of_work() as uow:
            delivery = await redelivery.redeliver(uow, principal, _id(delivery_id, "deliveryId"))
        return WebhookDelivery.from_row(delivery)

    @strawberry.federation.field(
        requires_scopes=MANAGE,
        description="Queue again, as new deliveries, the endpoint's events since a time (those still in the stream); "
        "answers how many were queued.",
    )
    async def replay_webhook_endpoint(self, info: Ctx, id: strawberry.ID, since: dt.datetime) -> int | None:
        ctx = info.context
        principal = ctx.require_principal()
        reader = ctx.require_reader()
        async with ctx.unit_of_work() as uow:
            return await redelivery.replay(uow, principal, _id(id), since, reader)
