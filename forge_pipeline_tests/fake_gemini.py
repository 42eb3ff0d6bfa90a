"""A local server speaking the Gemini REST protocol, for the real google-genai SDK to call."""

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[str, str], Any]  # (task, prompt) -> the JSON object to answer with


@dataclass
class Received:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: str
    task: str
    prompt: str


@dataclass
class FakeGemini:
    """Answers each request with `answer(task, prompt)`, after any scripted failures."""

    answer: Answer
    failures: list[int | str] = field(default_factory=list)  # statuses (200: answer), "malformed"
    always: int | str | None = None
    valid_key: str | None = None  # set: any other key is refused as the real API does
    delay_s: float = 0.0  # a slow server, for timeouts
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def respond(self, path: str, headers: dict[str, str], body: str) -> tuple[int, str]:
        request = json.loads(body or "{}")
        instruction = " ".join(
            p.get("text", "") for p in (request.get("systemInstruction") or {}).get("parts", [])
        )
        prompt = " ".join(
            p.get("text", "") for c in request.get("contents", []) for p in c.get("parts", [])
        )
        task = m.group(1) if (m := re.search(r"Forge task: ([\w ]+)\.", instruction)) else ""
        self.received.append(Received(path, headers, body, task, prompt))
        time.sleep(self.delay_s)
        if self.valid_key and headers.get("x-goog-api-key") != self.valid_key:
            message = "API key not valid. Please pass a valid API key."
            return 400, json.dumps(
                {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}
            )
        outcome = self.failures.pop(0) if self.failures else self.always
        if isinstance(outcome, int) and outcome != 200:
            error = {"error": {"code": outcome, "message": "scripted", "status": "SCRIPTED"}}
            return outcome, json.dumps(error)
        text = (
            "this is not json {"
            if outcome == "malformed"
            else json.dumps(self.answer(task, prompt))
        )
        reply = {
            "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5},
        }
        return 200, json.dumps(reply)

    def everything_sent(self) -> str:
        """Every path, header and body received, as one string to search."""
        return "\n".join(f"{r.path} {r.headers} {r.body}" for r in self.received)


@contextmanager
def serve(fake: FakeGemini) -> Iterator[FakeGemini]:
    """Run the fake on a free loopback port for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length).decode()
            status, reply = fake.respond(self.path, dict(self.headers), body)
            data = reply.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def default_answer(task: str, prompt: str) -> Any:
    """Plausible answers per Forge task, built from what was asked."""
    data = json.loads(prompt)
    if task == "key check":
        return {"ok": True}
    if task == "dataset study":
        ids = [s["id"] for s in data["samples"][:2]]
        return {
            "quality_score": 7,
            "summary": "Warm, consistent reflections.",
            "problems": [{"issue": "Some answers are short.", "example_ids": ids}],
            "recommendations": ["Write a few longer reflections."],
        }
    if task == "question writing":
        return {
            "questions": [
                {"id": r["id"], "question": f"Gemini asks about {r['id'][:6]}?"}
                for r in data["reflections"]
            ]
        }
    if task == "column mapping":
        columns = data["columns"]
        return {"prompt": columns[0], "response": columns[1]}
    if task == "failure diagnosis":
        return {"batch_size": 1, "reason": "The kernel stalls on batches over one."}
    if task == "planning":
        return {
            "system_prompt": f"You help me with: {data['goal']}",
            "max_steps": 60,
            "lora_r": 8,
            "learning_rate": 5.0,
            "reason": "A small goal.",
        }
    raise AssertionError(f"unexpected task {task!r}")
