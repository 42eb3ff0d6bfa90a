"""Talk to a running `forge serve`: is it up, reload it, ask it."""

import os
import time
from dataclasses import dataclass
from typing import Any

import requests

from forge_pipeline.lib.core.config import Settings
from forge_pipeline.serving.names import ADMIN_TOKEN_ENV, API_KEY_ENV, MODEL_ALIAS


class ServerError(RuntimeError):
    """The server answered with an error; the message is its answer."""


@dataclass
class ServerClient:
    """A client for one server's admin and chat routes."""

    base_url: str
    admin_token: str | None = None
    api_key: str | None = None
    timeout_s: float = 120.0

    @classmethod
    def for_settings(
        cls, settings: Settings, url: str = "", token_env: str = ADMIN_TOKEN_ENV
    ) -> "ServerClient":
        """The configured server (or url), with the admin token and API key read now."""
        url = url or f"http://{settings.serving.host}:{settings.serving.port}"
        return cls(url.rstrip("/"), os.environ.get(token_env), os.environ.get(API_KEY_ENV))

    def is_up(self) -> bool:
        """Whether /health answers."""
        try:
            return requests.get(f"{self.base_url}/health", timeout=2).ok
        except requests.RequestException:
            return False

    def reload(self, version: str | None = None) -> dict[str, Any]:
        """Ask the server to load a registry version (default: current)."""
        return self._post("/admin/reload-model", {"version": version}, admin=True)

    def status(self) -> dict[str, Any]:
        """What the server is serving."""
        return self._request("GET", "/admin/status", None, self.admin_token)

    def chat(self, messages: list[dict[str, str]], max_tokens: int = 64) -> tuple[str, float]:
        """One chat completion; returns the reply and the seconds it took."""
        started = time.perf_counter()
        answer = self._post(
            "/v1/chat/completions",
            {
                "model": MODEL_ALIAS,
                "messages": messages,
                "max_tokens": max_tokens,
                "temperature": 0.0,
            },
        )
        return answer["choices"][0]["message"]["content"], time.perf_counter() - started

    def _post(self, route: str, body: dict[str, Any], admin: bool = False) -> dict[str, Any]:
        return self._request("POST", route, body, self.admin_token if admin else self.api_key)

    def _request(
        self, method: str, route: str, body: dict[str, Any] | None, token: str | None
    ) -> dict[str, Any]:
        """The server's JSON answer; no answer at all (a timeout, a reset) is a ServerError."""
        try:
            answer = requests.request(
                method,
                f"{self.base_url}{route}",
                json=body,
                headers=self._bearer(token),
                timeout=self.timeout_s,
            )
        except requests.RequestException as exc:
            raise ServerError(f"no answer from {self.base_url}{route} ({exc})") from exc
        return self._checked(answer)

    @staticmethod
    def _bearer(token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    @staticmethod
    def _checked(answer: requests.Response) -> dict[str, Any]:
        if not answer.ok:
            try:
                detail = answer.json().get("detail", answer.text)
            except ValueError:
                detail = answer.text
            raise ServerError(f"{answer.status_code}: {detail}")
        return answer.json()
