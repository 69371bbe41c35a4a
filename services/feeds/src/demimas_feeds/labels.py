"""The feeds service's enum values, Indonesian and English: the one source of its `feedsLabels`
(demimas_common.graphql.labels)."""

from __future__ import annotations

from demimas_common.graphql.labels import Catalogue, catalogue

__all__ = ["LABELS"]

LABELS: Catalogue = catalogue(
    {
        "WebhookDeliveryStatus": {
            "PENDING": ("Menunggu pengiriman", "Pending"),
            "DELIVERED": ("Terkirim", "Delivered"),
            "FAILED": ("Gagal", "Failed"),
            "CANCELLED": ("Dibatalkan", "Cancelled"),
        },
        "WebhookEndpointStatus": {
            "ACTIVE": ("Aktif", "Active"),
            "DISABLED": ("Dinonaktifkan", "Disabled"),
        },
    },
)
