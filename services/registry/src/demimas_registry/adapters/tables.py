"""The registry's tables in schema `registry`. Village codes use the "C" collation so that a region prefix
(`16.06`) is a plain index range scan."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY

__all__ = ["SCHEMA", "departures", "family_members", "metadata", "returns", "village_stats", "villages", "workers"]

SCHEMA = "registry"
metadata = MetaData(schema=SCHEMA)
CODE = Text(collation="C")

villages = Table(
    "villages",
    metadata,
    Column("code", CODE, primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("district_code", CODE, nullable=False),
    Column("district_name", Text, nullable=False),
    Column("regency_code", CODE, nullable=False),
    Column("regency_name", Text, nullable=False),
    Column("province_code", CODE, nullable=False),
    Column("province_name", Text, nullable=False),
    Column("postal_code", Text),
    Index("villages_regency", "regency_code", "code"),
)

workers = Table(
    "workers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("nik", Text, nullable=False, unique=True),
    Column("full_name", Text, nullable=False),
    Column("sex", Text, nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("education", Text, nullable=False),
    Column("phone", Text),
    Column("address", Text),
    Column("passport_number", Text),
    Column("village_code", CODE, ForeignKey(villages.c.code), nullable=False),
    Column("status", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("nik_warnings", ARRAY(Text), nullable=False, server_default="{}"),
    Column("latest_departure_id", Uuid),
    Column("created_by", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("workers_village", "village_code", "id"),
    Index("workers_status", "status", "id"),
)

departures = Table(
    "departures",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("worker_id", Uuid, ForeignKey(workers.c.id), nullable=False),
    Column("destination_country", Text, nullable=False),
    Column("sector", Text, nullable=False),
    Column("occupation", Text, nullable=False),
    Column("scheme", Text, nullable=False),
    Column("procedural", Boolean, nullable=False),
    Column("employer", Text),
    Column("departure_date", Date, nullable=False),
    Column("contract_end", Date),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("occupation_code", Text),  # KBJI 2014 (domain.occupations); revision 0002
    Index("departures_worker", "worker_id", "departure_date"),
)

returns = Table(
    "returns",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("worker_id", Uuid, ForeignKey(workers.c.id), nullable=False),
    Column("departure_id", Uuid, ForeignKey(departures.c.id)),
    Column("return_date", Date, nullable=False),
    Column("reason", Text, nullable=False),
    Column("note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("returns_worker", "worker_id", "return_date"),
)

family_members = Table(
    "family_members",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("worker_id", Uuid, ForeignKey(workers.c.id), nullable=False),
    Column("relation", Text, nullable=False),
    Column("full_name", Text, nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("minor", Boolean, nullable=False),
    Column("consent_given_by", Text),
    Column("consent_date", Date),
    Column("consent_basis", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("family_worker", "worker_id"),
)

village_stats = Table(
    "village_stats",
    metadata,
    Column("village_code", CODE, nullable=False),
    Column("dimension", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("count", BigInteger, nullable=False),
    PrimaryKeyConstraint("village_code", "dimension", "key"),
)
