"""Use cases of the designation service (functions taking an engine and the caller)."""
