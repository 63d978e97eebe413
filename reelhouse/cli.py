"""`reelhouse` command line: run the server, manage access tokens."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from reelhouse.db.engine import Database
from reelhouse.settings import Settings
from reelhouse.tokens import DEFAULT_WORKSPACE, active_tokens, create_token, revoke


def load_settings(**overrides: Any) -> Settings:
    """Environment first, flags win; a flag left out keeps the environment's value."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def open_db(settings: Settings) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    db.migrate()
    return db


data_dir_option = click.option(
    "--data-dir", type=click.Path(path_type=Path), default=None, help="Data directory [env REELHOUSE_DATA_DIR]"
)


@click.group()
@click.version_option(package_name="reelhouse")
def main() -> None:
    """reelhouse: self-hosted on-demand video with a FastPix-compatible API."""


@main.command()
@click.option("--host", default=None, help="Interface to listen on [env REELHOUSE_HOST, default 127.0.0.1]")
@click.option("--port", type=int, default=None, help="Port [env REELHOUSE_PORT, default 8000]")
@data_dir_option
def serve(host: str | None, port: int | None, data_dir: Path | None) -> None:
    """Run the API and the embedded workers."""
    import uvicorn

    from reelhouse.app import create_app

    settings = load_settings(host=host, port=port, data_dir=data_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db = open_db(settings)
    with db.write() as session:
        if not active_tokens(session):
            token, secret = create_token(session, name="first")
            click.echo("Created an access token (the secret is shown only now):")
            click.echo(f"  token id: {token.id}")
            click.echo(f"  secret:   {secret}")
    db.dispose()
    click.echo(f"reelhouse API on {settings.base_url}/v1  (data in {settings.data_dir.resolve()})")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


@main.group()
def tokens() -> None:
    """Manage access tokens (HTTP Basic: token id + secret)."""


@tokens.command("create")
@click.option("--name", default="", help="A label to recognise the token by")
@click.option("--workspace", default=DEFAULT_WORKSPACE, show_default=True, help="Workspace, created if new")
@click.option("--json", "as_json", is_flag=True, help='Print exactly one JSON object {"id": ..., "secret": ...}')
@data_dir_option
def tokens_create(name: str, workspace: str, as_json: bool, data_dir: Path | None) -> None:
    """Create a token; its secret is printed once and never stored."""
    db = open_db(load_settings(data_dir=data_dir))
    with db.write() as session:
        token, secret = create_token(session, workspace=workspace, name=name)
        token_id = token.id
    db.dispose()
    if as_json:
        click.echo(json.dumps({"id": token_id, "secret": secret}))
    else:
        click.echo(f"token id: {token_id}\nsecret:   {secret}")


@tokens.command("list")
@data_dir_option
def tokens_list(data_dir: Path | None) -> None:
    """List active tokens (secrets are never shown again)."""
    db = open_db(load_settings(data_dir=data_dir))
    with db.read() as session:
        for token in active_tokens(session):
            click.echo(f"{token.id}  {token.workspace.name:<16}  {token.name:<16}  {token.created_at:%Y-%m-%d %H:%M}")
    db.dispose()


@tokens.command("revoke")
@click.argument("token_id")
@data_dir_option
def tokens_revoke(token_id: str, data_dir: Path | None) -> None:
    """Revoke a token: requests using it get 401 from now on."""
    db = open_db(load_settings(data_dir=data_dir))
    with db.write() as session:
        found = revoke(session, token_id)
    db.dispose()
    if not found:
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"revoked {token_id}")
