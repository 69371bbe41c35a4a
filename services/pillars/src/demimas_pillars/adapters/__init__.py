"""Demimas pillars service."""
