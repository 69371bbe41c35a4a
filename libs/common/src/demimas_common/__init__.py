"""Shared foundation of the Demimas services (Desa Migran EMAS coordination backend)."""
