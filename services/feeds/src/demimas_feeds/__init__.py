"""The feeds service: webhook endpoints, signed deliveries of the events an agency may see, and the change feed."""
