"""Settings: `REELHOUSE_*` environment variables, overridable by CLI flags.

One object carries every knob so the API, the workers and the CLI agree on them.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MiB = 1024**2
GiB = 1024**3


class Settings(BaseSettings):
    """Each field's description is its help text: the README's settings table lists them all (tests/test_docs.py)."""

    model_config = SettingsConfigDict(env_prefix="REELHOUSE_", extra="ignore")

    data_dir: Path = Field(default=Path("reelhouse-data"), description="directory for the SQLite database, stored objects and scratch space")
    database_url: str | None = Field(default=None, description="SQLAlchemy database URL, e.g. postgresql+psycopg2://…; default the SQLite file reelhouse.db in data_dir")
    host: str = Field(default="127.0.0.1", description="interface `serve` listens on")
    port: int = Field(default=8000, description="TCP port `serve` listens on")
    public_url: str | None = Field(default=None, description="externally visible base URL, used in upload, stream and image URLs and webhook payloads; default http://HOST:PORT")

    allow_private_urls: bool = Field(default=False, description="let pulls, track URLs and webhooks reach loopback and private addresses")
    allowed_networks: Annotated[list[str], NoDecode] = Field(default_factory=list, description="comma-separated networks (CIDR, or a JSON list) that pulls, track URLs and webhooks may reach even when private, e.g. a LAN NAS")
    max_source_bytes: int = Field(default=20 * GiB, description="bytes an upload, pulled file or track file may have at most")
    max_source_duration: float = Field(default=43200.0, gt=0, description="seconds of media an input may play for at most; longer ones fail at ingest with the reason")
    max_source_pixels: int = Field(default=8192 * 4320, gt=0, description="pixels (width × height) a video frame may have at most; larger ones fail at ingest with the reason")
    max_request_bytes: int = Field(default=MiB, gt=0, description="bytes an API request body may have at most; larger ones get 413 before they are read or authenticated (uploads are bounded by max_source_bytes)")
    auth_failure_limit: int = Field(default=10, ge=1, description="failed authentications allowed per client address and per access token id in auth_failure_window; more get 429 with Retry-After (each API process counts its own)")
    auth_failure_window: float = Field(default=60.0, gt=0, description="seconds over which failed authentications are counted")
    download_connect_timeout: float = Field(default=10.0, description="seconds a download (pull or track URL) may take to connect")
    download_read_timeout: float = Field(default=30.0, description="seconds a download may wait for the server between reads or writes")
    download_max_redirects: int = Field(default=5, description="redirects a download follows before it fails")

    upload_default_timeout: int = Field(default=14400, description="seconds a direct upload URL stays valid when the request sets no timeout")
    upload_max_timeout: int = Field(default=86400, description="longest timeout, in seconds, a direct upload request may set")

    processes: int = Field(default=1, ge=1, description="API processes `serve` runs, each with its own workers")
    io_threads: int = Field(default=2, ge=1, description="threads per API process that move bytes between sockets and files (the server's runtime threads); with one, file sends are held to one core's speed")
    workers: int = Field(default=2, ge=0, description="embedded job worker threads per process; 0 runs none")
    job_lease_seconds: float = Field(default=30.0, gt=0, description="seconds a job's claim lasts without renewal; a dead worker's job is picked up again after this")
    workspace_max_running_jobs: int = Field(default=8, ge=1, description="jobs one workspace may have running at once, across all workers; more wait queued, so one tenant's bulk upload cannot starve the others")
    job_max_attempts: int = Field(default=3, ge=1, description="attempts a job gets before an error or a dying worker fails it for good")
    broker_url: str | None = Field(default=None, description="Celery broker (redis://… or amqp://…) that hands jobs and webhook deliveries to `reelhouse worker` processes; default none: `serve` runs them in its own threads")
    log_format: Literal["text", "json"] = Field(default="text", description="log lines as text, or as JSON objects with the request id and job id, for log collectors")
    ffmpeg_path: str | None = Field(default=None, description="ffmpeg to run (a path or a name on PATH); default the one bundled with imageio-ffmpeg")

    webhook_workers: int = Field(default=8, ge=0, description="webhook endpoints delivered to in parallel per process; 0 delivers none")
    webhook_timeout: float = Field(default=15.0, gt=0, description="seconds one webhook delivery attempt may take in all")
    webhook_retry_base: float = Field(default=10.0, gt=0, description="seconds before a webhook's first retry; doubles each time, up to an hour")
    webhook_retry_window: float = Field(default=86400.0, gt=0, description="seconds a failing webhook delivery is retried")
    webhook_secret_grace: float = Field(default=86400.0, ge=0, description="seconds a rotated-out webhook secret still signs")
    chunk_seconds: float = Field(default=60.0, ge=4, description="seconds of source each chunk of a long encode covers: a source that plays for at least twice this is cut at keyframes into chunks that workers encode in parallel (a re-encoded ladder, or the smaller rungs after a stream copy)")
    encoder_threads: int = Field(default=0, ge=0, description="threads each H.264 encoder may use; 0 lets x264 choose (about one per core)")
    ffmpeg_timeout_factor: float = Field(default=10.0, gt=0, description="seconds an ffmpeg run may take per second of media (scaled by how much work the job does), plus a minute or two")

    speech_model: str = Field(default="base", description="packaged Whisper model (base, tiny.en), a faster-whisper model already in the Hugging Face cache, or a CTranslate2 model directory")
    speech_model_english: str = Field(default="tiny.en", description="the model for speech known to be English (faster than a multilingual one); empty: speech_model")
    speech_model_sha256: str | None = Field(default=None, description="expected SHA-256 of model.bin, checked on loading when speech_model is not packaged")
    speech_device: Literal["cpu", "cuda", "auto"] = Field(default="cpu", description="where speech recognition runs: cpu, cuda, or auto (cuda when a GPU is found)")
    speech_compute_type: str | None = Field(default=None, description="CTranslate2 compute type; default int8 on CPU, float16 on CUDA")
    summary_llm_url: str | None = Field(default=None, description="base URL of an OpenAI-compatible API for abstractive summaries, e.g. http://127.0.0.1:11434/v1")
    summary_llm_model: str | None = Field(default=None, description="model name sent to the summary API; default none, the server picks")
    summary_llm_api_key: str | None = Field(default=None, description="bearer token sent to the summary API; default none")

    storage_url: str | None = Field(default=None, description="where objects live: file:///path, or s3://bucket/prefix for S3-compatible storage configured by the standard AWS_* variables (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); default file://DATA_DIR/objects")
    playback_redirect: str = Field(default="off", description="off: playback proxies stored objects; presigned: segment, MP4, source and thumbnail answers redirect (302) to a presigned S3 URL; or a base URL such as https://cdn.example.com/ that public media's object keys are appended to (restricted media stays proxied)")
    playback_redirect_seconds: int = Field(default=3600, ge=60, le=604800, description="seconds a presigned playback URL stays valid")
    accel_redirect: str | None = Field(default=None, description="an nginx `internal` location, such as /_objects/, that serves the objects directory (deploy/nginx.conf): playback then answers a file on local disk with its headers and `X-Accel-Redirect`, after its access checks, and nginx sends the bytes with sendfile. Only for a server every client reaches through that nginx; default off")

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        """The environment's raw string (NoDecode): a JSON list, or networks separated by commas."""
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError(f"REELHOUSE_ALLOWED_NETWORKS is not a JSON list: {exc}") from None
        return [part.strip() for part in value.split(",") if part.strip()]

    @field_validator("allowed_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(
                    f"REELHOUSE_ALLOWED_NETWORKS: {network!r} is not a network such as 10.0.0.0/8 or 192.168.1.20"
                ) from None
        return value

    @field_validator("playback_redirect")
    @classmethod
    def _check_redirect(cls, value: str) -> str:
        if value in ("off", "presigned") or value.startswith(("https://", "http://")):
            return value
        raise ValueError(f"REELHOUSE_PLAYBACK_REDIRECT: {value!r} is not off, presigned or an http(s):// base URL")

    @field_validator("accel_redirect")
    @classmethod
    def _check_accel(cls, value: str | None) -> str | None:
        if value is None or (value.startswith("/") and value.endswith("/")):
            return value
        raise ValueError(f"REELHOUSE_ACCEL_REDIRECT: {value!r} is not a location that starts and ends with /")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'reelhouse.db').resolve()}"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def scratch_dir(self) -> Path:
        return self.data_dir / "scratch"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
