"""HTTP Basic access tokens and workspace isolation: no token may read, change or learn of another workspace's media."""

from __future__ import annotations

import base64
import importlib
import pkgutil
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

import reelhouse.api
from reelhouse.db.engine import migrated
from reelhouse.settings import Settings
from reelhouse.tokens import revoke
from tests.api_helpers import create_media, error_of
from tests.conftest import Server, make_token


def unauthorized(response: httpx.Response) -> None:
    error_of(response, 401)
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.fixture
def anonymous(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/v1", timeout=30) as client:
        yield client


@pytest.fixture
def other_workspace(server: Server) -> Iterator[httpx.Client]:
    """A client holding a token of workspace B; `api` holds one of the default workspace."""
    with httpx.Client(base_url=f"{server.url}/v1", auth=make_token(server.settings, "B"), timeout=30) as client:
        yield client


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


SOME_ID = "4fa85f64-5717-4562-b3fc-2c963f66afa6"


def test_missing_credentials_come_before_any_other_check(anonymous: httpx.Client) -> None:
    """Without credentials nothing else is validated, so an anonymous caller learns nothing about ids or payloads."""
    for method, path in [
        ("GET", "/on-demand"),
        ("GET", "/on-demand?limit=0"),
        ("POST", "/on-demand"),
        ("GET", f"/on-demand/{SOME_ID}"),
        ("PATCH", f"/on-demand/{SOME_ID}"),
        ("DELETE", f"/on-demand/{SOME_ID}"),
        ("GET", f"/on-demand/{SOME_ID}/input-info"),
        ("GET", "/on-demand/not-a-uuid"),
        ("POST", "/on-demand/upload"),
        ("GET", "/on-demand/uploads"),
        ("PUT", f"/on-demand/upload/{SOME_ID}/cancel"),
        ("PUT", "/on-demand/upload/not-a-uuid/cancel"),
    ]:
        unauthorized(anonymous.request(method, path, json={"metadata": 5}))


def test_wrong_or_malformed_credentials(anonymous: httpx.Client, credentials: tuple[str, str]) -> None:
    token_id, secret = credentials
    for headers in [
        basic(token_id, "not-the-secret"),
        basic(str(uuid.uuid4()), secret),
        basic(token_id, ""),
        basic("", secret),
        basic(secret, token_id),
        {"Authorization": "Basic"},
        {"Authorization": "Basic !!!notbase64"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()},
        {"Authorization": f"Bearer {secret}"},
    ]:
        unauthorized(anonymous.get("/on-demand", headers=headers))

    assert anonymous.get("/on-demand", headers=basic(token_id, secret)).status_code == 200


def test_revoked_token_is_refused(api: httpx.Client, settings: Settings, credentials: tuple[str, str]) -> None:
    assert api.get("/on-demand").status_code == 200
    with migrated(settings) as db, db.write() as session:
        assert revoke(session, credentials[0]) is True

    unauthorized(api.get("/on-demand"))


def test_media_of_another_workspace_is_not_found(
    api: httpx.Client, other_workspace: httpx.Client, file_server: str
) -> None:
    media_id = create_media(api, f"{file_server}/clip.mp4", metadata={"owner": "A"})["id"]

    for method, path, body in [
        ("GET", "", None),
        ("PATCH", "", {"metadata": {"owner": "B"}}),
        ("DELETE", "", None),
        ("GET", "/input-info", None),
    ]:
        response = other_workspace.request(method, f"/on-demand/{media_id}{path}", json=body)
        assert error_of(response, 404)["message"] == "Media not found", (method, path)

    listed = other_workspace.get("/on-demand").json()
    assert listed["data"] == []
    assert listed["pagination"]["totalRecords"] == 0
    assert api.get(f"/on-demand/{media_id}").json()["data"]["metadata"] == {"owner": "A"}


def test_uploads_of_another_workspace_are_hidden(api: httpx.Client, other_workspace: httpx.Client) -> None:
    response = api.post("/on-demand/upload", json={"corsOrigin": "*", "pushMediaSettings": {"accessPolicy": "public"}})
    assert response.status_code == 201, response.text
    upload_id = response.json()["data"]["uploadId"]

    assert error_of(other_workspace.put(f"/on-demand/upload/{upload_id}/cancel"), 404)
    assert other_workspace.get("/on-demand/uploads").json()["data"] == []
    assert error_of(other_workspace.get(f"/on-demand/{upload_id}"), 404)
    assert [u["uploadId"] for u in api.get("/on-demand/uploads").json()["data"]] == [upload_id]


def test_openapi_lists_every_media_route_without_auth(anonymous: httpx.Client) -> None:
    response = anonymous.get("/openapi.json")

    assert response.status_code == 200
    document = response.json()
    listed = {(path, method) for path, item in document["paths"].items() for method in item}
    implemented = {
        (f"/v1{route.path}", method.lower())
        for module in pkgutil.iter_modules(reelhouse.api.__path__, "reelhouse.api.")
        for route in getattr(importlib.import_module(module.name), "router", APIRouter()).routes
        if isinstance(route, APIRoute) and route.path.startswith("/on-demand")
        for method in route.methods
    }
    core = {
        ("/v1/on-demand", "get"), ("/v1/on-demand", "post"), ("/v1/on-demand/{mediaId}", "get"),
        ("/v1/on-demand/{mediaId}", "patch"), ("/v1/on-demand/{mediaId}", "delete"),
        ("/v1/on-demand/{mediaId}/input-info", "get"), ("/v1/on-demand/upload", "post"),
        ("/v1/on-demand/uploads", "get"), ("/v1/on-demand/upload/{uploadId}/cancel", "put"),
    }
    assert core <= implemented
    assert implemented <= listed, implemented - listed
    schemes = document["components"]["securitySchemes"].values()
    assert any((s["type"], s.get("scheme")) == ("http", "basic") for s in schemes), schemes
