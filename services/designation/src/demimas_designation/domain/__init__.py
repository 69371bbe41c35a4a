"""Plain-Python rules of the designation workflow: no framework, no I/O."""
