"""GraphQL helpers shared by every subgraph: the schema class (`schema`), request context (`context`), Relay
connections over keyset cursors (`pagination`), error shaping (`errors`) and shared `@shareable` types (`types`).

Import from the modules; this package stays empty so that importing a cursor helper does not import FastAPI.
"""
