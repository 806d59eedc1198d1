"""Addresses that others hand us, to call (webhook targets) or to show to citizens (reward
images): one set of rules for what such a URL may look like.

A URL here is printable ASCII (punycode and percent-encoding for the rest), absolute, with a
host, no credentials (they would be stored and shown in clear) and no fragment. Callers choose
the schemes, the length and whether the host must be public. "Public" is judged on the text:
an IP literal must be globally routable, and the names and numeric spellings that mean this
machine or its network (localhost, *.local, 2130706433, 0x7f.1) are refused. Where we call the
URL ourselves, the name is resolved once at that moment, every address checked, and the
connection made to a checked address (webhooks' transport)."""
from __future__ import annotations

import ipaddress
import urllib.parse

LOCAL_NAMES = ("localhost",)
LOCAL_SUFFIXES = (".localhost", ".local", ".internal")


def url_problem(url, *, schemes: tuple[str, ...], max_length: int,
                public_host: bool = False) -> str | None:
    """Why `url` is refused (a sentence for the caller), or None when it is acceptable."""
    problem = _text_problem(url, max_length)
    if problem:
        return problem
    if not url.startswith(tuple(f"{scheme}://" for scheme in schemes)):  # as written: no HTTPS://
        return "The URL must start with " + " or ".join(f"{s}://" for s in schemes) + "."
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises on a port past 65535
    except ValueError:
        return "The URL is not valid."
    return _parts_problem(url, parts, port, public_host=public_host)


def _text_problem(url, max_length: int) -> str | None:
    if not isinstance(url, str) or not 1 <= len(url) <= max_length:
        return f"The URL must be 1 to {max_length} characters."
    if not url.isascii() or "\\" in url or any(ch.isspace() or not ch.isprintable() for ch in url):
        return ("The URL must be printable ASCII without spaces or backslashes "
                "(punycode and percent-encoding for the rest).")
    return None


def _parts_problem(url: str, parts: urllib.parse.SplitResult, port: int | None, *,
                   public_host: bool) -> str | None:
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        return "The URL must not carry credentials."
    if not parts.hostname or port == 0:
        return "The URL must name a host (and a port from 1 to 65535)."
    if parts.fragment or url.endswith("#"):
        return "The URL must not have a fragment."
    if public_host and not is_public_host(parts.hostname):
        return "The URL must name a public host."
    return None


def is_public_host(host: str) -> bool:
    """Whether a URL's host, as written, names somewhere outside this machine and its network."""
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        # Numeric spellings an address parser refuses but resolvers and browsers read.
        numeric = host.replace(".", "").isdigit() or host.lower().startswith("0x")
        return not (numeric or host.lower() in LOCAL_NAMES or host.lower().endswith(LOCAL_SUFFIXES))
    return is_public_address(str(address))


def is_public_address(address: str) -> bool:
    """Whether an IP address is globally routable unicast: no private, loopback, link-local,
    shared, reserved or multicast range, nor an IPv4 one of those inside IPv6."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None) or getattr(ip, "sixtofour", None)
    if mapped is not None and not is_public_address(str(mapped)):
        return False
    return ip.is_global and not ip.is_multicast


def with_address(url: str, address: str) -> str:
    """`url` with its host replaced by the IP `address` (port, path and query kept), so a client
    connects to that address and nothing it resolves itself."""
    parts = urllib.parse.urlsplit(url)
    host = f"[{address.replace('%', '%25')}]" if ":" in address else address
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
