"""Playback IDs, signing keys and their enforcement on stream URLs (spec 7.20, 8), through the real SDK and raw HTTP."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import m3u8
import pytest
from cryptography.hazmat.primitives import serialization
from fastpix_python import Fastpix, errors

from reelhouse.playback.access import domain_permits
from tests.api_helpers import create_media, error_of, invalid_fields, mint, new_key
from tests.clips import make_clip
from tests.conftest import Server, make_token, wait_for


@pytest.fixture
def other_api(server: Server) -> Iterator[httpx.Client]:
    """A client of a second workspace, which must not see or use the first one's objects."""
    with httpx.Client(base_url=f"{server.url}/v1", auth=make_token(server.settings, "Other"), timeout=30) as client:
        yield client


def ready_media(api: httpx.Client, file_server: str, policy: str = "private") -> tuple[str, str]:
    """(media id, its first playback ID) of the pulled clip, once it plays."""
    created = create_media(api, f"{file_server}/clip.mp4", accessPolicy=policy)
    wait_for(api, created["id"], lambda m: m["status"] == "Ready")
    return created["id"], created["playbackIds"][0]["id"]


def master_url(server: Server, playback_id: str) -> str:
    return f"{server.url}/stream/{playback_id}.m3u8"


def tokens_in(playlist: m3u8.M3U8) -> set[str]:
    """The `token` query parameter of every URI a playlist names (variants, renditions, init and segments)."""
    uris = [p.uri for p in playlist.playlists] + [m.uri for m in playlist.media if m.uri]
    uris += [s.uri for s in playlist.segments] + [m.uri for m in playlist.segment_map or []]
    assert uris
    return {parse_qs(urlsplit(uri).query).get("token", [""])[0] for uri in uris}


def play(server: Server, playback_id: str, token: str | None = None, **headers: str) -> list[httpx.Response]:
    """Fetches the master, its first variant and that variant's init segment and first segment, as a player would,
    following the URIs as written (so a token must be carried by them); stops at the first refusal."""
    url = master_url(server, playback_id) + (f"?token={token}" if token else "")
    responses = [httpx.get(url, headers=headers)]
    if responses[-1].status_code != 200:
        return responses
    master = m3u8.loads(responses[-1].text, uri=url)
    variant_url = master.playlists[0].absolute_uri
    responses.append(httpx.get(variant_url, headers=headers))
    if responses[-1].status_code != 200:
        return responses
    variant = m3u8.loads(responses[-1].text, uri=variant_url)
    for uri in (variant.segment_map[0].absolute_uri, variant.segments[0].absolute_uri):
        responses.append(httpx.get(uri, headers=headers))
    if token:
        assert tokens_in(master) == tokens_in(variant) == {token}
    return responses


def statuses(responses: list[httpx.Response]) -> list[int]:
    return [r.status_code for r in responses]


# ---------------------------------------------------------------- the management API


def test_sdk_playback_id_lifecycle(fp: Fastpix, api: httpx.Client, file_server: str) -> None:
    media_id = create_media(api, f"{file_server}/clip.mp4")["id"]
    created = fp.playback.create_media_playback_id(
        media_id=media_id,
        access_policy="private",
        access_restrictions={"domains": {"default_policy": "deny", "allow": ["example.com"]}},
        resolution="720p",
    )
    assert created.success is True
    pid = created.data.id
    assert created.data.access_policy == "private" and created.data.resolution == "720p"
    assert created.data.access_restrictions.domains.allow == ["example.com"]
    assert created.data.access_restrictions.user_agents.default_policy == "allow"

    listed = fp.playback.list_playback_ids(media_id=media_id)
    assert [p.id for p in listed.data] == [listed.data[0].id, pid]
    assert [p.access_policy for p in listed.data] == ["public", "private"]

    got = fp.playback.get_playback_id(media_id=media_id, playback_id=pid).data
    assert got.id == pid and got.access_restrictions.domains.default_policy == "deny"

    domains = fp.playback.update_domain_restrictions(
        media_id=media_id, playback_id=pid, default_policy="allow", deny=["evil.test"]
    ).data
    assert (domains.default_policy, domains.allow, domains.deny) == ("allow", ["example.com"], ["evil.test"])
    agents = fp.playback.update_user_agent_restrictions(
        media_id=media_id, playback_id=pid, default_policy="deny", allow=["Mozilla"]
    ).data
    assert (agents.default_policy, agents.allow, agents.deny) == ("deny", ["Mozilla"], [])
    restrictions = fp.playback.get_playback_id(media_id=media_id, playback_id=pid).data.access_restrictions
    assert restrictions.domains.deny == ["evil.test"] and restrictions.user_agents.allow == ["Mozilla"]

    assert fp.playback.delete_media_playback_id(media_id=media_id, playback_id=pid).success is True
    with pytest.raises(errors.MediaOrPlaybackNotFoundError):
        fp.playback.get_playback_id(media_id=media_id, playback_id=pid)
    with pytest.raises(errors.MediaOrPlaybackNotFoundError):
        fp.playback.delete_media_playback_id(media_id=media_id, playback_id=pid)
    with pytest.raises(errors.ValidationErrorResponse):
        fp.playback.get_playback_id(media_id=media_id, playback_id="not-a-uuid")
    with pytest.raises(errors.MediaNotFoundError):
        fp.playback.create_media_playback_id(media_id=str(uuid.uuid4()), access_policy="public")
    with pytest.raises(errors.FastpixDefaultError, match="not supported by this server"):
        fp.playback.create_media_playback_id(media_id=media_id, access_policy="drm")


def test_playback_id_wire_shapes_and_errors(api: httpx.Client, other_api: httpx.Client, file_server: str) -> None:
    first = create_media(api, f"{file_server}/clip.mp4")
    second = create_media(api, f"{file_server}/clip.mp4")
    base = f"/on-demand/{first['id']}/playback-ids"

    response = api.post(base, json={"accessPolicy": "public"})
    assert response.status_code == 201
    pid = response.json()["data"]["id"]
    rules = {"defaultPolicy": "allow", "allow": [], "deny": []}
    assert response.json() == {"success": True, "data": {
        "id": pid, "accessPolicy": "public", "accessRestrictions": {"domains": rules, "userAgents": rules}}}
    listed = api.get(base).json()
    assert listed["success"] is True and [p["id"] for p in listed["data"]][-1] == pid

    patched = api.patch(f"{base}/{pid}/domains", json={"defaultPolicy": "deny", "allow": ["*.example.com"]})
    assert patched.status_code == 200
    assert patched.json() == {"success": True, "data": {"defaultPolicy": "deny", "allow": ["*.example.com"], "deny": []}}
    patched = api.patch(f"{base}/{pid}/domains", json={"deny": ["bad.example.com"]})  # a PATCH keeps what it omits
    assert patched.json()["data"] == {"defaultPolicy": "deny", "allow": ["*.example.com"], "deny": ["bad.example.com"]}

    assert invalid_fields(api.post(base, json={"accessPolicy": "secret"})) == ["accessPolicy"]
    assert invalid_fields(api.post(base, json={"accessPolicy": "public", "resolution": "4k"})) == ["resolution"]
    assert invalid_fields(api.get(f"{base}/nope")) == ["playbackId"]
    assert invalid_fields(api.delete(base)) == ["playbackId"]
    assert invalid_fields(api.delete(base, params={"playbackId": "nope"})) == ["playbackId"]
    assert invalid_fields(api.patch(f"{base}/{pid}/user-agents", json={"defaultPolicy": "maybe"})) == ["defaultPolicy"]
    assert invalid_fields(api.get("/on-demand/nope/playback-ids")) == ["mediaId"]
    assert error_of(api.post(base, json={"accessPolicy": "drm"}), 400)["description"].endswith(
        "not supported by this server")

    # a playback ID is reachable only through its own media, in its own workspace
    error_of(api.get(f"/on-demand/{second['id']}/playback-ids/{pid}"), 404)
    error_of(api.delete(f"/on-demand/{second['id']}/playback-ids", params={"playbackId": pid}), 404)
    error_of(api.patch(f"/on-demand/{second['id']}/playback-ids/{pid}/domains", json={}), 404)
    error_of(other_api.get(f"{base}/{pid}"), 404)
    error_of(other_api.get(base), 404)
    error_of(other_api.post(base, json={"accessPolicy": "public"}), 404)
    error_of(api.get(f"/on-demand/{uuid.uuid4()}/playback-ids"), 404)

    assert api.delete(base, params={"playbackId": pid}).json() == {"success": True}
    error_of(api.get(f"{base}/{pid}"), 404)


def test_sdk_signing_keys(fp: Fastpix, other_api: httpx.Client) -> None:
    created = fp.signing_keys.create_signing_key().data
    private = serialization.load_pem_private_key(base64.b64decode(created.private_key), password=None)
    assert private.key_size == 2048 and created.created_at is not None

    listed = fp.signing_keys.list_signing_keys(limit=10, offset=1)
    assert [k.id for k in listed.data] == [created.id]
    assert listed.pagination.total_records == 1 and listed.pagination.offset_count == 1
    assert "privateKey" not in listed.model_dump_json(by_alias=True)

    got = fp.signing_keys.get_signing_key_by_id(signing_key_id=created.id).data
    assert got.signing_key_id == created.id and got.workspace_id
    public = serialization.load_pem_public_key(base64.b64decode(got.public_key))
    assert public.public_numbers() == private.public_key().public_numbers()

    error_of(other_api.get(f"/iam/signing-keys/{created.id}"), 404)
    error_of(other_api.delete(f"/iam/signing-keys/{created.id}"), 404)
    assert other_api.get("/iam/signing-keys").json()["data"] == []

    assert fp.signing_keys.delete_signing_key(signing_key_id=created.id).success is True
    with pytest.raises(errors.SigningKeyNotFoundError):
        fp.signing_keys.get_signing_key_by_id(signing_key_id=created.id)
    with pytest.raises(errors.SigningKeyNotFoundError):
        fp.signing_keys.delete_signing_key(signing_key_id=created.id)
    with pytest.raises(errors.ValidationErrorResponse):
        fp.signing_keys.get_signing_key_by_id(signing_key_id="not-a-uuid")
    assert fp.signing_keys.list_signing_keys().data == []


def test_signing_key_wire_shapes(api: httpx.Client) -> None:
    created = api.post("/iam/signing-keys").json()
    assert created["success"] is True and set(created["data"]) == {"id", "privateKey", "createdAt"}
    assert base64.b64decode(created["data"]["privateKey"]).startswith(b"-----BEGIN PRIVATE KEY-----")
    listed = api.get("/iam/signing-keys", params={"limit": 1, "offset": 1}).json()
    assert listed["data"] == [{"id": created["data"]["id"], "createdAt": created["data"]["createdAt"]}]
    assert listed["pagination"] == {"totalRecords": 1, "currentOffset": 1, "offsetCount": 1}
    assert invalid_fields(api.delete("/iam/signing-keys/nope")) == ["signingKeyId"]


# ---------------------------------------------------------------- enforcement on stream URLs


def test_private_playback_needs_a_valid_token(
    server: Server, api: httpx.Client, other_api: httpx.Client, file_server: str
) -> None:
    media_id, pid = ready_media(api, file_server)
    other_pid = api.post(f"/on-demand/{media_id}/playback-ids", json={"accessPolicy": "private"}).json()["data"]["id"]
    key, deleted_key, foreign_key = new_key(api), new_key(api), new_key(other_api)
    assert api.delete(f"/iam/signing-keys/{deleted_key[0]}").status_code == 200

    assert statuses(play(server, pid, mint(key, pid))) == [200, 200, 200, 200]
    assert statuses(play(server, pid, mint(key, pid, kid_in_header=False))) == [200, 200, 200, 200]
    assert statuses(play(server, pid, mint(key, pid, expires_in=-2))) == [200, 200, 200, 200]  # within the leeway
    response = httpx.get(master_url(server, pid), params={"token": mint(key, pid)})
    assert response.headers["cache-control"].startswith("private")

    refused = {
        "no token": None,
        "expired": mint(key, pid, expires_in=-60),
        "not yet valid": mint(key, pid, nbf=int(time.time()) + 60),
        "another playback ID": mint(key, other_pid),
        "no expiry": jwt.encode({"aud": f"media:{pid}"}, key[1], algorithm="RS256", headers={"kid": key[0]}),
        "deleted key": mint(deleted_key, pid),
        "another workspace's key": mint(foreign_key, pid),
        "wrong key for the kid": mint((key[0], deleted_key[1]), pid),
        "unknown kid": mint((str(uuid.uuid4()), key[1]), pid),
        "garbage": "not.a.jwt",
        "unsigned": jwt.encode({"aud": f"media:{pid}", "exp": int(time.time()) + 60, "kid": key[0]}, None,
                               algorithm="none"),
    }
    for case, token in refused.items():
        response = httpx.get(master_url(server, pid), params={"token": token} if token else None)
        assert error_of(response, 403), case

    # the token guards segments too, not just the master playlist
    variant = play(server, pid, mint(key, pid))[1]
    segment_url = str(variant.url).split("?")[0].rsplit("/", 1)[0] + "/" + m3u8.loads(variant.text).segments[0].uri
    assert httpx.get(segment_url).status_code == 200
    assert httpx.get(segment_url.split("?")[0]).status_code == 403
    assert httpx.get(segment_url.split("?")[0], params={"token": mint(key, other_pid)}).status_code == 403

    # revoking the key stops tokens it signed at once
    token = mint(key, pid)
    assert httpx.get(master_url(server, pid), params={"token": token}).status_code == 200
    assert api.delete(f"/iam/signing-keys/{key[0]}").status_code == 200
    assert httpx.get(master_url(server, pid), params={"token": token}).status_code == 403


def test_domain_rules_are_enforced(server: Server, api: httpx.Client, file_server: str) -> None:
    media_id, pid = ready_media(api, file_server, "public")
    rules = f"/on-demand/{media_id}/playback-ids/{pid}/domains"
    assert api.patch(rules, json={"defaultPolicy": "deny", "allow": ["example.com", "*.cdn.test"]}).status_code == 200

    for headers in ({"Origin": "https://example.com"}, {"Referer": "https://example.com/watch?v=1"},
                    {"Origin": "https://a.b.cdn.test:8443"}, {"Origin": "HTTPS://EXAMPLE.COM"}):
        assert statuses(play(server, pid, **headers)) == [200, 200, 200, 200], headers
    for headers in ({}, {"Origin": "https://evil.test"}, {"Referer": "https://cdn.test/"},
                    {"Origin": "https://example.com.evil.test"}, {"Referer": "::not a url"}):
        error_of(play(server, pid, **headers)[0], 403)
    # Origin is the site playing the media; a Referer does not override it
    error_of(play(server, pid, Origin="https://evil.test", Referer="https://example.com/")[0], 403)

    assert api.patch(rules, json={"defaultPolicy": "allow", "allow": [], "deny": ["*.evil.test"]}).status_code == 200
    assert statuses(play(server, pid)) == [200, 200, 200, 200]
    assert statuses(play(server, pid, Origin="https://evil.test")) == [200, 200, 200, 200]
    error_of(play(server, pid, Origin="https://www.evil.test")[0], 403)
    error_of(play(server, pid, Origin="https://WWW.Evil.Test.")[0], 403)  # one host, however it is spelt

    # segments are checked, not just playlists
    variant = play(server, pid)[1]
    segment_url = str(variant.url).rsplit("/", 1)[0] + "/" + m3u8.loads(variant.text).segments[0].uri
    assert httpx.get(segment_url).status_code == 200
    error_of(httpx.get(segment_url, headers={"Referer": "https://www.evil.test/"}), 403)


@pytest.mark.parametrize("page", [
    "https://evil.com.", "https://EVIL.COM.:8443", "https://Evil.Com/watch", "https://www.bad.test.",
    "https://ｅｖｉｌ.com", "https://xn--bcher-kva.example", "https://BÜCHER.example.",
])
def test_deny_rules_match_every_spelling_of_a_host(page: str) -> None:
    rules = {"defaultPolicy": "allow", "deny": ["evil.com", "*.bad.test", "bücher.example"]}
    assert domain_permits(rules, page) is False


@pytest.mark.parametrize("page", ["https://good.com", "https://bad.test", "https://evil.com.good.com"])
def test_deny_rules_match_nothing_else(page: str) -> None:
    assert domain_permits({"defaultPolicy": "allow", "deny": ["evil.com", "*.bad.test"]}, page) is True


def test_user_agent_rules_are_enforced(server: Server, api: httpx.Client, file_server: str) -> None:
    media_id, pid = ready_media(api, file_server, "public")
    rules = f"/on-demand/{media_id}/playback-ids/{pid}/user-agents"
    assert api.patch(rules, json={"defaultPolicy": "allow", "deny": ["curl", "Wget"]}).status_code == 200
    assert statuses(play(server, pid, **{"User-Agent": "Mozilla/5.0 Firefox/130"})) == [200, 200, 200, 200]
    error_of(play(server, pid, **{"User-Agent": "curl/8.5"})[0], 403)
    error_of(play(server, pid, **{"User-Agent": "GNU wget/1.21"})[0], 403)

    assert api.patch(rules, json={"defaultPolicy": "deny", "allow": ["firefox"], "deny": []}).status_code == 200
    assert statuses(play(server, pid, **{"User-Agent": "Mozilla/5.0 Firefox/130"})) == [200, 200, 200, 200]
    error_of(play(server, pid, **{"User-Agent": "Mozilla/5.0 Chrome/128"})[0], 403)
    variant = play(server, pid, **{"User-Agent": "Firefox"})[1]
    segment_url = str(variant.url).rsplit("/", 1)[0] + "/" + m3u8.loads(variant.text).segments[0].uri
    error_of(httpx.get(segment_url, headers={"User-Agent": "curl/8.5"}), 403)


def test_deleting_a_playback_id_stops_only_its_urls(server: Server, api: httpx.Client, file_server: str) -> None:
    media_id, pid = ready_media(api, file_server, "public")
    other = api.post(f"/on-demand/{media_id}/playback-ids", json={"accessPolicy": "public"}).json()["data"]["id"]
    before = play(server, pid)
    assert statuses(before) == [200, 200, 200, 200]

    assert api.delete(f"/on-demand/{media_id}/playback-ids", params={"playbackId": pid}).status_code == 200
    for response in before:
        assert httpx.get(response.url).status_code == 404, response.url
    assert statuses(play(server, other)) == [200, 200, 200, 200]

    assert api.delete(f"/on-demand/{media_id}").status_code == 200
    assert httpx.get(master_url(server, other)).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/stream/{pid}x.m3u8",
        "/stream/{upper}.m3u8",
        "/stream/%2e%2e%2f{pid}.m3u8",
        "/stream/{pid}/..%2F..%2Fdb.sqlite3",
        "/stream/{pid}/%2e%2e/%2e%2e/original",
        "/stream/{pid}/v240/..%2Findex.m3u8",
        "/stream/{pid}/v240/seg_00000.m4s%00.txt",
        "/stream/{pid}/v240%2F..%2F..%2F/index.m3u8",
    ],
)
def test_malformed_playback_ids_and_traversal_are_404(server: Server, api: httpx.Client, file_server: str,
                                                      path: str) -> None:
    _, pid = ready_media(api, file_server)
    token = mint(new_key(api), pid)
    url = server.url + path.format(pid=pid, upper=pid.upper())
    assert httpx.get(url, params={"token": token}).status_code == 404


def test_restricted_answers_are_never_shared_by_a_cdn_and_refusals_reach_browsers(api, server, file_server):
    _, private = ready_media(api, file_server)
    token = mint(new_key(api), private)
    for response in play(server, private, token):
        assert response.status_code == 200 and response.headers["cache-control"].startswith("private")
    _, public = ready_media(api, file_server, policy="public")
    segment = play(server, public)[-1]
    assert segment.headers["cache-control"] == "public, max-age=31536000, immutable"
    refused = httpx.get(master_url(server, private))
    assert refused.status_code == 403 and refused.headers["access-control-allow-origin"] == "*"
    missing = httpx.get(f"{server.url}/stream/{private}/v9999/index.m3u8", params={"token": token})
    assert missing.status_code == 404 and missing.headers["access-control-allow-origin"] == "*"
    head = httpx.head(master_url(server, public))
    assert head.status_code == 200 and head.content == b""


def test_a_playback_id_with_a_resolution_plays_no_higher_rung(api, server, file_server, clips):
    make_clip(clips / "hd.mp4", width=960, height=720, gop=25)
    created = create_media(api, f"{file_server}/hd.mp4", accessPolicy="public")
    wait_for(api, created["id"], lambda m: m["status"] == "Ready")
    full_id = created["playbackIds"][0]["id"]
    capped = api.post(f"/on-demand/{created['id']}/playback-ids", json={"accessPolicy": "public", "resolution": "480p"})
    capped_id = capped.json()["data"]["id"]
    deadline = time.monotonic() + 120
    while len(m3u8.loads(httpx.get(master_url(server, full_id)).text).playlists) < 3:
        assert time.monotonic() < deadline, "the ladder never landed"
        time.sleep(0.2)
    heights = [p.stream_info.resolution[1] for p in m3u8.loads(httpx.get(master_url(server, capped_id)).text).playlists]
    assert heights == [360, 480]
    assert httpx.get(f"{server.url}/stream/{capped_id}/v720/index.m3u8").status_code == 404
    assert httpx.get(f"{server.url}/stream/{full_id}/v720/index.m3u8").status_code == 200
