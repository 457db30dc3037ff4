"""The front doors: GraphQL (graphql/), REST (rest/) and Parse (parse/), translation only.

What more than one door needs (resources, credentials, request ids, the error-code -> HTTP
status table) lives in http.py; the doors never import each other.
"""
