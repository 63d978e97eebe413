"""Outbound networking that is safe to point at user-supplied URLs."""
