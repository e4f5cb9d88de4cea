"""Helpers shared by the tests: tiny models, an analytic backend, the staleness resolver."""
