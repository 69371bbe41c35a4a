"""How the outside reaches the registry: GraphQL, the HTTP upload, the `demimas registry` commands."""
