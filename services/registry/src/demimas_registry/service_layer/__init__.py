"""Registry use cases: plain async functions taking a command, a unit of work and the caller."""
