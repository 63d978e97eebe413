"""HTTP Basic access tokens and workspace isolation: no token may read, change or learn of another workspace's media."""

from __future__ import annotations

import base64
import importlib
import pkgutil
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

import reelhouse.api
from reelhouse.db.engine import migrated
from reelhouse.settings import Settings
from reelhouse.testing import free_port, start_server
from reelhouse.tokens import REVOCATION_CHECK_SECONDS, revoke
from tests.api_helpers import create_media, error_of
from tests.conftest import Server, make_token, wait_until
from tests.test_web import page_csrf, signed_in
from tests.web_helpers import make_user


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


def test_a_token_revoked_by_another_process_is_refused_once_the_revocation_check_is_due(
    api: httpx.Client, settings: Settings, credentials: tuple[str, str]
) -> None:
    """As `reelhouse tokens revoke` does, from its own process: the server had verified the token and remembers it,
    for at most REVOCATION_CHECK_SECONDS after the revocation."""
    assert api.get("/on-demand").status_code == 200
    with migrated(settings) as db, db.write() as session:
        assert revoke(session, credentials[0]) is True

    time.sleep(REVOCATION_CHECK_SECONDS)
    unauthorized(api.get("/on-demand"))
    unauthorized(api.get("/on-demand"))


def test_a_token_revoked_in_the_dashboard_is_refused_by_that_process_at_once_and_by_the_others_soon(
    settings: Settings, server: Server, credentials: tuple[str, str]
) -> None:
    """Two API processes on one database (as `serve --processes 2`, or two machines), both having verified the token."""
    other = start_server(settings.model_copy(update={"port": free_port()}), workers=False)
    try:
        clients = [httpx.Client(base_url=f"{s.url}/v1", auth=credentials, timeout=30) for s in (server, other)]
        for client in clients:
            assert client.get("/on-demand").status_code == 200
        person = signed_in(server, make_user(settings, "ana@example.com"))
        revoked = person.post(f"/developers/tokens/{credentials[0]}/revoke", data={"csrf": page_csrf(person)})
        assert revoked.status_code == 303, revoked.text

        unauthorized(clients[0].get("/on-demand"))  # the very next request to the process that revoked it
        wait_until(lambda: clients[1].get("/on-demand").status_code == 401, timeout=REVOCATION_CHECK_SECONDS + 10,
                   what="the other process refusing the revoked token")
        unauthorized(clients[1].get(f"/on-demand/{SOME_ID}"))
        for client in clients:
            client.close()
        person.close()
    finally:
        other.stop()


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
