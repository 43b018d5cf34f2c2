"""The monitor's guard: every request needs the token; actions are CSRF-safe.

- GET (pages, API, event streams, assets): the token as ``?token=``, an
  ``Authorization: token ...`` / ``X-SWF-Token`` header, or the cookie set the first
  time the token came in the URL (HttpOnly, SameSite=Strict), as Jupyter does.
- POST (actions): the token in the ``X-SWF-Token`` header, never the cookie alone. A
  cross-site page cannot set that header without a CORS preflight, which this server
  never grants; a cross-site ``Origin`` is refused too.
- The Host header must name the loopback address the server listens on, so that a DNS
  rebinding page cannot reach it through its own name.
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
REFUSED = (
    "swf monitor: this needs the monitor's token. Open the URL that `swf monitor` printed"
    " (it ends with ?token=...).\n"
)


class TokenGuard:
    """ASGI middleware refusing every request without the token (403)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token
        self.cookie = "swf_monitor_token"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in scope.get("headers", [])
        }
        problem = self._problem(scope, headers)
        if problem is not None:
            await PlainTextResponse(problem, status_code=403)(scope, receive, send)
            return
        if self._from_query(scope) and self.cookie not in _cookies(headers):
            send = self._setting_cookie(send)
        await self.app(scope, receive, send)

    def _problem(self, scope: Scope, headers: dict[str, str]) -> str | None:
        host = headers.get("host", "").rsplit(":", 1)[0] if "host" in headers else ""
        if host not in LOOPBACK_HOSTS:
            return "swf monitor: unexpected Host header (only loopback names are served)\n"
        if scope["method"] in ("GET", "HEAD"):
            return None if self._any_token(scope, headers) else REFUSED
        origin = headers.get("origin")
        if origin and (urlsplit(origin).hostname or "") not in ("127.0.0.1", "localhost", "::1"):
            return "swf monitor: cross-site request refused\n"
        if not self._matches(headers.get("x-swf-token")):
            return REFUSED
        return None

    def _any_token(self, scope: Scope, headers: dict[str, str]) -> bool:
        authorization = headers.get("authorization", "")
        candidates = [
            self._from_query(scope),
            headers.get("x-swf-token"),
            authorization[6:] if authorization.lower().startswith("token ") else None,
            _cookies(headers).get(self.cookie),
        ]
        return any(self._matches(candidate) for candidate in candidates)

    def _matches(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(
            candidate.encode(), self.token.encode()
        )

    def _from_query(self, scope: Scope) -> str | None:
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        return values[0] if values and self._matches(values[0]) else None

    def _setting_cookie(self, send: Send) -> Send:
        cookie = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
            await send(message)

        return sending


def _cookies(headers: dict[str, str]) -> dict[str, Any]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed cookie header: no cookie
        return {}
    return {key: morsel.value for key, morsel in jar.items()}
