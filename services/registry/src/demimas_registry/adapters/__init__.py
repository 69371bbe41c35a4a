"""Registry persistence: SQLAlchemy Core tables and repositories over asyncpg."""
