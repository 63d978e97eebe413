"""Settings: `REELHOUSE_*` environment variables, overridable by CLI flags.

One object carries every knob so the API, the workers and the CLI agree on them.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from reelhouse.net.fetch import AddressPolicy

GiB = 1024**3


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REELHOUSE_", extra="ignore")

    data_dir: Path = Path("reelhouse-data")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir")
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(default=None, description="externally visible base URL; default http://HOST:PORT")

    allow_private_urls: bool = False
    allowed_networks: list[str] = Field(default_factory=list, description="networks pulls may reach even when private")
    max_source_bytes: int = 20 * GiB
    download_connect_timeout: float = 10.0
    download_read_timeout: float = 30.0
    download_max_redirects: int = 5

    upload_default_timeout: int = 14400
    upload_max_timeout: int = 86400

    processes: int = Field(default=1, ge=1, description="API processes `serve` runs, each with its own workers")
    workers: int = Field(default=2, ge=0, description="embedded job worker threads per process; 0 runs none")
    job_lease_seconds: float = Field(default=30.0, gt=0)
    job_max_attempts: int = Field(default=3, ge=1)
    ffmpeg_path: str | None = None

    webhook_workers: int = Field(default=8, ge=0, description="endpoints delivered to in parallel; 0 delivers none")
    webhook_timeout: float = Field(default=15.0, gt=0, description="seconds one delivery attempt may take in all")
    webhook_retry_base: float = Field(default=10.0, gt=0, description="seconds before the first retry; doubles each time")
    webhook_retry_window: float = Field(default=86400.0, gt=0, description="seconds a failing delivery is retried")
    webhook_secret_grace: float = Field(default=86400.0, ge=0, description="seconds a rotated-out secret still signs")
    ffmpeg_timeout_factor: float = Field(default=10.0, gt=0, description="ffmpeg may run this many times the media's duration per unit of work")

    speech_model: str = Field(default="tiny.en", description="packaged Whisper model (tiny.en, base), a faster-whisper model already in the Hugging Face cache, or a CTranslate2 model directory")
    speech_model_sha256: str | None = Field(default=None, description="expected SHA-256 of model.bin when speech_model is not packaged")
    speech_device: Literal["cpu", "cuda", "auto"] = "cpu"
    speech_compute_type: str | None = Field(default=None, description="CTranslate2 compute type; default int8 on CPU, float16 on CUDA")
    summary_llm_url: str | None = Field(default=None, description="base URL of an OpenAI-compatible API for abstractive summaries, e.g. http://127.0.0.1:11434/v1")
    summary_llm_model: str | None = None
    summary_llm_api_key: str | None = None

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allowed_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value

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

    @cached_property
    def address_policy(self) -> AddressPolicy:
        return AddressPolicy(
            allow_private=self.allow_private_urls,
            allowed_networks=tuple(ipaddress.ip_network(n, strict=False) for n in self.allowed_networks),
        )
