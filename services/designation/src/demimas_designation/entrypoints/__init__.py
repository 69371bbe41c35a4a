"""How the designation service is reached: GraphQL, event consumers, commands."""
