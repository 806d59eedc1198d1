"""Posting to a receiver without a second DNS answer (docs/webhooks.md, "SSRF").

The target's name is resolved once; unless private targets are allowed, every address must be
public. The request then goes to one of those very addresses: the URL's host is replaced by the
address, the `Host` header keeps the name, and over https the TLS handshake still sends the name
(SNI) and checks the certificate against it. So a DNS answer that changes between the check and
the connection (rebinding) is never followed. Redirects are not followed, no proxy is used.
"""
from __future__ import annotations

import dataclasses
import socket
import urllib.parse

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from carbon_credits.domain import urls
from carbon_credits.domain import webhooks as rules

# Addresses tried in turn when connecting fails (an unreachable IPv6 address, say), as a
# client resolving the name itself would; bounded so a long answer cannot stretch an attempt.
MAX_ADDRESSES_TRIED = 3


class TargetRefused(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class Target:
    """Where a URL points, resolved once: its host name and the addresses to connect to."""

    url: str
    hostname: str
    host_header: str
    addresses: tuple[str, ...]


def resolve_target(url: str, *, allow_private: bool) -> Target:
    """Resolve the URL's host once; raises TargetRefused if it cannot be resolved or, unless
    `allow_private`, if any address it has is not public."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefused(f"cannot resolve {parts.hostname}: {error}") from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in found))  # in the resolver's order
    refused = sorted(a for a in addresses if not urls.is_public_address(a))
    if not addresses or (refused and not allow_private):
        raise TargetRefused(f"refused: {parts.hostname} resolves to a private or reserved "
                            f"address ({', '.join(refused[:3])})")
    return Target(url=url, hostname=parts.hostname, host_header=parts.netloc.rpartition("@")[2],
                  addresses=addresses)


class PinnedHostnameAdapter(HTTPAdapter):
    """Connects to the address in the URL while TLS names `hostname`: the SNI sent
    (`server_hostname`) and the name the certificate must match (`assert_hostname`)."""

    def __init__(self, hostname: str):
        self.hostname = hostname
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify,
                                                                                cert)
        if host_params["scheme"] == "https":  # TLS keywords only: a plain HTTP pool refuses them
            pool_kwargs.update(server_hostname=self.hostname, assert_hostname=self.hostname)
        return host_params, pool_kwargs


def _not_connected(error: requests.RequestException) -> bool:
    """Whether the request failed before anything was sent (so another address may be tried)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.ConnectionError) and isinstance(reason, NewConnectionError)


def post(target: Target, *, body: bytes, headers: dict) -> tuple[int, bytes]:
    """POST to the target's checked addresses, the first that accepts a connection; returns the
    status code and the first bytes of the answer. Raises requests' errors."""
    tried = target.addresses[:MAX_ADDRESSES_TRIED]
    for index, address in enumerate(tried):
        try:
            return _post_to(address, target, body=body, headers=headers)
        except requests.RequestException as error:
            if index == len(tried) - 1 or not _not_connected(error):
                raise
    raise AssertionError("unreachable: a target has at least one address")


def _post_to(address: str, target: Target, *, body: bytes, headers: dict) -> tuple[int, bytes]:
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment: the address checked is the one called
        session.mount("https://", PinnedHostnameAdapter(target.hostname))
        session.mount("http://", PinnedHostnameAdapter(target.hostname))
        response = session.post(urls.with_address(target.url, address), data=body,
                                headers={**headers, "Host": target.host_header}, stream=True,
                                timeout=rules.TIMEOUT_SECONDS, allow_redirects=False)
        try:
            kept = response.raw.read(rules.RESPONSE_KEPT_BYTES, decode_content=True) or b""
        except Exception:  # a broken answer still has a status code
            kept = b""
        finally:
            response.close()
    return response.status_code, kept
