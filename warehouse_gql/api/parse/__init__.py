"""/parse: the Parse-compatible REST API and LiveQuery, a translation layer over the services."""
