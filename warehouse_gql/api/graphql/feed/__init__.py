"""The change feed as GraphQL: the `changes` query (delta sync)."""
