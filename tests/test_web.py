"""The dashboard over plain HTTP: sign-in, lockout, sessions and CSRF, escaping, workspaces, security headers,
the embed page's access rules, and the `users` commands."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from reelhouse.cli import main
from reelhouse.settings import Settings
from reelhouse.testing import Server
from reelhouse.web.session import clock
from tests.conftest import settled, wait_for
from tests.web_helpers import PASSWORD, make_user


def signed_in(server: Server, email: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=30)
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    response = client.post("/login", data={"email": email, "password": password, "csrf": csrf, "next": "/"})
    assert response.status_code == 303, response.text
    return client


def page_csrf(client: httpx.Client, path: str = "/") -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text).group(1)


@pytest.fixture
def person(settings: Settings, server: Server) -> Iterator[httpx.Client]:
    client = signed_in(server, make_user(settings, "ana@example.com"))
    yield client
    client.close()


def test_a_visitor_is_sent_to_sign_in_and_a_session_cookie_is_http_only(settings: Settings, server: Server) -> None:
    anonymous = httpx.get(f"{server.url}/media/00000000-0000-0000-0000-000000000000")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=%2Fmedia%2F")
    make_user(settings, "ana@example.com")
    with httpx.Client(base_url=server.url) as client:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        response = client.post("/login", data={"email": "ana@example.com", "password": PASSWORD, "csrf": csrf,
                                                "next": "https://evil.example/"})
        assert response.status_code == 303 and response.headers["location"] == "/"  # no open redirect
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        library = client.get("/")
        assert library.status_code == 200 and "Your library is empty" in library.text
        client.post("/logout", data={"csrf": page_csrf(client)})
        assert client.get("/").status_code == 303


def test_repeated_wrong_passwords_lock_the_account(settings: Settings, server: Server) -> None:
    make_user(settings, "ana@example.com")
    with httpx.Client(base_url=server.url) as client:
        def attempt(password: str) -> httpx.Response:
            csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
            return client.post("/login", data={"email": "ana@example.com", "password": password, "csrf": csrf})

        for _ in range(5):
            wrong = attempt("wrong password")
            assert wrong.status_code == 401 and "Wrong email or password." in wrong.text
        attempt("wrong password")
        locked = attempt(PASSWORD)
        assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text


def test_state_changes_need_the_csrf_token(server: Server, person: httpx.Client) -> None:
    body = {"pushMediaSettings": {"accessPolicy": "public"}}
    refused = person.post("/v1/on-demand/upload", json=body)
    assert refused.status_code == 403 and refused.json()["error"]["message"] == "CSRF token missing or wrong"
    csrf = page_csrf(person)
    assert person.post("/v1/on-demand/upload", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert person.post("/developers/tokens", data={"name": "forged"}).status_code == 403
    assert "forged" not in person.get("/developers").text
    made = person.post("/developers/tokens", data={"name": "mine", "csrf": csrf})
    assert made.status_code == 200 and 'data-testid="new-token-secret"' in made.text
    with httpx.Client(base_url=server.url) as stranger:  # a sign-in form posted without its cookie
        forged = stranger.post("/login", data={"email": "ana@example.com", "password": PASSWORD, "csrf": "x"})
        assert forged.status_code == 403 and "reelhouse_session" not in forged.headers.get("set-cookie", "")


def test_titles_are_escaped_and_other_workspaces_stay_hidden(
    settings: Settings, server: Server, person: httpx.Client, api: httpx.Client, file_server: str
) -> None:
    title = "<script>alert(1)</script>"
    created = api.post("/on-demand", json={"inputs": [{"type": "video", "url": f"{file_server}/clip.mp4"}],
                                           "accessPolicy": "public", "title": title}).json()["data"]
    wait_for(api, created["id"], settled)
    library = person.get("/").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in library and title not in library
    assert title not in person.get(f"/media/{created['id']}").text

    other = signed_in(server, make_user(settings, "bo@example.com", workspace="Other"))
    assert other.get(f"/media/{created['id']}").status_code == 404
    assert other.get(f"/v1/on-demand/{created['id']}").status_code == 404
    assert other.get(f"/ui/status?ids={created['id']}").json() == {}
    assert created["id"] not in other.get("/").text
    other.close()


def test_pages_deny_framing_and_inline_scripts_except_the_embed(
    server: Server, person: httpx.Client, api: httpx.Client, file_server: str
) -> None:
    library = person.get("/")
    csp = library.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert library.headers["x-frame-options"] == "DENY"
    asset = re.search(r'src="(/assets/[^"]+/app\.js)"', library.text).group(1)
    assert "immutable" in httpx.get(f"{server.url}{asset}").headers["cache-control"]

    created = api.post("/on-demand", json={"inputs": [{"type": "video", "url": f"{file_server}/clip.mp4"}],
                                           "accessPolicy": "public"}).json()["data"]
    media = wait_for(api, created["id"], lambda m: m["status"] == "Ready")
    public = media["playbackIds"][0]["id"]
    embed = httpx.get(f"{server.url}/embed/{public}")
    assert embed.status_code == 200 and "frame-ancestors *" in embed.headers["content-security-policy"]
    assert "x-frame-options" not in embed.headers and f"/stream/{public}.m3u8" in embed.text
    private = api.post(f"/on-demand/{created['id']}/playback-ids", json={"accessPolicy": "private"}).json()["data"]
    refused = httpx.get(f"{server.url}/watch/{private['id']}")
    assert refused.status_code == 403 and "private" in refused.text


def test_users_commands(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    data = ["--data-dir", str(settings.data_dir)]
    made = runner.invoke(main, ["users", "create", "--email", "Cy@Example.com", "--password-stdin", *data],
                         input="long enough\n")
    assert made.exit_code == 0, made.output
    again = runner.invoke(main, ["users", "create", "--email", "cy@example.com", "--password-stdin", *data],
                          input="long enough\n")
    assert again.exit_code != 0 and "already exists" in again.output
    short = runner.invoke(main, ["users", "passwd", "cy@example.com", "--password-stdin", *data], input="short\n")
    assert short.exit_code != 0 and "at least 8" in short.output
    assert runner.invoke(main, ["users", "passwd", "cy@example.com", "--password-stdin", *data],
                         input="another long one\n").exit_code == 0
    assert "cy@example.com" in runner.invoke(main, ["users", "list", *data]).output
    assert runner.invoke(main, ["users", "rm", "cy@example.com", *data]).exit_code == 0
    assert "cy@example.com" not in runner.invoke(main, ["users", "list", *data]).output


def test_share_links_reuse_one_workspace_key_until_it_is_deleted(
    server: Server, person: httpx.Client, api: httpx.Client, file_server: str
) -> None:
    created = api.post("/on-demand", json={"inputs": [{"type": "video", "url": f"{file_server}/clip.mp4"}],
                                           "accessPolicy": "private"}).json()["data"]
    wait_for(api, created["id"], lambda m: m["status"] == "Ready")
    private = created["playbackIds"][0]["id"]

    def share() -> str:
        form = {"csrf": page_csrf(person), "playbackId": private, "expires": "1h"}
        answer = person.post(f"/media/{created['id']}/share", data=form)
        assert answer.status_code == 200, answer.text
        return re.search(r'value="([^"]+)" data-testid="share-url"', answer.text).group(1)

    first, second = share(), share()
    keys = api.get("/iam/signing-keys").json()["data"]
    assert len(keys) == 1  # both links signed with the workspace's one share key
    assert httpx.get(first.replace("&amp;", "&")).status_code == 200
    assert httpx.get(second.replace("&amp;", "&")).status_code == 200

    assert api.delete(f"/iam/signing-keys/{keys[0]['id']}").status_code in (200, 204)
    assert httpx.get(first.replace("&amp;", "&")).status_code == 403  # deleting the key revoked its links
    third = share()
    assert httpx.get(third.replace("&amp;", "&")).status_code == 200
    assert [k["id"] for k in api.get("/iam/signing-keys").json()["data"]] != [keys[0]["id"]]


@pytest.mark.parametrize(("seconds", "shown"), [(None, "—"), ("2.00", "0:02"), (59.6, "1:00"), (754.0, "12:34"),
                                                 (3723.4, "1:02:03")])
def test_lengths_read_as_a_clock(seconds: float | str | None, shown: str) -> None:
    assert clock(seconds) == shown
