"""The audit service: every cross-agency event in an append-only, hash-chained store, signed checkpoints, and the
queries auditors and data subjects need (who did what, what it caused, who read whose data)."""
