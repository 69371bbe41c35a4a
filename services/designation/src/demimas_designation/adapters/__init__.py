"""Persistence of the designation service (schema `designation`)."""
