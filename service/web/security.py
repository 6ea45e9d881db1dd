"""Access control and rate limiting, as two ASGI middlewares that see every route, including ones added later.

- :class:`KeyRing` holds the API keys (only their SHA-256 digests) and checks a presented key against all of them
  with :func:`hmac.compare_digest`, so neither the time taken nor the log lines tell anything about a key.
- :class:`AuthMiddleware` asks for ``Authorization: Bearer <key>`` on writing requests (POST/PUT/PATCH/DELETE
  under ``/documents``) whenever keys are configured, and on every other request too when ``protect_reads`` is
  set; ``/healthz`` and CORS preflights stay open. No key gives 401, a wrong key 403.
- :class:`RateLimitMiddleware` keeps one token bucket per API key (or, without a valid key, per client address)
  for the configured path prefixes (``/ask``, ``/chat``, ``/v1/chat/completions`` by default) and answers 429
  with ``Retry-After`` when a bucket is empty. Buckets live in the process: N replicas allow N times the rate.

Both answer with the one JSON error shape of :mod:`service.errors`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import CiteqaError, Forbidden, RateLimited, Unauthorized
from service.settings import Settings

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WRITE_PREFIXES = ("/documents",)
ALWAYS_OPEN = frozenset({"/healthz"})
KEY_ID_SCOPE = "citeqa.key_id"  # set on the ASGI scope once a request's key is known to be valid


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def under(path: str, prefixes: Sequence[str]) -> bool:
    """``path`` is one of ``prefixes`` or below one (``/chat`` covers ``/chat/stream``, not ``/chatter``)."""
    return any(path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in prefixes)


def error_response(error: CiteqaError) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=error.status_code, headers=error.headers())


class KeyRing:
    """The configured API keys, kept as digests; ``match`` compares against every key in constant time."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._digests = [_digest(key) for key in keys]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def __repr__(self) -> str:
        return f"KeyRing({len(self._digests)} keys)"

    def match(self, presented: str) -> int | None:
        """The index of the matching key, or None. Every key is compared, whatever the outcome."""
        candidate = _digest(presented)
        found: int | None = None
        for index, digest in enumerate(self._digests):
            if hmac.compare_digest(candidate, digest) and found is None:
                found = index
        return found


def bearer_token(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; '' for another scheme; None without one."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return None


def is_write(method: str, path: str) -> bool:
    return method in WRITE_METHODS and under(path, WRITE_PREFIXES)


class AuthMiddleware:
    def __init__(self, app: ASGIApp, keys: KeyRing, protect_reads: bool) -> None:
        self.app = app
        self.keys = keys
        self.protect_reads = protect_reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys:
            await self.app(scope, receive, send)
            return
        error = self.check(scope)
        if error is not None:
            await error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def check(self, scope: Scope) -> CiteqaError | None:
        method, path = scope["method"], scope["path"]
        token = bearer_token(scope)
        key_id = self.keys.match(token) if token else None
        if key_id is not None:
            scope[KEY_ID_SCOPE] = f"key{key_id}"
        needed = is_write(method, path) or (
            self.protect_reads and method != "OPTIONS" and path not in ALWAYS_OPEN
        )
        if not needed or key_id is not None:
            return None
        if token is None or token == "":
            return Unauthorized("This endpoint needs an API key: send 'Authorization: Bearer <key>'.",
                                code="api_key_missing")
        return Forbidden("The API key is not valid.", code="api_key_invalid")


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One token bucket per client: ``burst`` tokens at most, refilled at ``per_minute / 60`` tokens a second.

    Idle buckets are dropped once full again, so memory stays bounded by the clients active in the last
    ``burst / rate`` seconds.
    """

    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def take(self, client: str) -> float:
        """Take one token for ``client``: 0.0 when allowed, else the seconds until a token is there."""
        now = self.clock()
        with self._lock:
            self._sweep(now)
            bucket = self._buckets.get(client)
            if bucket is None:
                bucket = self._buckets[client] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _sweep(self, now: float) -> None:
        full_after = self.burst / self.rate
        if now - self._last_sweep < full_after:
            return
        self._last_sweep = now
        for client in [c for c, b in self._buckets.items() if now - b.updated >= full_after]:
            del self._buckets[client]

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, buckets: TokenBuckets, paths: Sequence[str],
                 on_limited: Callable[[str], None] | None = None) -> None:
        self.app = app
        self.buckets = buckets
        self.paths = tuple(paths)
        self.on_limited = on_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or not under(scope["path"], self.paths):
            await self.app(scope, receive, send)
            return
        client = scope.get(KEY_ID_SCOPE) or f"addr:{(scope.get('client') or ('unknown',))[0]}"
        wait = self.buckets.take(client)
        if wait > 0:
            if self.on_limited:
                self.on_limited(scope["path"])
            error = RateLimited("Too many requests; retry after the number of seconds in Retry-After.",
                                retry_after=math.ceil(wait))
            await error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install(app: ASGIApp, settings: Settings, on_limited: Callable[[str], None] | None = None) -> None:
    """Add the rate limit, then auth around it (auth runs first, so a limit can be per key)."""
    add = app.add_middleware  # type: ignore[attr-defined]
    if settings.rate_limit_per_minute > 0:
        buckets = TokenBuckets(settings.rate_limit_per_minute, settings.rate_limit_burst)
        add(RateLimitMiddleware, buckets=buckets, paths=settings.rate_limit_paths, on_limited=on_limited)
    add(AuthMiddleware, keys=KeyRing(settings.api_key_values()), protect_reads=settings.protect_reads)
