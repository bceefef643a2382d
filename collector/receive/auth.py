"""Who is sending: a server source (secret write key, HTTP Basic with the key as user as
Segment does, or `writeKey` in the body) or a browser source (public key, checked against
the site's allowed origins).  Keys are compared in constant time and never logged."""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from collector.sites import Site, normalize_origin
from collector.types import Source


class AuthError(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Principal:
    site: Site
    source: Source


class KeyRing:
    def __init__(self, sites: tuple[Site, ...]):
        self.sites = sites
        self.by_public = {s.public_key: s for s in sites}
        self.any_origins = frozenset(o for s in sites for o in s.origins)
        # Only keys that matched are remembered (bounded by the number of sites' keys), so
        # a lookup reveals nothing the answer (401 or not) does not already tell.
        self._known: dict[str, Principal] = {}

    def _match_write_key(self, key: str) -> Site | None:
        found = None
        kb = key.encode()
        for s in self.sites:  # every site compared: timing does not reveal which matched
            if s.write_key and hmac.compare_digest(s.write_key.encode(), kb):
                found = s
        return found

    def identify(self, key: str | None) -> Principal | None:
        if not key:
            return None
        known = self._known.get(key)  # keys that matched before: no per-site compare per request
        if known is not None:
            return known  # the same immutable Principal every time: none is built per request
        found = self._identify(key)
        if found is None:
            return None
        principal = Principal(*found)
        if len(self._known) < 4096:
            self._known[key] = principal
        return principal

    def _identify(self, key: str) -> tuple[Site, Source] | None:
        site = self._match_write_key(key)
        if site is not None:
            return site, "server"
        site = self.by_public.get(key)
        if site is not None:
            return site, "browser"
        return None

    def site_for_public_key(self, key: str) -> Site | None:
        return self.by_public.get(key)


def basic_user(authorization: str | None) -> str | None:
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    return _basic_user(authorization)


@lru_cache(maxsize=1024)
def _basic_user(authorization: str) -> str | None:
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.split(":", 1)[0]


def request_origin(origin: str | None, referer: str | None) -> str | None:
    for candidate in (origin, referer):
        if candidate and candidate != "null":
            try:
                parts = urlsplit(candidate)
                return normalize_origin(f"{parts.scheme}://{parts.netloc}")
            except ValueError:
                continue
    return None


def authenticate(ring: KeyRing, authorization: str | None, body_key: str | None, query_key: str | None,
                 origin: str | None, referer: str | None) -> Principal:
    key = basic_user(authorization) or body_key or query_key
    if not key:
        if authorization and authorization.strip():  # a header we cannot read a key from: name it
            scheme = authorization.strip().split(" ", 1)[0][:20]
            how = "its Basic credentials are not base64 of 'key:'" if scheme.lower() == "basic" else \
                f"the {scheme} scheme is not taken here"
            raise AuthError(401, f"no key in the Authorization header ({how}): send the write key as HTTP Basic "
                                 "user (empty password), or writeKey in the body")
        raise AuthError(401, "no key: send the write key as HTTP Basic user, or writeKey in the body")
    principal = ring.identify(key)
    if principal is None:
        raise AuthError(401, "unknown key")
    site = principal.site
    if principal.source == "browser":
        req_origin = request_origin(origin, referer)
        if req_origin is None:
            if site.app_access and not origin and not referer:  # an app: no browser posts without Origin
                return principal
            raise AuthError(403, "browser key used without an Origin header (apps: set app_access = true "
                                 "for the site)")
        if req_origin not in site.origins:
            raise AuthError(403, f"origin {req_origin} is not allowed for this site")
    return principal
