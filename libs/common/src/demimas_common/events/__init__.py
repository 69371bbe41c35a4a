"""Events: the CloudEvents envelope, JSON Schemas, the transactional outbox and its relay, consumers with an
idempotent inbox and a dead-letter table, and JetStream stream set-up."""
