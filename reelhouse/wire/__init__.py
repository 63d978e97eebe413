"""The wire vocabulary: what clients send and receive (pydantic models with FastPix's field names), how rows are
rendered as those objects, and the error every failure becomes. Everything above the database speaks it; it knows
nothing of HTTP routing."""
