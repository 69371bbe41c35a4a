"""The designation subgraph."""
