"""Outbound HTTP that user-supplied URLs cannot aim at the platform's own network.

Pull URLs and webhook targets come from API callers, so every connection is an
SSRF risk. The guard lives in the network backend: it resolves the host itself,
checks every address, and dials the checked IP, so a DNS answer that changes
between validation and connection (rebinding) cannot slip through. TLS still
verifies the original hostname because httpcore passes it to ``start_tls``.
"""

from __future__ import annotations

import ipaddress
import pathlib
import socket
import ssl
import string
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpcore

from reelhouse.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

_DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443}
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Characters h11 accepts in a request target; anything else gets percent-encoded.
_TARGET_SAFE = string.punctuation


class FetchError(Exception):
    """A fetch failed; ``str()`` is a reason fit to show whoever supplied the URL."""


class BlockedAddressError(FetchError):
    """The target is on a network the platform must not reach on a caller's behalf."""


_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the gateway dials the IPv4 address in the last 32 bits
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d


def _reached(addr: IPAddress) -> list[IPAddress]:
    """Every address a connection to `addr` reaches: an IPv6 address that carries an IPv4 one (mapped, NAT64,
    compatible, 6to4, Teredo's server and client) reaches that IPv4 address too, or only it."""
    if isinstance(addr, ipaddress.IPv4Address):
        return [addr]
    last32 = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr.ipv4_mapped is not None or addr in _NAT64:
        return [last32]
    if addr in _IPV4_COMPATIBLE and addr not in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")):
        return [addr, last32]
    if addr.sixtofour is not None:
        return [addr, addr.sixtofour]
    if addr.teredo is not None:
        return [addr, *addr.teredo]
    return [addr]


def _is_special(addr: IPAddress) -> bool:
    """True for anything that is not a plain public unicast address: IPv6 outside 2000::/3 (site-local fec0::/10,
    unique local, ...) included, which some Python versions call global."""
    if isinstance(addr, ipaddress.IPv6Address) and addr not in _GLOBAL_UNICAST_V6:
        return True
    return (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or not addr.is_global  # e.g. 100.64.0.0/10 (carrier-grade NAT)
    )


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses outbound requests may reach.

    ``allowed_networks`` punches holes for deliberate internal targets (an
    intranet media host) without opening up every private range; ``resolver``
    lets tests map fake hostnames without touching real DNS.
    """

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    resolver: Resolver | None = None

    @classmethod
    def of(cls, settings: Settings) -> AddressPolicy:
        """The policy the settings ask for: `allow_private_urls` and `allowed_networks`."""
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in settings.allowed_networks)
        return cls(allow_private=settings.allow_private_urls, allowed_networks=networks)

    def check_ip(self, ip: str) -> None:
        """Raise BlockedAddressError unless ``ip`` may be contacted."""
        if self.allow_private:
            return
        for addr in _reached(ipaddress.ip_address(ip)):
            if _is_special(addr) and not any(addr in net for net in self.allowed_networks):
                raise BlockedAddressError(f"URL points to a private or reserved address ({ip})")

    def resolve(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` and return its addresses, all of them checked.

        Every address is checked, not just the first, because the one the
        connection ends up using is not ours to predict.
        """
        try:
            ips = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                ips = (self.resolver or _system_resolver)(host, port)
            except (OSError, UnicodeError) as exc:
                raise FetchError(f"could not resolve host {host}") from exc
        if not ips:
            raise FetchError(f"could not resolve host {host}")
        for ip in ips:
            self.check_ip(ip)
        return ips


@dataclass(frozen=True)
class _Target:
    """A URL reduced to exactly the parts httpcore uses, so what is checked is what is dialled."""

    scheme: str
    host: str
    port: int
    authority: str
    path: str

    @property
    def url(self) -> httpcore.URL:
        return httpcore.URL(scheme=self.scheme, host=self.host, port=self.port, target=self.path)


def _parse_url(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        explicit_port = parts.port
    except ValueError as exc:
        raise FetchError(f"invalid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise FetchError("only http and https URLs can be fetched")
    if "@" in parts.netloc:
        raise FetchError("URL must not contain a user name or password")
    if not parts.hostname:
        raise FetchError("URL has no host")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise FetchError(f"invalid host in URL: {parts.hostname}") from exc
    port = _DEFAULT_PORTS[scheme] if explicit_port is None else explicit_port
    if not 0 < port < 65536:
        raise FetchError(f"invalid port in URL: {port}")
    authority = f"[{host}]" if ":" in host else host
    if port != _DEFAULT_PORTS[scheme]:
        authority += f":{port}"
    path = quote(parts.path or "/", safe=_TARGET_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_TARGET_SAFE)
    return _Target(scheme, host, port, authority, path)


def check_url(url: str, policy: AddressPolicy) -> None:
    """Reject a URL up front, so an API caller hears about a bad pull URL immediately.

    This is advisory: ``download`` checks again at connect time, because DNS
    may answer differently by then.
    """
    target = _parse_url(url)
    policy.resolve(target.host, target.port)


def _clamp(timeout: float | None, deadline: float | None, error: type[Exception]) -> float | None:
    """Shrink a per-operation timeout so it cannot run past the overall deadline."""
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise error("deadline exceeded")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """Bounds every socket operation by one wall-clock deadline.

    Per-read timeouts alone let a peer that trickles a byte at a time hold a
    request open forever, headers included.
    """

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, self._deadline, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, self._deadline, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _clamp(timeout, self._deadline, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout), self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves and checks the host itself, then dials the checked IP (no rebinding window)."""

    def __init__(self, policy: AddressPolicy, deadline: float | None = None) -> None:
        self._policy = policy
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        *fallbacks, last = self._policy.resolve(host, port)
        for ip in fallbacks:
            try:
                return self._dial(ip, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue
        return self._dial(last, port, timeout, local_address, socket_options)

    def _dial(
        self,
        ip: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.NetworkStream:
        timeout = _clamp(timeout, self._deadline, httpcore.ConnectTimeout)
        stream = super().connect_tcp(ip, port, timeout, local_address, socket_options)
        return stream if self._deadline is None else _DeadlineStream(stream, self._deadline)


def _pool(policy: AddressPolicy, deadline: float | None = None) -> httpcore.ConnectionPool:
    # httpcore never reads proxy settings from the environment, so nothing can route around the guard.
    return httpcore.ConnectionPool(network_backend=_GuardedBackend(policy, deadline))


@contextmanager
def _user_facing_errors(host: str) -> Iterator[None]:
    """Turn httpcore's transport exceptions into reasons an end user can act on."""
    try:
        yield
    except httpcore.ConnectTimeout as exc:
        raise FetchError(f"timed out connecting to {host}") from exc
    except httpcore.WriteTimeout as exc:
        raise FetchError(f"timed out sending to {host}") from exc
    except httpcore.TimeoutException as exc:
        raise FetchError(f"timed out reading from {host}") from exc
    except httpcore.ConnectError as exc:
        raise FetchError(f"could not connect to {host} ({exc})") from exc
    except httpcore.RemoteProtocolError as exc:
        raise FetchError(f"{host} closed the connection before the response was complete") from exc
    except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
        raise FetchError(f"connection to {host} failed ({exc})") from exc


def _header(response: httpcore.Response, name: bytes) -> str | None:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


@dataclass(frozen=True)
class DownloadResult:
    final_url: str
    content_type: str | None
    size: int


def download(
    url: str,
    dest: pathlib.Path,
    policy: AddressPolicy,
    *,
    max_bytes: int,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    max_redirects: int = 5,
    user_agent: str = "reelhouse",
) -> DownloadResult:
    """Stream a media file at ``url`` into ``dest``, following redirects by hand.

    Each redirect hop goes through the same address checks, memory stays flat
    in file size, and on any failure ``dest`` is removed so nothing
    half-written is mistaken for media.
    """
    timeouts = {"connect": connect_timeout, "read": read_timeout, "write": read_timeout}
    try:
        with _pool(policy) as pool:
            for _ in range(max_redirects + 1):
                target = _parse_url(url)
                headers = {
                    "Host": target.authority,
                    "User-Agent": user_agent,
                    "Accept": "*/*",
                    "Accept-Encoding": "identity",
                }
                with (
                    _user_facing_errors(target.host),
                    pool.stream("GET", target.url, headers=headers, extensions={"timeout": timeouts}) as response,
                ):
                    location = _header(response, b"location")
                    if response.status not in _REDIRECT_STATUSES or location is None:
                        size = _save(response, dest, max_bytes)
                        return DownloadResult(url, _header(response, b"content-type"), size)
                url = urljoin(url, location)
            raise FetchError(f"URL redirected more than {max_redirects} times")
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


def _save(response: httpcore.Response, dest: pathlib.Path, max_bytes: int) -> int:
    """Write an acceptable media response to ``dest`` and return its size."""
    if not 200 <= response.status < 300:
        raise FetchError(f"URL answered HTTP {response.status}")
    content_type = _header(response, b"content-type") or ""
    if content_type.split(";")[0].strip().lower() == "text/html":
        raise FetchError("URL returned an HTML page, not a media file")
    too_large = FetchError(f"file is larger than the {max_bytes} byte limit")
    declared = _header(response, b"content-length")
    if declared is not None and int(declared) > max_bytes:
        raise too_large
    size = 0
    with dest.open("wb") as out:
        for chunk in response.iter_stream():
            size += len(chunk)
            if size > max_bytes:
                raise too_large
            out.write(chunk)
    if size == 0:
        raise FetchError("URL returned an empty body")
    return size


@dataclass(frozen=True)
class PostResult:
    status: int
    headers: dict[str, str]
    body_excerpt: str
    elapsed_ms: float


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    policy: AddressPolicy,
    *,
    timeout: float = 15.0,
    max_response_bytes: int = 4096,
) -> PostResult:
    """Deliver a webhook: one POST, no redirects, a bounded response, a hard deadline.

    A 3xx is returned as-is since following it would let a receiver bounce
    the signed payload elsewhere. ``timeout`` bounds the whole exchange, so a
    receiver that trickles bytes cannot tie up a delivery worker.
    """
    started = time.monotonic()
    target = _parse_url(url)
    request_headers = {"Host": target.authority, **headers}
    timeouts = {"connect": timeout, "read": timeout, "write": timeout}
    with (
        _pool(policy, deadline=started + timeout) as pool,
        _user_facing_errors(target.host),
        pool.stream(
            "POST", target.url, headers=request_headers, content=body, extensions={"timeout": timeouts}
        ) as response,
    ):
        excerpt = _read_prefix(response.iter_stream(), max_response_bytes)
    response_headers: dict[str, str] = {}
    for key, value in response.headers:
        name = key.decode("latin-1").lower()
        text = value.decode("latin-1")
        response_headers[name] = f"{response_headers[name]}, {text}" if name in response_headers else text
    return PostResult(
        status=response.status,
        headers=response_headers,
        body_excerpt=excerpt.decode("utf-8", errors="replace"),
        elapsed_ms=(time.monotonic() - started) * 1000,
    )


def _read_prefix(chunks: Iterator[bytes], limit: int) -> bytes:
    """Read at most ``limit`` bytes, leaving the rest unread (the connection is then dropped)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) >= limit:
            break
    return bytes(buffer[:limit])
