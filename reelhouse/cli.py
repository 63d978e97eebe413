"""`reelhouse` command line: run the server, manage access tokens and webhook endpoints."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from reelhouse import backup, logs, media_commands
from reelhouse.db.engine import migrated
from reelhouse.db.models import Webhook, WebhookDelivery, Workspace
from reelhouse.jobs.dispatch import ALL_QUEUES
from reelhouse.net.fetch import AddressPolicy
from reelhouse.settings import Settings
from reelhouse.storage import StorageError, open_storage, storage_at
from reelhouse.storage.migrate import migrate
from reelhouse.tokens import DEFAULT_WORKSPACE, active_tokens, create_token, revoke, workspace_named
from reelhouse.users import UserError, all_users, create_user, find_user, set_password
from reelhouse.webhooks import endpoints
from reelhouse.wire.webhooks import check_events

FIRST_ADMIN = "admin@localhost"


def load_settings(**overrides: Any) -> Settings:
    """Environment first, flags win; a flag left out keeps the environment's value."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


data_dir_option = click.option(
    "--data-dir", type=click.Path(path_type=Path), default=None, help="Data directory [env REELHOUSE_DATA_DIR]"
)


@click.group()
@click.version_option(package_name="reelhouse")
def main() -> None:
    """reelhouse: self-hosted on-demand video with a FastPix-compatible API."""


def check_storage(settings: Settings) -> None:
    """A wrong storage URL or an unreachable bucket stops `serve` and `worker` here, in one line naming the setting."""
    try:
        open_storage(settings)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None


def check_broker(settings: Settings) -> None:
    """A configured broker must answer before anything starts: one clear line naming the setting otherwise."""
    if not settings.broker_url:
        return
    from reelhouse.jobs.celery_app import BrokerUnreachable, dispatcher_for

    dispatcher = dispatcher_for(settings)
    assert dispatcher is not None
    try:
        dispatcher.check()
    except BrokerUnreachable as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--host", default=None, help="Interface to listen on [env REELHOUSE_HOST, default 127.0.0.1]")
@click.option("--port", type=int, default=None, help="Port [env REELHOUSE_PORT, default 8000]")
@click.option("--processes", type=int, default=None,
              help="API processes, each with its own job and webhook workers [env REELHOUSE_PROCESSES, default 1]")
@click.option("--no-workers", is_flag=True,
              help="Serve the API only; jobs and webhooks run elsewhere (`reelhouse worker`, or another `serve`)")
@data_dir_option
def serve(host: str | None, port: int | None, processes: int | None, no_workers: bool, data_dir: Path | None) -> None:
    """Run the API and, without a broker, the embedded workers."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    settings = load_settings(host=host, port=port, processes=processes, data_dir=data_dir,
                             **({"workers": 0, "webhook_workers": 0} if no_workers else {}))
    check_storage(settings)  # before logging is configured: a refusal is one line, not the AWS client's chatter
    check_broker(settings)
    logs.configure(settings.log_format)
    with migrated(settings) as db, db.write() as session:
        if not active_tokens(session):
            token, secret = create_token(session, name="first")
            click.echo("Created an access token (the secret is shown only now):")
            click.echo(f"  token id: {token.id}")
            click.echo(f"  secret:   {secret}")
        if not all_users(session):
            password = secrets.token_urlsafe(12)
            admin = create_user(session, FIRST_ADMIN, password, is_admin=True)
            click.echo("Created a dashboard admin (sign in, then change the password with `reelhouse users passwd`):")
            click.echo(f"  email:    {admin.email}")
            click.echo(f"  password: {password}")
    click.echo(f"reelhouse API on {settings.base_url}/v1  (data in {settings.data_dir.resolve()})")
    click.echo(f"dashboard on {settings.base_url}/")
    if settings.broker_url:
        click.echo("jobs and webhook deliveries run in `reelhouse worker` processes (REELHOUSE_BROKER_URL is set)")
    # Granian, not uvicorn: it sends a file a response names (ASGI `http.response.pathsend`) from its own threads,
    # so segments and downloads leave without passing through Python. Every process, the only one included, builds
    # its settings from the environment, so the flags go there first. The processes share nothing but the database
    # and storage, which already coordinate jobs and deliveries between machines, and a folder where each keeps its
    # metrics for /metrics to add up.
    metrics_dir = settings.data_dir.resolve() / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ.update(REELHOUSE_HOST=settings.host, REELHOUSE_PORT=str(settings.port),
                      REELHOUSE_DATA_DIR=str(settings.data_dir.resolve()), PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
                      REELHOUSE_WORKERS=str(settings.workers), REELHOUSE_WEBHOOK_WORKERS=str(settings.webhook_workers))
    Granian("reelhouse.app:app_from_environment", factory=True, interface=Interfaces.ASGI, workers=settings.processes,
            runtime_threads=settings.io_threads, address=settings.host, port=settings.port, log_level=LogLevels.info,
            workers_kill_timeout=10).serve()


@main.command()
@click.option("--concurrency", type=click.IntRange(min=1), default=None,
              help="Jobs run at once [env REELHOUSE_WORKERS, default 2]")
@click.option("--queues", default=",".join(ALL_QUEUES), show_default=True,
              help="Comma-separated queues to serve: transcode (ingest, transcoding, MP4, tracks), ai (speech, "
                   "summaries, chapters), webhooks (deliveries)")
@click.option("--metrics-port", type=int, default=None,
              help="Serve this worker's Prometheus metrics (job durations, webhook lag) on HOST:PORT/metrics")
@data_dir_option
def worker(concurrency: int | None, queues: str, metrics_port: int | None, data_dir: Path | None) -> None:
    """Run jobs and webhook deliveries handed out by the broker (REELHOUSE_BROKER_URL); run one per machine."""
    settings = load_settings(data_dir=data_dir)
    if not settings.broker_url:
        raise click.ClickException("REELHOUSE_BROKER_URL is not set: without a broker, `reelhouse serve` runs the jobs")
    wanted = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(wanted) - set(ALL_QUEUES))
    if unknown or not wanted:
        raise click.BadParameter(f"unknown queue {', '.join(unknown)}; choose from {', '.join(ALL_QUEUES)}"
                                 if unknown else "name at least one queue", param_hint="--queues")
    check_storage(settings)
    check_broker(settings)
    logs.configure(settings.log_format)
    from reelhouse.jobs.celery_app import CeleryWorker

    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=settings.host)
    CeleryWorker(settings, wanted, concurrency or settings.workers or 1).run()


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
    with migrated(load_settings(data_dir=data_dir)) as db, db.write() as session:
        token, secret = create_token(session, workspace=workspace, name=name)
        token_id = token.id
    if as_json:
        click.echo(json.dumps({"id": token_id, "secret": secret}))
    else:
        click.echo(f"token id: {token_id}\nsecret:   {secret}")


@tokens.command("list")
@data_dir_option
def tokens_list(data_dir: Path | None) -> None:
    """List active tokens (secrets are never shown again)."""
    with migrated(load_settings(data_dir=data_dir)) as db, db.read() as session:
        for token in active_tokens(session):
            click.echo(f"{token.id}  {token.workspace.name:<16}  {token.name:<16}  {token.created_at:%Y-%m-%d %H:%M}")


@tokens.command("revoke")
@click.argument("token_id")
@data_dir_option
def tokens_revoke(token_id: str, data_dir: Path | None) -> None:
    """Revoke a token: requests using it get 401 within a second (running servers re-check revocations each second)."""
    with migrated(load_settings(data_dir=data_dir)) as db, db.write() as session:
        found = revoke(session, token_id)
    if not found:
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"revoked {token_id}")


@main.group()
def webhooks() -> None:
    """Manage webhook endpoints: where events are POSTed, signed with each endpoint's secret."""


def webhook_or_fail(session: Session, webhook_id: str) -> Webhook:
    endpoint = session.get(Webhook, webhook_id)
    if endpoint is None:
        raise click.ClickException(f"no webhook {webhook_id}")
    return endpoint


@webhooks.command("add")
@click.argument("url")
@click.option("--events", default=None, help="Comma-separated event types to send [default: every type]")
@click.option("--workspace", default=DEFAULT_WORKSPACE, show_default=True, help="Workspace, created if new")
@data_dir_option
def webhooks_add(url: str, events: str | None, workspace: str, data_dir: Path | None) -> None:
    """Add an endpoint; its signing secret is printed now and again only on rotation."""
    settings = load_settings(data_dir=data_dir)
    try:
        endpoints.check_target(url, AddressPolicy.of(settings))
        wanted = None if events is None else check_events([e.strip() for e in events.split(",") if e.strip()])
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    with migrated(settings) as db, db.write() as session:
        endpoint = endpoints.create(session, workspace_named(session, workspace).id, url, wanted)
        webhook_id, secret = endpoint.id, endpoint.secret
    click.echo(f"webhook id: {webhook_id}\nsecret:     {secret}")


@webhooks.command("list")
@data_dir_option
def webhooks_list(data_dir: Path | None) -> None:
    """List the endpoints of every workspace (secrets are not shown)."""
    with migrated(load_settings(data_dir=data_dir)) as db, db.read() as session:
        rows = session.execute(
            select(Webhook, Workspace.name).join(Workspace, Workspace.id == Webhook.workspace_id)
            .order_by(Webhook.created_at)
        ).all()
        for endpoint, workspace in rows:
            state = "enabled" if endpoint.enabled else "disabled"
            events = ",".join(endpoint.events) if endpoint.events else "*"
            click.echo(f"{endpoint.id}  {workspace:<16}  {state:<8}  {endpoint.url}  {events}")


@webhooks.command("rm")
@click.argument("webhook_id")
@data_dir_option
def webhooks_rm(webhook_id: str, data_dir: Path | None) -> None:
    """Remove an endpoint and the deliveries still owed to it."""
    with migrated(load_settings(data_dir=data_dir)) as db, db.write() as session:
        session.delete(webhook_or_fail(session, webhook_id))
    click.echo(f"removed {webhook_id}")


@webhooks.command("rotate-secret")
@click.argument("webhook_id")
@data_dir_option
def webhooks_rotate_secret(webhook_id: str, data_dir: Path | None) -> None:
    """Print a new signing secret; the old one keeps signing too for REELHOUSE_WEBHOOK_SECRET_GRACE seconds."""
    settings = load_settings(data_dir=data_dir)
    with migrated(settings) as db, db.write() as session:
        endpoint = webhook_or_fail(session, webhook_id)
        endpoints.rotate_secret(endpoint, timedelta(seconds=settings.webhook_secret_grace))
        secret = endpoint.secret
    click.echo(f"secret: {secret}")


@webhooks.command("deliveries")
@click.argument("webhook_id")
@click.option("--limit", default=20, show_default=True, help="How many of the newest deliveries to show")
@data_dir_option
def webhooks_deliveries(webhook_id: str, limit: int, data_dir: Path | None) -> None:
    """The newest deliveries to an endpoint, each followed by its attempts."""
    with migrated(load_settings(data_dir=data_dir)) as db, db.read() as session:
        webhook_or_fail(session, webhook_id)
        rows = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.event_seq.desc()).limit(limit)
        ).all()
        for delivery in rows:
            click.echo(f"{delivery.id}  {delivery.event.type:<36}  {delivery.status:<9}  {delivery.object_id}")
            for attempt in delivery.log:
                outcome = f"HTTP {attempt.status_code}" if attempt.status_code else attempt.error
                click.echo(f"    #{attempt.number}  {attempt.started_at:%Y-%m-%d %H:%M:%S}  "
                           f"{attempt.latency_ms:>6} ms  {outcome}")


@webhooks.command("redeliver")
@click.argument("webhook_id")
@click.argument("delivery_id")
@data_dir_option
def webhooks_redeliver(webhook_id: str, delivery_id: str, data_dir: Path | None) -> None:
    """Send a delivery again now, whatever became of it; the running server picks it up within a second."""
    with migrated(load_settings(data_dir=data_dir)) as db, db.write() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.webhook_id != webhook_id:
            raise click.ClickException(f"no delivery {delivery_id} to webhook {webhook_id}")
        endpoints.redeliver(session, delivery)
    click.echo(f"queued {delivery_id} again")


@main.group("storage")
def storage_group() -> None:
    """Stored objects: move a library to another backend."""


@storage_group.command("migrate")
@click.option("--to", "target_url", required=True, help="Storage URL to copy every object to, e.g. s3://bucket/prefix")
@data_dir_option
def storage_migrate(target_url: str, data_dir: Path | None) -> None:
    """Copy every object from the configured storage (REELHOUSE_STORAGE_URL) to another, verifying each by size and
    SHA-256. Safe to re-run: identical objects are skipped. Then set REELHOUSE_STORAGE_URL to the target."""
    settings = load_settings(data_dir=data_dir)
    try:
        source = open_storage(settings)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        target = storage_at(target_url)
        target.check()
    except StorageError as exc:
        raise click.ClickException(f"--to: {exc}") from None
    try:
        done = migrate(source, target, lambda key, size: click.echo(f"copied {key} ({size} bytes)"))
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{done.copied} objects copied ({done.copied_bytes} bytes), {done.present} already there; "
               f"every object verified by size and SHA-256.")
    click.echo(f"Next: set REELHOUSE_STORAGE_URL={target_url} and restart reelhouse.")


@main.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@data_dir_option
def backup_command(dest: Path, data_dir: Path | None) -> None:
    """Snapshot the database and copy every stored object into DEST (a new directory), while the server runs."""
    settings = load_settings(data_dir=data_dir)
    try:
        done = backup.backup(settings, open_storage(settings), dest)
    except (backup.BackupError, StorageError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backed up the {done.database} database and {done.objects} objects ({done.object_bytes} bytes) "
               f"into {dest}")


@main.command("restore")
@click.argument("src", type=click.Path(path_type=Path, exists=True, file_okay=False))
@data_dir_option
def restore_command(src: Path, data_dir: Path | None) -> None:
    """Bring a backup into the configured database (a fresh one) and storage; then start `reelhouse serve`."""
    settings = load_settings(data_dir=data_dir)
    try:
        done = backup.restore(settings, open_storage(settings), src)
    except (backup.BackupError, StorageError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored the {done.database} database and {done.objects} objects ({done.object_bytes} bytes) "
               f"from {src}")


@main.group()
def users() -> None:
    """Manage the people who sign in to the dashboard."""


def read_password(from_stdin: bool) -> str:
    """From standard input (one line) with --password-stdin, else prompted twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("create")
@click.option("--email", required=True, help="The address the person signs in with")
@click.option("--workspace", default=DEFAULT_WORKSPACE, show_default=True, help="Workspace, created if new")
@click.option("--admin", is_flag=True, help="Mark the user as an administrator")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting")
@data_dir_option
def users_create(email: str, workspace: str, admin: bool, password_stdin: bool, data_dir: Path | None) -> None:
    """Create a user who sees exactly what the workspace's access tokens see."""
    password = read_password(password_stdin)
    with migrated(load_settings(data_dir=data_dir)) as db, db.write() as session:
        try:
            user = create_user(session, email, password, workspace=workspace, is_admin=admin)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"created {user.email} in workspace {workspace}")


@users.command("list")
@data_dir_option
def users_list(data_dir: Path | None) -> None:
    """List users with their workspace."""
    with migrated(load_settings(data_dir=data_dir)) as db, db.read() as session:
        for user in all_users(session):
            role = "admin" if user.is_admin else "user"
            click.echo(f"{user.email:<32}  {user.workspace.name:<16}  {role:<5}  {user.created_at:%Y-%m-%d %H:%M}")


@users.command("rm")
@click.argument("email")
@data_dir_option
def users_rm(email: str, data_dir: Path | None) -> None:
    """Remove a user; their sessions end at once."""
    with migrated(load_settings(data_dir=data_dir)) as db, db.write() as session:
        user = find_user(session, email)
        if user is None:
            raise click.ClickException(f"no user {email}")
        session.delete(user)
    click.echo(f"removed {email}")


@users.command("passwd")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting")
@data_dir_option
def users_passwd(email: str, password_stdin: bool, data_dir: Path | None) -> None:
    """Set a user's password; signs them out everywhere and lifts a lockout."""
    password = read_password(password_stdin)
    with migrated(load_settings(data_dir=data_dir)) as db, db.write() as session:
        user = find_user(session, email)
        if user is None:
            raise click.ClickException(f"no user {email}")
        try:
            set_password(session, user, password)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"password changed for {email}")


main.add_command(media_commands.media)
main.add_command(media_commands.uploads)
