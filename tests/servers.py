"""Real servers for tests: the app under uvicorn (in a thread, or as a ``citeqa serve`` process), a Chroma server
(``chroma run``), and a scripted OpenAI-compatible chat-completions server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """Runs an ASGI app with uvicorn on a free 127.0.0.1 port in a background thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def wait_until(check: Any, what: str, timeout: float, process: subprocess.Popen | None = None,
               log: Path | None = None) -> None:
    """Poll ``check()`` until it is true; fail with ``what`` (and the process's log) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not come up (exit code {process.poll() if process else None}):\n{tail}")


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """Stop a server we started, by its process id: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


class ChromaServer:
    """A real Chroma server: ``chroma run --path DIR --host 127.0.0.1 --port FREE``, ready once its heartbeat
    answers. ``stop()`` and ``start()`` again (same folder, same port) let fault tests take it down and back up;
    the data survives. Its output goes to ``DIR.log``."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = path.with_suffix(".log")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> ChromaServer:
        chroma = Path(sys.executable).with_name("chroma")
        self.path.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(chroma), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        wait_until(self.alive, f"chroma on port {self.port}", timeout, self.process, self.log)
        return self

    def alive(self) -> bool:
        return httpx.get(f"{self.url}/api/v2/heartbeat", timeout=2).status_code == 200

    def alive_or_false(self) -> bool:
        try:
            return self.alive()
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class CiteqaProcess:
    """``citeqa serve`` in a process of its own (a replica), configured only by ``CITEQA_*`` environment
    variables like the Docker image; ready once /healthz answers 200. Its output goes to ``log``."""

    def __init__(self, env: dict[str, str], log: Path, cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.cwd = cwd
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}, **env,
                    "CITEQA_HOST": "127.0.0.1", "CITEQA_PORT": str(self.port)}
        self.process: subprocess.Popen | None = None

    def start(self) -> CiteqaProcess:
        citeqa = Path(sys.executable).with_name("citeqa")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([str(citeqa), "-v", "serve"], env=self.env, cwd=self.cwd,
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def wait_ready(self, timeout: float = 240) -> CiteqaProcess:
        assert self.process is not None
        wait_until(lambda: httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200,
                   f"citeqa serve on port {self.port}", timeout, self.process, self.log)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


class ScriptedOpenAI:
    """An OpenAI-compatible ``POST /v1/chat/completions`` server whose behaviour a test sets.

    ``mode``: ``answer`` (reply with ``self.content``), ``error500``, ``error429``, ``malformed`` (invalid JSON),
    ``hang`` (sleep ``hang_seconds`` before answering), or ``error_mid_stream`` (a streamed reply sends half its
    words, then an OpenAI-style error chunk). Streams SSE chunks when the request asks to. ``replies``: contents
    for the next requests, in order, before ``content`` applies again. Every request body is kept in ``requests``.
    """

    def __init__(self) -> None:
        self.mode = "answer"
        self.content = "An answer."
        self.replies: list[str] = []
        self.chunk_delay = 0.0  # seconds between streamed chunks
        self.hang_seconds = 30.0
        self.requests: list[dict[str, Any]] = []
        self.port = free_port()
        self.api_base = f"http://127.0.0.1:{self.port}/v1"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        script = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                script.requests.append(request)
                if script.mode == "hang":
                    time.sleep(script.hang_seconds)
                if script.mode == "error500":
                    return self._send(500, b'{"error": {"message": "upstream exploded", "type": "server_error"}}')
                if script.mode == "error429":
                    return self._send(429, b'{"error": {"message": "slow down", "type": "rate_limit"}}')
                if script.mode == "malformed":
                    return self._send(200, b"{this is not json")
                content = script.replies.pop(0) if script.replies else script.content
                if request.get("stream"):
                    return self._stream(request, content)
                body = {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                    "model": request.get("model", "test"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                }
                return self._send(200, json.dumps(body).encode())

            def _stream(self, request: dict[str, Any], content: str) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                words = content.split(" ")
                if script.mode == "error_mid_stream":
                    words = words[: max(1, len(words) // 2)]
                for i, word in enumerate(words):
                    piece = word if i == 0 else " " + word
                    chunk = {
                        "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
                        "model": request.get("model", "test"),
                        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    if script.chunk_delay:
                        self.wfile.flush()
                        time.sleep(script.chunk_delay)
                if script.mode == "error_mid_stream":
                    self.wfile.flush()
                    error = {"error": {"message": "upstream exploded mid-stream", "type": "server_error"}}
                    self.wfile.write(f"data: {json.dumps(error)}\n\n".encode())
                    self.wfile.flush()
                    return
                final = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
                         "model": request.get("model", "test"),
                         "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()

        return Handler
