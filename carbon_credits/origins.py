"""Browser origins (RFC 6454) as the settings accept them: scheme://host[:port], nothing more."""
from __future__ import annotations

from urllib.parse import SplitResult, urlsplit


def split_origin(text: str) -> tuple[SplitResult, int | None] | tuple[None, None]:
    """(url, port) when `text` is scheme://host[:port] and nothing more; else (None, None)."""
    try:
        url = urlsplit(text)
        port = url.port  # raises on a malformed port
    except ValueError:
        return None, None
    extras = (url.path, url.query, url.fragment, url.username, url.password)
    if (url.scheme.lower() not in ("http", "https") or not url.hostname or any(extras)
            or "*" in text or "@" in text):
        return None, None
    return url, port


def normalise_origin(text: str) -> str | None:
    """The origin lower-cased to the form browsers send in `Origin`, or None if `text` is not
    one."""
    url, port = split_origin(text)
    if url is None:
        return None
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    return f"{url.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")
