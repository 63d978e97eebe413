"""The HTTP API under /v1: routers, wire schemas and the error envelope."""
