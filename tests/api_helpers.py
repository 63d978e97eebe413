"""Helpers the API, auth and SDK tests share: creating media, signing playback tokens and reading FastPix error
envelopes."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import jwt
from sqlalchemy import func, select

from reelhouse.db.models import Job
from tests.conftest import Server


def create_media(api: httpx.Client, url: str, **body: Any) -> dict:
    """POSTs a pull-URL media (public unless `body` says otherwise) and returns its `data`."""
    payload = {"inputs": [{"type": "video", "url": url}], "accessPolicy": "public", **body}
    response = api.post("/on-demand", json=payload)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def error_of(response: httpx.Response, status: int) -> dict:
    """The `error` object of a FastPix error envelope, after checking the status and the envelope's shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False, body
    assert body["error"]["code"] == status, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return body["error"]


def invalid_fields(response: httpx.Response) -> list[str]:
    """The names in a 422 envelope's `fields`, the part clients show next to form inputs."""
    error = error_of(response, 422)
    assert error["message"] == "payload validation failed", error
    return [f["field"] for f in error["fields"]]


def wait_until_idle(server: Server, timeout: float = 60) -> None:
    """Waits until no job is queued or running, so no worker writes objects behind the test's back."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with server.runtime.db.read() as session:
            busy = session.scalar(select(func.count()).select_from(Job).where(Job.status.in_(("queued", "running"))))
        if not busy:
            return
        time.sleep(0.1)
    raise AssertionError("jobs were still pending")


def new_key(api: httpx.Client) -> tuple[str, bytes]:
    """(key id, private key PEM) of a fresh signing key."""
    response = api.post("/iam/signing-keys")
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return data["id"], base64.b64decode(data["privateKey"])


def mint(key: tuple[str, bytes], playback_id: str, *, expires_in: int = 300, kid_in_header: bool = True,
         **claims: Any) -> str:
    kid, pem = key
    now = int(time.time())
    payload: dict[str, Any] = {"aud": f"media:{playback_id}", "iss": "fastpix.com", "iat": now,
                               "exp": now + expires_in, **claims}
    if kid_in_header:
        return jwt.encode(payload, pem, algorithm="RS256", headers={"kid": kid})
    return jwt.encode({**payload, "kid": kid}, pem, algorithm="RS256")
