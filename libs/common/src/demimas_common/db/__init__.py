"""Database access: engines, per-service roles and schemas, migrations, the unit of work."""
