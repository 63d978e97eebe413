"""Webhooks: events written to an outbox with the change they report, then delivered signed and retried.

Emit with `emit_media` / `emit_upload` (or `emit`) from `reelhouse.webhooks.events`; see its docstring.
"""
