"""The GraphQL API: Strawberry types and resolvers. No business rules, no PyMongo."""
