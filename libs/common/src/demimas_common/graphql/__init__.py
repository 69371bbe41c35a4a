"""GraphQL helpers shared by every subgraph: request context, Relay connections, errors, shared types."""
