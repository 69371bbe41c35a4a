"""The audit subgraph's per-request context: the common service context (caller, engine, the audit's unit of work)
with the gateway's URL (trace links point at it; the data-subject report is sent through it)."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from demimas_audit.adapters.gateway import GatewayClient
from demimas_audit.adapters.unit_of_work import AuditUnitOfWork
from demimas_common.auth.principal import Principal
from demimas_common.graphql.context import ServiceContext

__all__ = ["AuditContext"]


class AuditContext(ServiceContext[AuditUnitOfWork]):
    def __init__(
        self,
        principal: Principal | None,
        *,
        gateway_url: str,
        public_key: Ed25519PublicKey | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(principal, **kwargs)
        self.gateway_url = gateway_url
        self.public_key = public_key
        """The service's own checkpoint key (`ChainVerification.lastCheckpoint.signatureValid`); None in tests
        that do not sign."""

    def gateway(self) -> GatewayClient:
        return GatewayClient(self.gateway_url)
