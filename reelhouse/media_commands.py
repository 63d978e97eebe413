"""`reelhouse media …` and `reelhouse uploads …`: the media API from a terminal, over HTTP through reelhouse_sdk,
against any reelhouse (or FastPix). Human tables by default, `--json` for scripts; an error is one line on
stderr and exit status 1."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel
from reelhouse_sdk import BackoffStrategy, Reelhouse, RetryConfig, errors
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 1000)  # piped: whole ids, never truncated


def connection(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --server/--token-id/--token-secret/--json, hands the command a client, turns SDK errors into one line."""

    @click.option("--server", envvar="REELHOUSE_URL", default="http://127.0.0.1:8000", show_default=True,
                  help="Server URL [env REELHOUSE_URL]")
    @click.option("--token-id", envvar="REELHOUSE_TOKEN_ID", required=True, help="Access token id [env REELHOUSE_TOKEN_ID]")
    @click.option("--token-secret", envvar="REELHOUSE_TOKEN_SECRET", required=True,
                  help="Access token secret [env REELHOUSE_TOKEN_SECRET]")
    @click.option("--retry-for", type=click.FloatRange(min=0), default=30, show_default=True,
                  envvar="REELHOUSE_RETRY_FOR",
                  help="Seconds to keep retrying while the server is unreachable or busy; 0 never retries "
                       "[env REELHOUSE_RETRY_FOR]")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table")
    @functools.wraps(command)
    def wrapper(server: str, token_id: str, token_secret: str, retry_for: float, as_json: bool, **kwargs: Any) -> None:
        retries = RetryConfig("backoff", BackoffStrategy(500, 5_000, 2.0, int(retry_for * 1000)),
                              retry_connection_errors=True) if retry_for else None
        try:
            with Reelhouse(security={"username": token_id, "password": token_secret}, server_url=server,
                           retry_config=retries) as client:
                command(client, as_json, **kwargs)
        except (errors.ReelhouseError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def emit(value: Any, as_json: bool, columns: list[str] | None = None) -> None:
    """Models as JSON (wire field names) or, for people, a table of `columns`."""
    def plain(item: Any) -> Any:
        return item.model_dump(mode="json", by_alias=True, exclude_none=True) if isinstance(item, BaseModel) else item

    rows = value if isinstance(value, list) else [value]
    if as_json:
        click.echo(json.dumps([plain(r) for r in rows] if isinstance(value, list) else plain(value), indent=2))
        return
    table = Table(*(columns or []), box=None, header_style="bold")
    for row in rows:
        data = plain(row)
        table.add_row(*(str(data.get(c, "")) for c in columns or []))
    console.print(table)


MEDIA_COLUMNS = ["id", "status", "title", "duration", "createdAt"]


def given(**options: Any) -> dict[str, Any]:
    """The options the user passed: to the SDK a None is a `null` to send, a left-out field one to keep."""
    return {name: value for name, value in options.items() if value is not None}


def stream_url(client: Reelhouse, media: Any) -> str | None:
    public = [p for p in media.playback_ids if p.access_policy == "public"]
    return client.playback.stream_url(public[0].id) if public else None


@click.group()
def media() -> None:
    """Upload and manage media on a reelhouse server over its API."""


@media.command("upload")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--title", default=None, help="Title of the media (each file's name when left out)")
@click.option("--private", is_flag=True, help="A private playback id (needs a signed token to play)")
@click.option("--wait", is_flag=True, help="Wait until each media is Ready")
@connection
def media_upload(client: Reelhouse, as_json: bool, files: tuple[Path, ...], title: str | None, private: bool,
                 wait: bool) -> None:
    """Upload FILES resumably, with a progress bar each; print each media's id, status and stream URL."""
    for file in files:  # all are there before the first is sent
        if not file.is_file():
            raise click.ClickException(f"{file}: {'not a file' if file.exists() else 'no such file'}")
    results = []
    columns = [TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn()]
    with Progress(*columns, console=Console(stderr=True), disable=as_json) as bars:
        for file in files:
            task = bars.add_task(file.name, total=None)
            made = client.uploads.upload_file(
                file, title=title or file.name, access_policy="private" if private else "public",
                progress=lambda sent, total, task=task: bars.update(task, completed=sent, total=total))
            if wait:
                made = client.manage_videos.wait_until_ready(made.id)
            results.append({"id": made.id, "status": str(made.status), "title": made.title,
                            "streamUrl": stream_url(client, made)})
    emit(results, as_json, ["id", "status", "title", "streamUrl"])


@media.command("list")
@click.option("--limit", default=20, show_default=True, help="How many of the newest media to show")
@connection
def media_list(client: Reelhouse, as_json: bool, limit: int) -> None:
    """The newest media."""
    items = []
    for item in client.manage_videos.iter(limit=min(limit, 50)):
        if len(items) == limit:
            break
        items.append(item)
    emit(items, as_json, MEDIA_COLUMNS)


@media.command("get")
@click.argument("media_id")
@connection
def media_get(client: Reelhouse, as_json: bool, media_id: str) -> None:
    """One media, with its stream URL."""
    found = client.manage_videos.get(media_id=media_id).data
    if as_json:
        emit(found, True)
        return
    emit(found, False, MEDIA_COLUMNS)
    click.echo(f"stream: {stream_url(client, found) or '(no public playback id)'}")


@media.command("update")
@click.argument("media_id")
@click.option("--title", default=None)
@click.option("--creator-id", default=None)
@click.option("--meta", multiple=True, help="KEY=VALUE metadata entry, repeatable (replaces the metadata)")
@connection
def media_update(client: Reelhouse, as_json: bool, media_id: str, title: str | None, creator_id: str | None,
                 meta: tuple[str, ...]) -> None:
    """Change a media's title, creator id or metadata."""
    if any("=" not in m for m in meta):
        raise click.BadParameter("metadata entries are KEY=VALUE", param_hint="--meta")
    metadata = dict(m.split("=", 1) for m in meta) or None
    body = given(title=title, creator_id=creator_id, metadata=metadata)
    emit(client.manage_videos.update(media_id=media_id, body=body).data, as_json, MEDIA_COLUMNS)


@media.command("delete")
@click.argument("media_id")
@connection
def media_delete(client: Reelhouse, as_json: bool, media_id: str) -> None:
    """Delete a media for good."""
    client.manage_videos.delete(media_id=media_id)
    emit({"id": media_id, "deleted": True}, as_json, ["id", "deleted"])


@media.group("tracks")
def tracks() -> None:
    """Audio and subtitle tracks of a media."""


TRACK_COLUMNS = ["id", "type", "languageCode", "languageName", "status"]


@tracks.command("add")
@click.argument("media_id")
@click.argument("url")
@click.option("--type", "kind", type=click.Choice(["audio", "subtitle"]), required=True)
@click.option("--language", "language_code", required=True, help="Language code, e.g. en or it")
@click.option("--name", "language_name", required=True, help="Language name, e.g. English")
@connection
def tracks_add(client: Reelhouse, as_json: bool, media_id: str, url: str, kind: str, language_code: str,
               language_name: str) -> None:
    """Add a track from URL."""
    body = {"tracks": {"url": url, "type": kind, "language_code": language_code, "language_name": language_name}}
    emit(client.manage_videos.add_track(media_id=media_id, body=body).data, as_json, TRACK_COLUMNS)


@tracks.command("update")
@click.argument("media_id")
@click.argument("track_id")
@click.option("--url", default=None)
@click.option("--language", "language_code", default=None)
@click.option("--name", "language_name", default=None)
@connection
def tracks_update(client: Reelhouse, as_json: bool, media_id: str, track_id: str, url: str | None,
                  language_code: str | None, language_name: str | None) -> None:
    """Change a track's URL or language."""
    body = given(url=url, language_code=language_code, language_name=language_name)
    emit(client.manage_videos.update_track(media_id=media_id, track_id=track_id, body=body).data, as_json,
         TRACK_COLUMNS)


@tracks.command("rm")
@click.argument("media_id")
@click.argument("track_id")
@connection
def tracks_rm(client: Reelhouse, as_json: bool, media_id: str, track_id: str) -> None:
    """Remove a track."""
    client.manage_videos.delete_track(media_id=media_id, track_id=track_id)
    emit({"id": track_id, "deleted": True}, as_json, ["id", "deleted"])


@media.command("subtitles")
@click.argument("media_id")
@click.option("--language", "language_code", default="en-US", show_default=True, help="BCP-47 code, e.g. en-US")
@click.option("--name", "language_name", default="English", show_default=True)
@connection
def media_subtitles(client: Reelhouse, as_json: bool, media_id: str, language_code: str, language_name: str) -> None:
    """Generate subtitles from the media's first audio track by speech recognition."""
    found = client.manage_videos.get(media_id=media_id).data
    audio = next((t for t in found.tracks if t.type == "audio"), None)
    if audio is None or audio.id is None:
        raise click.ClickException(f"media {media_id} has no audio track")
    if "-" not in language_code:  # `--language en` as people type it
        language_code = {"en": "en-US"}.get(language_code, f"{language_code}-{language_code.upper()}")
    body = {"language_code": language_code, "language_name": language_name}
    made = client.manage_videos.generate_subtitle_track(media_id=media_id, track_id=audio.id, body=body).data
    emit(made, as_json, TRACK_COLUMNS)


@media.command("summary")
@click.argument("media_id")
@connection
def media_summary(client: Reelhouse, as_json: bool, media_id: str) -> None:
    """Print the media's generated summary."""
    text = client.manage_videos.get_summary(media_id=media_id).data
    click.echo(json.dumps({"summary": text}) if as_json else text)


@media.command("mp4")
@click.argument("media_id")
@click.argument("support", type=click.Choice(["capped-4k", "audio-only", "both", "none"]))
@connection
def media_mp4(client: Reelhouse, as_json: bool, media_id: str, support: str) -> None:
    """Turn MP4 downloads on or off."""
    value = {"capped-4k": "capped_4k", "audio-only": "audioOnly", "both": "audioOnly,capped_4k", "none": "none"}[support]
    emit(client.manage_videos.update_mp4_support(media_id=media_id, body={"mp4_support": value}).data, as_json,
         MEDIA_COLUMNS)


@click.group()
def uploads() -> None:
    """Direct uploads that have not become a media yet."""


@uploads.command("list")
@connection
def uploads_list(client: Reelhouse, as_json: bool) -> None:
    emit(list(client.manage_videos.iter_uploads()), as_json, ["uploadId", "status", "timeout"])


@uploads.command("cancel")
@click.argument("upload_id")
@connection
def uploads_cancel(client: Reelhouse, as_json: bool, upload_id: str) -> None:
    emit(client.manage_videos.cancel_upload(upload_id=upload_id).data, as_json, ["uploadId", "status"])
