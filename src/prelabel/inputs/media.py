"""Where an item's media may come from: local files confined to a media root, URLs checked, one reason each.

An items file built from untrusted data (scraped listings, user submissions) must not make prelabel read and
upload other files of the machine, nor make prelabel (or a self-hosted model server) fetch from the local
network. The rules, for ``images`` and ``video`` alike:

- a local path resolves inside the media root: ``MediaPolicy.root`` (``--media-root``, ``media_root=``),
  else the items file's folder (items given in Python, without a file, are confined only when a root is
  named). An absolute path elsewhere, a ``..`` escape and a symbolic link pointing out of the root are
  refused;
- ``http(s)`` URLs to public hosts are allowed. URLs whose host is a loopback, private, link-local or other
  non-public address (``127.0.0.1``, ``10.x``, ``169.254.x``, ``[::1]``, ``localhost``, ``*.local``,
  ``*.internal``, a bare number) are refused, and so are ``file://`` URLs (read as local files, unconfined)
  and other schemes, unless ``MediaPolicy.allow_remote`` (``--allow-remote-media``) says the items file's
  URLs are trusted. Image URLs are passed to the provider, which fetches them; video URLs are fetched by
  prelabel, which also checks every address the host name resolves to and follows no redirect.

    >>> from pathlib import Path
    >>> policy = MediaPolicy(root=Path("/srv/in"))
    >>> check_media("clips/a.mp4", Path("/srv/in"), policy, "video")  # kept as given: no such file here
    'clips/a.mp4'
    >>> try:
    ...     check_media("../secrets.png", Path("/srv/in"), policy, "images")
    ... except MediaError as exc:
    ...     print(exc)
    images: '../secrets.png' escapes the media root /srv/in with '..' (choose the folder with --media-root)
    >>> try:
    ...     check_media("http://169.254.169.254/latest/meta-data", None, policy, "images")
    ... except MediaError as exc:
    ...     print(str(exc).split(";")[0])
    images: 'http://169.254.169.254/latest/meta-data' points to a local-network address (169.254.169.254)
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["MediaError", "MediaPolicy", "check_media", "check_resolved_host", "is_url", "local_path"]

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet")
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*$", re.IGNORECASE)


class MediaError(ValueError):
    """An item's media reference that may not be used, or media that cannot be read: one line saying why."""


@dataclass(frozen=True)
class MediaPolicy:
    """Where media may come from: ``root`` confines local paths (``None``: the items file's folder; items
    given in Python are then not confined); ``allow_remote`` trusts every URL (local-network hosts, ``file://``);
    ``confine=False`` checks nothing (reading items back to pair them with results, which sends nothing)."""

    root: Path | None = None
    allow_remote: bool = False
    confine: bool = True


def is_url(ref: str) -> bool:
    """True when ``ref`` names media by a URL (any scheme, ``data:`` included), not by a local path."""
    match = _SCHEME.match(ref)
    return match is not None and len(match.group(1)) > 1  # "C:" is a Windows drive, not a scheme


def local_path(ref: str) -> Path | None:
    """The local file ``ref`` names (a path or a ``file://`` URL), else ``None`` (an http(s) or data URL)."""
    if ref.lower().startswith("file:"):
        return Path(unquote(urlsplit(ref).path))
    return None if is_url(ref) else Path(ref)


def check_media(ref: str, base: Path | None, policy: MediaPolicy, field: str) -> str:
    """``ref`` as the item keeps it (a relative path joined to ``base`` when that file exists), or raise
    ``MediaError`` naming ``field`` and the reason when the policy refuses it."""
    if not policy.confine:
        return _joined(ref, base)
    scheme = _SCHEME.match(ref)
    if is_url(ref) and scheme is not None:
        name = scheme.group(1).lower()
        if name in ("http", "https"):
            _check_url(ref, policy, field)
            return ref
        if name == "data" and field == "images":
            return ref
        if name == "file" and policy.allow_remote:
            return ref
        if name == "file":
            raise MediaError(
                f"{field}: '{ref}' is a file:// URL; name the file by its path inside the media root "
                "(or pass --allow-remote-media)"
            )
        raise MediaError(
            f"{field}: '{ref}' uses the unsupported scheme '{name}:' (use a path or http(s) URL)"
        )
    root = policy.root or base
    if root is not None:  # items given in Python (no items file) are confined only to a root named
        path = Path(ref)
        where = path if path.is_absolute() or base is None else base / path  # as the prompt will find it
        _confine(ref, where, root, field)
    return _joined(ref, base)


def _joined(ref: str, base: Path | None) -> str:
    if is_url(ref) or base is None or Path(ref).is_absolute():
        return ref
    candidate = base / ref
    return str(candidate) if candidate.exists() else ref


def _confine(ref: str, path: Path, root: Path, field: str) -> None:
    real_root = os.path.realpath(root)
    absolute = path if path.is_absolute() else Path.cwd() / path
    real = os.path.realpath(absolute)
    if _inside(real, real_root):
        return
    hint = "(choose the folder with --media-root)"
    if ".." in Path(ref).parts:
        raise MediaError(f"{field}: '{ref}' escapes the media root {root} with '..' {hint}")
    if _inside(os.path.normpath(absolute), os.path.normpath(os.path.abspath(root))):
        raise MediaError(f"{field}: '{ref}' is a link to a file outside the media root {root} {hint}")
    raise MediaError(f"{field}: '{ref}' is outside the media root {root} {hint}")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _check_url(url: str, policy: MediaPolicy, field: str) -> None:
    try:
        host = urlsplit(url).hostname
    except ValueError as exc:
        raise MediaError(f"{field}: '{url}' is not a valid URL ({exc})") from None
    if not host:
        raise MediaError(f"{field}: '{url}' has no host")
    if policy.allow_remote:
        return
    reason = _local_host(host)
    if reason is not None:
        raise MediaError(f"{field}: '{url}' points to {reason}; pass --allow-remote-media to allow it")


def _local_host(host: str) -> str | None:
    """Why ``host`` (a name or an address literal) belongs to the local network, or ``None``."""
    name = host.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        if name in _LOCAL_NAMES or name.endswith(_LOCAL_SUFFIXES) or "." not in name:
            return f"a local host name ({host})"
        if _NUMERIC_HOST.match(name):
            return f"a numeric host ({host}) that may name a local address"
        return None
    return None if address.is_global else f"a local-network address ({host})"


def check_resolved_host(url: str, policy: MediaPolicy, field: str = "video") -> None:
    """Before prelabel fetches ``url``: every address its host resolves to must be public (unless the policy
    allows remote media); a host that does not resolve raises ``MediaError`` too."""
    if policy.allow_remote or not policy.confine:
        return
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError) as exc:
        raise MediaError(f"{field}: cannot reach '{url}': host not found ({exc})") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            raise MediaError(
                f"{field}: '{url}' resolves to a local-network address ({address}); "
                "pass --allow-remote-media to allow it"
            )
