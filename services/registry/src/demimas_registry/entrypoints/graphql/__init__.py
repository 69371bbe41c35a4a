"""The registry subgraph (Strawberry, Federation 2.9)."""
