"""The transport every operation goes through: configuration, auth, retries, error mapping, parsing."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
import pydantic

from reelhouse_sdk import errors
from reelhouse_sdk.retries import DEFAULT_RETRIES, RETRY_STATUSES, RetryConfig, retry_after

T = TypeVar("T")
USER_AGENT = "reelhouse-sdk/python 0.1.0"
DEFAULT_TIMEOUT_MS = 60_000
SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})  # repeating one changes nothing more


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Security:
    """HTTP Basic credentials: the access token id and its secret key."""

    username: str
    password: str

    def __post_init__(self) -> None:
        if not isinstance(self.username, str) or not isinstance(self.password, str) or not self.username:
            raise TypeError("Security needs username (token id) and password (secret key) as strings")


@dataclass(frozen=True)
class RequestOptions:
    """Per-call options: `retries` (a RetryConfig, or None for no retries), `timeout_ms`, extra `headers`."""

    retries: RetryConfig | None = UNSET
    timeout_ms: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.retries is not UNSET and self.retries is not None and not isinstance(self.retries, RetryConfig):
            raise TypeError("RequestOptions.retries must be a RetryConfig or None")
        if self.timeout_ms is not None and (not isinstance(self.timeout_ms, int) or self.timeout_ms <= 0):
            raise ValueError("RequestOptions.timeout_ms must be a positive number of milliseconds")


@dataclass(frozen=True)
class Operation(Generic[T]):
    """One API call, described: built by `reelhouse_sdk.operations`, sent by `ReelhouseCore.send`."""

    method: str
    path: str
    response: type[T]
    query: Mapping[str, Any] | None = None
    body: Any = None
    idempotency_key: str | None = None
    errors: Mapping[int, type[errors.FastpixDefaultError]] = field(default_factory=dict)

    @property
    def repeatable(self) -> bool:
        """Safe to send again after a response or a dropped connection: not a POST, or a POST with a key."""
        return self.method in SAFE_METHODS or self.idempotency_key is not None


def api_base(server_url: str) -> str:
    """`http://host:port`, `…/`, `…/v1` and `…/v1/` all mean the API at `http://host:port/v1`."""
    if not isinstance(server_url, str) or not server_url.startswith(("http://", "https://")):
        raise ValueError(f"server_url must be an http(s) URL, not {server_url!r}")
    base = server_url.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


def _security(security: Security | Mapping[str, str] | None) -> Security:
    if isinstance(security, Security):
        return security
    if isinstance(security, Mapping):
        unknown = set(security) - {"username", "password"}
        if unknown:
            raise TypeError(f"security takes 'username' and 'password', not {sorted(unknown)}")
        return Security(**security)
    if security is not None:
        raise TypeError("security must be a Security or a dict with username and password")
    token_id, secret = os.environ.get("REELHOUSE_TOKEN_ID"), os.environ.get("REELHOUSE_TOKEN_SECRET")
    if not token_id or not secret:
        raise ValueError("no credentials: pass security=Security(username=TOKEN_ID, password=SECRET) "
                         "or set REELHOUSE_TOKEN_ID and REELHOUSE_TOKEN_SECRET")
    return Security(token_id, secret)


class ReelhouseCore:
    """The configuration and transport, without namespaces: what the standalone functions in
    `reelhouse_sdk.funcs` take. One instance can serve a whole application; close it (or use `with`)."""

    def __init__(
        self,
        security: Security | Mapping[str, str] | None = None,
        server_url: str | None = None,
        retry_config: RetryConfig | None = UNSET,
        timeout_ms: int | None = None,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        debug_logger: logging.Logger | None = None,
    ) -> None:
        self.security = _security(security)
        self.server_url = api_base(server_url or os.environ.get("REELHOUSE_URL") or "http://127.0.0.1:8000")
        self.origin = self.server_url.removesuffix("/v1")
        if retry_config is not UNSET and retry_config is not None and not isinstance(retry_config, RetryConfig):
            raise TypeError("retry_config must be a RetryConfig or None")
        self.retry_config: RetryConfig | None = DEFAULT_RETRIES if retry_config is UNSET else retry_config
        self.timeout_ms = timeout_ms or DEFAULT_TIMEOUT_MS
        self._own_client, self._own_async_client = client is None, async_client is None
        self._client = client
        self._async_client = async_client
        self.logger = debug_logger or logging.getLogger("reelhouse_sdk")
        self._auth = httpx.BasicAuth(self.security.username, self.security.password)

    # --- lifecycle ---

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(headers={"User-Agent": USER_AGENT})
        return self._client

    @property
    def async_client(self) -> httpx.AsyncClient:
        if self._async_client is None:
            self._async_client = httpx.AsyncClient(headers={"User-Agent": USER_AGENT})
        return self._async_client

    def close(self) -> None:
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        self.close()
        if self._own_async_client and self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None

    def __enter__(self) -> ReelhouseCore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> ReelhouseCore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- sending ---

    def send(self, op: Operation[T], options: RequestOptions | None = None) -> T:
        """Sends `op` (retrying as configured) and returns its parsed response; raises a ReelhouseError."""
        retries, request_args = self._prepare(op, options)
        started, attempt = time.monotonic(), 0
        while True:
            response, failure = None, None
            try:
                response = self.client.request(**request_args)
            except httpx.HTTPError as exc:
                failure = exc
            delay = self._retry_delay(op, retries, attempt, started, response, failure)
            if delay is None:
                return self._finish(op, response, failure)
            time.sleep(delay)
            attempt += 1

    async def send_async(self, op: Operation[T], options: RequestOptions | None = None) -> T:
        retries, request_args = self._prepare(op, options)
        started, attempt = time.monotonic(), 0
        while True:
            response, failure = None, None
            try:
                response = await self.async_client.request(**request_args)
            except httpx.HTTPError as exc:
                failure = exc
            delay = self._retry_delay(op, retries, attempt, started, response, failure)
            if delay is None:
                return self._finish(op, response, failure)
            await asyncio.sleep(delay)
            attempt += 1

    def _prepare(self, op: Operation[Any], options: RequestOptions | None) -> tuple[RetryConfig | None, dict]:
        if options is not None and not isinstance(options, RequestOptions):
            raise TypeError("options must be a RequestOptions")
        options = options or RequestOptions()
        retries = self.retry_config if options.retries is UNSET else options.retries
        headers = {"Accept": "application/json", **options.headers}
        if op.idempotency_key is not None:
            headers["Idempotency-Key"] = op.idempotency_key
        query = {k: v for k, v in (op.query or {}).items() if v is not None}
        args: dict[str, Any] = {
            "method": op.method, "url": self.server_url + op.path, "params": query, "headers": headers,
            "auth": self._auth, "timeout": (options.timeout_ms or self.timeout_ms) / 1000,
        }
        if op.body is not None:
            args["json"] = op.body
        self.logger.debug("%s %s", op.method, args["url"])
        return retries, args

    def _retry_delay(
        self, op: Operation[Any], retries: RetryConfig | None, attempt: int, started: float,
        response: httpx.Response | None, failure: httpx.HTTPError | None,
    ) -> float | None:
        """Seconds to wait before sending again, or None to stop here."""
        if retries is None or not retries.enabled:
            return None
        policy = retries.policy
        if failure is not None:
            never_arrived = isinstance(failure, httpx.ConnectError | httpx.ConnectTimeout)
            if not retries.retry_connection_errors or not (never_arrived or op.repeatable):
                return None
            delay = policy.delay(attempt)
        elif response is not None and response.status_code in RETRY_STATUSES and op.repeatable:
            asked = retry_after(response.headers.get("retry-after"), policy.max_elapsed_time / 1000)
            delay = asked if asked is not None else policy.delay(attempt)
        else:
            return None
        if (time.monotonic() - started + delay) * 1000 > policy.max_elapsed_time:
            return None
        self.logger.debug("retrying %s %s in %.2f s (attempt %d)", op.method, op.path, delay, attempt + 1)
        return delay

    def _finish(self, op: Operation[T], response: httpx.Response | None, failure: httpx.HTTPError | None) -> T:
        if failure is not None or response is None:
            where = f"{op.method} {self.server_url}{op.path}"
            if isinstance(failure, httpx.TimeoutException):
                raise errors.TimeoutError(f"{where}: no response in time ({failure})") from failure
            raise errors.ConnectionError(f"{where}: {failure or 'no response'}") from failure
        self.logger.debug("%s %s -> %s", op.method, op.path, response.status_code)
        if response.status_code >= 400:
            raise errors.from_response(response, dict(op.errors))
        return parse(op.response, response)


def parse(model: type[T], response: httpx.Response) -> T:
    """The response body as `model`; a body that is not that JSON is an UnexpectedResponseError, never a
    parsing traceback."""
    try:
        return model.model_validate_json(response.content)  # type: ignore[attr-defined]
    except pydantic.ValidationError as exc:
        kind = response.headers.get("content-type", "no content type")
        raise errors.UnexpectedResponseError(
            f"HTTP {response.status_code} ({kind}) is not a valid {model.__name__}: "
            f"{errors.excerpt(response.text) or 'empty body'}", status_code=response.status_code,
            raw_response=response,
        ) from exc
