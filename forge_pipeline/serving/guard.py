"""The server's front door: which hosts, web pages and keys reach the model, and how much they ask.

The model is a copy of the person's notes. A browser will send any page's request to a loopback
server, so the Host (DNS rebinding) and the Origin (cross-site requests) are checked before
anything else, and every route but /health and /admin takes the API key whenever one is set
(always, off loopback).
"""

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from forge_pipeline.lib.core.config import ConfigError, Serving
from forge_pipeline.serving.names import API_KEY_ENV

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
GENERATING_ROUTES = frozenset({"/v1/chat/completions", "/v1/completions"})


def is_loopback(host: str) -> bool:
    """Whether an address or name stays on this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bearer_matches(authorization: str | None, secret: str) -> bool:
    """Whether an Authorization header is `Bearer <secret>`, compared in constant time."""
    given = authorization or ""
    return given.startswith("Bearer ") and hmac.compare_digest(
        given.removeprefix("Bearer ").encode(), secret.encode()
    )


def host_name(header: str) -> str:
    """'example.com:8765' -> 'example.com'; '[::1]:8765' -> '::1'."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


@dataclass(frozen=True)
class Door:
    """Who may come in and how much they may ask."""

    hosts: frozenset[str]
    origins: frozenset[str]
    api_key: str | None
    max_tokens: int
    max_body_bytes: int

    @classmethod
    def for_serving(cls, serving: Serving, api_key: str | None) -> "Door":
        """The door of a server bound as configured; off loopback, a key is required."""
        if not is_loopback(serving.host) and not api_key:
            raise ConfigError(
                f"serving.host {serving.host} is reachable from other machines: set {API_KEY_ENV} "
                "so the API asks for a key, or bind 127.0.0.1."
            )
        bound = set() if serving.host in ("0.0.0.0", "::") else {serving.host.lower()}
        return cls(
            hosts=frozenset(LOOPBACK_NAMES | bound | {h.lower() for h in serving.allowed_hosts}),
            origins=frozenset(o.rstrip("/") for o in serving.allowed_origins),
            api_key=api_key or None,
            max_tokens=serving.max_tokens,
            max_body_bytes=serving.max_body_kb * 1024,
        )

    def refusal(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str] | None:
        """The status and sentence a request is refused with, or None to let it in."""
        host = host_name(headers.get("host", ""))
        if host not in self.hosts:
            return 421, f"Host {host!r} is not served here; add it to serving.allowed_hosts."
        origin = headers.get("origin")
        if origin is not None and origin.rstrip("/") not in self.origins:
            return (
                403,
                f"Web pages from {origin} may not call this server (serving.allowed_origins).",
            )
        if self.api_key and method != "OPTIONS" and not _own_credentials(path):
            if not bearer_matches(headers.get("authorization"), self.api_key):
                return 401, f"Missing or wrong API key: send {API_KEY_ENV} as the bearer token."
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > self.max_body_bytes:
            return 413, self.too_large()
        return None

    def too_large(self) -> str:
        """Why a request body was refused."""
        return f"The request body is over serving.max_body_kb ({self.max_body_bytes} bytes)."

    def bounded_request(self, body: bytes) -> bytes:
        """A generation request with max_tokens defaulted and capped at serving.max_tokens."""
        try:
            request = json.loads(body)
        except ValueError:
            return body  # llama-cpp-python answers malformed JSON with its own 422
        if not isinstance(request, dict):
            return body
        asked = request.get("max_tokens")
        if isinstance(asked, int) and not isinstance(asked, bool) and asked > 0:
            request["max_tokens"] = min(asked, self.max_tokens)
        else:
            request["max_tokens"] = self.max_tokens
        return json.dumps(request).encode()


def _own_credentials(path: str) -> bool:
    """Routes the API key does not cover: health (public) and admin (its own token)."""
    return path == "/health" or path.startswith("/admin/")


class Guard:
    """ASGI middleware that lets in only what the door allows."""

    def __init__(self, app: ASGIApp, door: Door):
        self.app, self.door = app, door

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        refused = self.door.refusal(scope["method"], scope["path"], headers)
        if refused is None and scope["method"] == "POST":
            body = await _read_body(receive, self.door.max_body_bytes)
            if body is None:
                refused = 413, self.door.too_large()
            else:
                if scope["path"] in GENERATING_ROUTES:
                    body = self.door.bounded_request(body)
                    scope = {**scope, "headers": _with_length(scope["headers"], len(body))}
                receive = _replay(body, receive)
        if refused:
            await _answer(send, *refused)
            return
        await self.app(scope, receive, send)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes limit (chunked bodies have no length)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read already, then the client's own messages (a disconnect ends a stream)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _with_length(headers: list[tuple[bytes, bytes]], length: int) -> list[tuple[bytes, bytes]]:
    kept = [
        (k, v) for k, v in headers if k.lower() not in (b"content-length", b"transfer-encoding")
    ]
    return [*kept, (b"content-length", str(length).encode())]


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
