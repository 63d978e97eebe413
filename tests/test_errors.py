"""An unexpected failure still answers in the error envelope and leaves the connection usable."""

from reelhouse.catalog import media


def test_a_crash_is_a_500_envelope_and_the_connection_survives(api, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(media, "find_media", broken)
    crashed = api.get("/on-demand/00000000-0000-4000-8000-000000000000")
    assert crashed.status_code == 500
    assert crashed.json() == {"success": False, "error": {
        "code": 500, "message": "Internal server error", "description": "The server failed to handle this request."}}
    assert "disk on fire" not in crashed.text
    monkeypatch.undo()
    assert api.get("/on-demand").status_code == 200  # same pooled connection, still open
