"""Root of every test tree: registers the devstack fixtures (real PostgreSQL and NATS per test session)."""

pytest_plugins = ["demimas_common.devstack.testing"]
