"""A small OpenAI-compatible model server on loopback, for putting behind the real proxy.

Serves `GET /v1/models`, `POST /v1/chat/completions` and `POST /v1/completions` (also without the
`/v1` prefix), streaming or not (streamed: one chunk per word; a streamed completion stops after
`max_tokens` words, as a model server stops after `max_tokens` tokens). Answers are deterministic:
the text is `"<reply_prefix><model>: <last user message>"` and `usage` counts whitespace-separated
words of the prompt and the reply, so cost and budget arithmetic in tests is predictable.

Every request (method, path, headers, parsed JSON body) is recorded under a lock; tests assert on
what the proxy actually forwarded (e.g. the `cache_salt` field a hook injected). Knobs:
`delay_s` (sleep before answering), `fail_next(n, status)` (the next n requests fail with that
status), `completion_tokens` (fixed completion-token count instead of the word count),
`answer_tools` (False: no tool calls, below).

It answers as vLLM 0.14.0 does where the coder slice depends on it (`vllm/entrypoints/openai/`):
a streamed answer (chat or text completion) carries `usage` only when the request asks for it with
`stream_options.include_usage` (`serving_chat.py`, `serving_completion.py`); `/v1/completions` refuses
the OpenAI `suffix` field with 400 (`serving_completion.py`: "suffix is not currently supported"), so
FIM reaches it as a prompt written with the model's FIM tokens; a chat request with `tools` (and
`tool_choice` not `none`) is answered with one `tool_calls` entry for its first tool, whose arguments
echo the last user message, `finish_reason: tool_calls` and no content (streamed: the call's name, then
its arguments in two pieces, as vLLM's parsers stream them). Every tool call sent is kept in
`tool_calls_sent`, so tests can compare what the client got with what the model server said.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._proc import LOOPBACK


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.time)


def _words(text: str) -> int:
    return len(text.split())


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


class FakeOpenAIBackend:
    """Start with `start()` (or as a context manager); `url` is the `api_base` to give LiteLLM."""

    def __init__(
        self,
        *,
        models: tuple[str, ...] = ("fake-model",),
        reply_prefix: str = "",
        delay_s: float = 0.0,
        completion_tokens: int | None = None,
        api_key: str | None = None,
        answer_tools: bool = True,
    ) -> None:
        self.models = list(models)
        self.answer_tools = answer_tools
        """False: a request with `tools` gets the plain text answer. An IDE agent sends its tools on every
        turn; answering each turn with a tool call would keep it calling tools until its step limit."""
        self.reply_prefix = reply_prefix
        self.delay_s = delay_s
        self.completion_tokens = completion_tokens
        self.api_key = api_key  # when set, requests must carry `Authorization: Bearer <api_key>`
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._fail_remaining = 0
        self._fail_status = 500
        self.tool_calls_sent: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "FakeOpenAIBackend":
        if self._server is not None:
            return self
        backend = self

        class Handler(_Handler):
            owner = backend

        server = _Server((LOOPBACK, 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeOpenAIBackend":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("fake backend not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL including `/v1`, as LiteLLM's `api_base` for `openai/...` models."""
        return f"http://{LOOPBACK}:{self.port}/v1"

    # ------------------------------------------------------------------ recording and knobs
    def requests(self, path_suffix: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            items = list(self._requests)
        if path_suffix is not None:
            items = [r for r in items if r.path.rstrip("/").endswith(path_suffix)]
        return items

    def completion_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests() if r.method == "POST" and r.path.rstrip("/").endswith("completions")]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self.tool_calls_sent.clear()

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._fail_remaining = count
            self._fail_status = status

    def _record(self, req: RecordedRequest) -> tuple[int | None]:
        with self._lock:
            self._requests.append(req)
            if self._fail_remaining > 0:
                self._fail_remaining -= 1
                return (self._fail_status,)
            return (None,)


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 resets connections when a burst opens dozens at once.
    request_queue_size = 1024


class _Handler(BaseHTTPRequestHandler):
    # Headers and body are written separately; with Nagle on, each answer waits ~40 ms for an ACK.
    disable_nagle_algorithm = True

    owner: FakeOpenAIBackend
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    def _authorized(self) -> bool:
        key = self.owner.api_key
        return key is None or self.headers.get("Authorization") == f"Bearer {key}"

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        path = self.path.split("?")[0].rstrip("/")
        self.owner._record(RecordedRequest("GET", self.path, dict(self.headers), None))
        if path in ("/v1/models", "/models"):
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "livestack"} for m in self.owner.models]
            return self._send_json(200, {"object": "list", "data": data})
        if path in ("/health", "/v1/health"):
            return self._send_json(200, {"status": "ok"})
        return self._send_json(404, {"error": {"message": f"no route {path}", "type": "not_found"}})

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?")[0].rstrip("/")
        body = self._read_body()
        (fail_status,) = self.owner._record(RecordedRequest("POST", self.path, dict(self.headers), body))
        if not self._authorized():
            return self._send_json(401, {"error": {"message": "bad api key", "type": "invalid_request_error"}})
        if self.owner.delay_s:
            time.sleep(self.owner.delay_s)
        if fail_status is not None:
            return self._send_json(
                fail_status, {"error": {"message": f"injected failure {fail_status}", "type": "server_error"}}
            )
        if not isinstance(body, dict):
            return self._send_json(400, {"error": {"message": "JSON body required", "type": "invalid_request_error"}})
        if path in ("/v1/chat/completions", "/chat/completions"):
            return self._chat(body)
        if path in ("/v1/completions", "/completions"):
            return self._completion(body)
        return self._send_json(404, {"error": {"message": f"no route {path}", "type": "not_found"}})

    # ------------------------------------------------------------------ completions
    def _usage(self, prompt: str, reply: str) -> dict[str, int]:
        prompt_tokens = max(1, _words(prompt))
        completion_tokens = self.owner.completion_tokens
        if completion_tokens is None:
            completion_tokens = max(1, _words(reply))
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    def _chat(self, body: dict[str, Any]) -> None:
        model = str(body.get("model", "fake-model"))
        messages = body.get("messages") or []
        prompt = " ".join(_message_text(m.get("content")) for m in messages if isinstance(m, dict))
        last_user = next(
            (_message_text(m.get("content")) for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"),
            "",
        )
        reply = f"{self.owner.reply_prefix}{model}: {last_user}"
        usage = self._usage(prompt, reply)
        ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        tools = body.get("tools") or []
        if tools and body.get("tool_choice") != "none" and self.owner.answer_tools:
            return self._tool_call(body, model, ident, created, tools, last_user, prompt)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = [
                {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
            ]
            for word in reply.split(" "):
                chunks.append({"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                               "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]})
            final = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            if include_usage:
                chunks.append(final)
                final = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                         "choices": [], "usage": usage}
            chunks.append(final)
            return self._stream(chunks)
        return self._send_json(200, {
            "id": ident,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": usage,
        })

    def _tool_call(self, body: dict[str, Any], model: str, ident: str, created: int, tools: list[Any],
                   last_user: str, prompt: str) -> None:
        name = str(((tools[0] or {}).get("function") or {}).get("name", "tool"))
        call = {"id": f"chatcmpl-tool-{uuid.uuid4().hex[:16]}", "type": "function",
                "function": {"name": name, "arguments": json.dumps({"query": last_user})}}
        with self.owner._lock:
            self.owner.tool_calls_sent.append(call)
        usage = self._usage(prompt, call["function"]["arguments"])
        if body.get("stream"):
            args = call["function"]["arguments"]
            half = len(args) // 2
            head = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model}
            chunks = [
                {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
                {**head, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                      "function": {"name": name, "arguments": ""}}]}, "finish_reason": None}]},
                {**head, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": args[:half]}}]},
                                      "finish_reason": None}]},
                {**head, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": args[half:]}}]},
                                      "finish_reason": None}]},
                {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
            ]
            if (body.get("stream_options") or {}).get("include_usage"):
                chunks.append({**head, "choices": [], "usage": usage})
            return self._stream(chunks)
        return self._send_json(200, {
            "id": ident, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                         "finish_reason": "tool_calls"}],
            "usage": usage,
        })

    def _completion(self, body: dict[str, Any]) -> None:
        if body.get("suffix") is not None:  # vLLM 0.14.0 serving_completion.py
            return self._send_json(400, {"error": {"message": "suffix is not currently supported",
                                                   "type": "BadRequestError", "code": 400}})
        model = str(body.get("model", "fake-model"))
        prompt = body.get("prompt", "")
        prompt_text = " ".join(prompt) if isinstance(prompt, list) else str(prompt)
        reply = f"{self.owner.reply_prefix}{model}: {prompt_text}"
        ident = f"cmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if body.get("stream"):
            # One chunk per word, as a model server sends one per token, and no more than `max_tokens`.
            words = reply.split(" ")
            if isinstance(body.get("max_tokens"), int) and body["max_tokens"] > 0:
                words = words[:body["max_tokens"]]
            head = {"id": ident, "object": "text_completion", "created": created, "model": model}
            chunks = [{**head, "choices": [{"index": 0, "text": (" " if i else "") + word, "finish_reason": None,
                                            "logprobs": None}]} for i, word in enumerate(words)]
            chunks.append({**head, "choices": [{"index": 0, "text": "", "finish_reason": "stop", "logprobs": None}]})
            if (body.get("stream_options") or {}).get("include_usage"):
                chunks.append({**head, "choices": [], "usage": self._usage(prompt_text, " ".join(words))})
            return self._stream(chunks)
        usage = self._usage(prompt_text, reply)
        return self._send_json(200, {
            "id": ident,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "text": reply, "finish_reason": "stop", "logprobs": None}],
            "usage": usage,
        })

    def _stream(self, chunks: list[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def litellm_model(model_name: str, backend: FakeOpenAIBackend, *, backend_model: str = "fake-model",
                  **litellm_params: Any) -> dict[str, Any]:
    """A `model_list` entry routing `model_name` to the fake backend (OpenAI-compatible provider)."""
    return {
        "model_name": model_name,
        "litellm_params": {
            "model": f"openai/{backend_model}",
            "api_base": backend.url,
            "api_key": backend.api_key or "sk-fake-backend",
            **litellm_params,
        },
    }
