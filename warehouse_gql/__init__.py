"""warehouse-gql: a self-hostable GraphQL API server for running a warehouse floor."""

__version__ = "0.1.0"
