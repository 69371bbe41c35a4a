"""The query planner's parts; `demimas_gateway.planner.Planner` is the entry point and says how they fit together."""
