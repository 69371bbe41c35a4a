"""Prometheus metrics of the event machinery."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = ["CONSUMER_LAG", "DEAD_LETTERED", "DUPLICATES", "OUTBOX_PUBLISHED", "PROCESSED", "RELAY_FAILURES"]

OUTBOX_PUBLISHED = Counter("demimas_outbox_published_total", "Outbox events published to JetStream", ["schema"])
RELAY_FAILURES = Counter("demimas_outbox_relay_failures_total", "Relay passes that failed and will retry", ["schema"])
CONSUMER_LAG = Gauge("demimas_consumer_lag", "Messages not yet processed by a durable consumer", ["consumer"])
PROCESSED = Counter("demimas_consumer_processed_total", "Events applied by a consumer", ["consumer"])
DUPLICATES = Counter("demimas_consumer_duplicates_total", "Redelivered events skipped by the inbox", ["consumer"])
DEAD_LETTERED = Counter("demimas_consumer_dead_lettered_total", "Events moved to the dead-letter table", ["consumer"])
