"""An unexpected failure still answers in the error envelope and leaves the connection usable; the schema says what
the server enforces."""

from reelhouse.app import create_app
from reelhouse.catalog import media
from reelhouse.settings import Settings


def test_a_crash_is_a_500_envelope_and_the_connection_survives(api, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(media, "media_snapshot", broken)
    crashed = api.get("/on-demand/00000000-0000-4000-8000-000000000000")
    assert crashed.status_code == 500
    assert crashed.json() == {"success": False, "error": {
        "code": 500, "message": "Internal server error", "description": "The server failed to handle this request."}}
    assert "disk on fire" not in crashed.text
    monkeypatch.undo()
    assert api.get("/on-demand").status_code == 200  # same pooled connection, still open


def test_the_schema_declares_every_path_id_a_uuid() -> None:
    """Schema-driven clients and fuzzers then send ids that reach the routes, not ones refused before them. A live
    stream's id is FastPix's 32 hex digits, declared by its pattern instead."""
    schema = create_app(Settings()).openapi()
    path_ids = [(path, parameter["name"], parameter["schema"].get("format"))
                for path, operations in schema["paths"].items() for operation in operations.values()
                for parameter in operation.get("parameters", []) if parameter["in"] == "path"]

    assert len(path_ids) > 20
    assert [p for p in path_ids if p[2] != "uuid" and p[1] != "livestreamId"] == []
    assert schema["paths"]["/v1/on-demand/{livestreamId}/live-clips"]["get"]["parameters"][0]["schema"]["pattern"]
