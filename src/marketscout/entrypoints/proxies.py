"""Reverse proxies the server believes: the client address (``X-Forwarded-For``, read by the rate
limiter) and the scheme the client used (``X-Forwarded-Proto``) they forward. From any other peer
those headers are ignored, since a client can send them too."""

from __future__ import annotations

import ipaddress

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send

FORWARDED_SCHEMES = frozenset({"http", "https"})


class TrustedProxies:
    """IP addresses and networks; an entry that is neither (a unix-socket peer name) matches literally."""

    def __init__(self, entries: tuple[str, ...]) -> None:
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self._names: set[str] = set()
        for entry in entries:
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self._names.add(entry)

    def __contains__(self, address: str) -> bool:
        if address in self._names:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def client_ip(self, peer: str, forwarded_for: str | None) -> str:
        """The socket peer, unless it is a trusted proxy: then the right-most untrusted hop."""
        if not forwarded_for or peer not in self:
            return peer
        for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
            if hop not in self:
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer
        return peer

    def scheme(self, peer: str, forwarded_proto: str | None) -> str | None:
        """The scheme a trusted proxy says the client used (the right-most value: the one the proxy
        added, a client's own coming before it), or None to keep the connection's."""
        if not forwarded_proto or peer not in self:
            return None
        scheme = forwarded_proto.rsplit(",", 1)[-1].strip().lower()
        return scheme if scheme in FORWARDED_SCHEMES else None


class ForwardedSchemeMiddleware:
    """Sets the request's scheme from a trusted proxy's ``X-Forwarded-Proto``, so that a request
    that reached the proxy over HTTPS is HTTPS to the app (Secure cookies, HSTS) although it
    arrives over plain HTTP. It must wrap everything that reads the scheme."""

    def __init__(self, app: ASGIApp, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            http: HTTPScope = scope
            client = http.get("client")
            values = [v.decode("latin-1") for k, v in http["headers"] if k == b"x-forwarded-proto"]
            scheme = self.proxies.scheme(client[0], ",".join(values)) if client and values else None
            if scheme is not None:
                http["scheme"] = scheme
        await self.app(scope, receive, send)
