"""Demimas audit service."""
