"""Where webhooks may go: public internet addresses only, checked when an endpoint is registered and again,
after name resolution, on every connection.

Refused: loopback, unspecified (``0.0.0.0``, ``::``), private (RFC 1918), link-local (``169.254.0.0/16``, the
cloud metadata address among them; ``fe80::/10``), shared CGNAT space (``100.64.0.0/10``), unique-local IPv6
(``fc00::/7``), multicast, reserved and documentation ranges, IPv4 addresses embedded in IPv6 (mapped, 6to4,
Teredo, NAT64) that are any of these, and the names ``localhost`` and ``*.localhost``. A host written as a
number in any form a resolver accepts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``) is that address.

At registration the host is checked as written: a name's addresses can change, so a name is checked when it is
resolved for a connection (``GuardedTransport``), and the connection goes to the address that was checked —
a second, different answer from the name server (DNS rebinding) is never asked for. Every address a name
resolves to must pass.

``allow_private`` lifts all of this, for development against local receivers (``CANARY_WEBHOOK_ALLOW_PRIVATE``).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
MAX_RESPONSE_BYTES = 64 * 1024  # of a receiver's answer body, which is read and dropped
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class ForbiddenAddress(ValueError):
    """The host is, or resolves to, an address webhooks may not reach."""


def numeric_host(host: str) -> IPAddress | None:
    """The address ``host`` denotes when written as one (any IPv6 form, or IPv4 in any form ``inet_aton``
    accepts), else None."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host.replace(".", "").isalnum():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(address.packed[-4:])
    return None


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def check_host(host: str) -> None:
    """ForbiddenAddress when ``host`` as written (before any resolution) is not allowed."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        raise ForbiddenAddress(f"{host} is this machine (loopback)")
    address = numeric_host(name)
    if address is not None and not is_public(address):
        raise ForbiddenAddress(f"{host} is {address}, a loopback, private, link-local or reserved address")


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(host: str, port: int, resolver: Resolver = resolve) -> list[str]:
    """``host``'s addresses, all public, or ForbiddenAddress (also when it resolves to nothing)."""
    check_host(host)
    addresses = resolver(host, port)
    if not addresses:
        raise ForbiddenAddress(f"{host} resolves to no address")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%")[0])
        if not is_public(address):
            raise ForbiddenAddress(f"{host} resolves to {address}, a loopback, private, link-local or reserved "
                                   "address")
    return addresses


class RefusedConnection(httpcore.ConnectError):
    """The connection was not opened: its address is not allowed."""


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend, connecting only to checked addresses (the name resolved here, once)."""

    def __init__(self, allow_private: bool = False, resolver: Resolver = resolve) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        try:
            addresses = self.resolver(host, port) if self.allow_private else checked_addresses(host, port,
                                                                                              self.resolver)
        except ForbiddenAddress as refused:
            raise RefusedConnection(f"refused: {refused}") from refused
        except OSError as error:
            raise httpcore.ConnectError(f"{host} could not be resolved: {error}") from error
        last: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last = error
        assert last is not None
        raise last

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise RefusedConnection("webhooks do not use Unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport over ``GuardedBackend``: TLS still verifies the certificate for the URL's host name
    (httpcore sends that name, not the address, as SNI). No proxy is used."""

    def __init__(self, allow_private: bool = False, resolver: Resolver = resolve,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context or ssl.create_default_context(),
                                             network_backend=GuardedBackend(allow_private, resolver))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port,
                             target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        try:
            answer = self._pool.handle_request(core)
            try:
                body = b""
                for chunk in answer.stream:  # type: ignore[union-attr]
                    body += chunk
                    if len(body) >= MAX_RESPONSE_BYTES:
                        break
            finally:
                answer.close()
        except httpcore.TimeoutException as error:
            raise httpx.TimeoutException(str(error), request=request) from error
        except httpcore.ConnectError as error:
            raise httpx.ConnectError(str(error), request=request) from error
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as error:
            raise httpx.TransportError(str(error), request=request) from error
        return httpx.Response(answer.status, headers=answer.headers, content=body[:MAX_RESPONSE_BYTES],
                              request=request)

    def close(self) -> None:
        self._pool.close()
