"""The web origins a form names, and the pages it may send a browser back to: checked without
I/O, spelled the way browsers send them in `Origin`."""

from __future__ import annotations

from urllib.parse import urlsplit

from shared.text import check_text

DEFAULT_PORTS = {"http": 80, "https": 443}


def normal_origin(text: str) -> str:
    """`scheme://host[:port]` as a browser sends it in `Origin`: lower case, no default port."""
    if text == "*":
        return text
    parts = urlsplit(check_text(text).strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("must be scheme://host[:port] with http or https, or *")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError("must be only scheme://host[:port], without a path or query")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port in (None, DEFAULT_PORTS[parts.scheme]):
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def absolute_page_url(text: str) -> str:
    parts = urlsplit(check_text(text))
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("must be an absolute http or https URL")
    return text


def origin_allowed(allowed_origins: list[str], origin: str | None, own_origin: str) -> bool:
    """No Origin (a server or an old browser) passes; capture's own pages always may post."""
    if origin is None or "*" in allowed_origins:
        return True
    try:
        origin = normal_origin(origin)
    except ValueError:  # "null" from sandboxed frames and files, or garbage
        return False
    return origin == normal_origin(own_origin) or origin in allowed_origins


def back_link(allowed_origins: list[str], referer: str | None) -> str | None:
    """The page an error page links back to: the page that posted (its Referer) only when that
    page is on one of the origins the form names, never any site's ("*" allows posts, not
    links), nor one a link to the error page chose."""
    if not referer:
        return None
    parts = urlsplit(referer)
    try:
        origin = normal_origin(f"{parts.scheme}://{parts.netloc}")
    except ValueError:
        return None
    return referer if origin in allowed_origins and origin != "*" else None
