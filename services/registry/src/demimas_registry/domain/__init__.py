"""Registry domain: plain Python, no framework imports (workers, families, movements, village statistics)."""
