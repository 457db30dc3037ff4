"""The REST door: /api/v1, one module per area, and the OpenAPI document built from them."""
