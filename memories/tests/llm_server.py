"""A small OpenAI-compatible chat server on 127.0.0.1: the one stand-in the tests use, in place of a remote LLM.

It answers /v1/chat/completions with the replies queued by the test (or a default), and records requests,
so the real provider code (mem0's OpenAI LLM, the openai client) runs over real HTTP.
"""
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeLLM:
    def __init__(self):
        # str content, or a marker: ("status", 500) fails; ("sleep", s) answers late; ("hold", threading.Event())
        # answers (the default) once the test sets the event: an order the test controls, not a time.
        self.replies: deque = deque()
        self.default = '{"memory": []}'
        # /v1/embeddings: the vector of each text, as the test sets them (any length: an embedder that does not
        # normalise); a text it did not set gets [1, 0, 0, ...].
        self.vectors: dict[str, list[float]] = {}
        self.requests: list[dict] = []
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def reply(self, *contents):
        self.replies.extend(contents)

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path.endswith("/embeddings"):
                    return self._embeddings(body)
                fake.requests.append(body)
                reply = fake.replies.popleft() if fake.replies else fake.default
                if isinstance(reply, tuple) and reply[0] == "sleep":
                    time.sleep(reply[1])
                    reply = fake.default
                if isinstance(reply, tuple) and reply[0] == "hold":
                    reply[1].wait(60)
                    reply = fake.default
                if isinstance(reply, tuple) and reply[0] == "status":
                    return self._send(reply[1], {"error": {"message": "injected failure", "type": "server_error"}})
                self._send(200, {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", "test"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": reply}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                })

            def _embeddings(self, body):
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                dims = len(next(iter(fake.vectors.values()), [1.0, 0.0, 0.0]))
                data = [{"object": "embedding", "index": i,
                         "embedding": fake.vectors.get(text, [1.0] + [0.0] * (dims - 1))} for i, text in enumerate(texts)]
                self._send(200, {"object": "list", "data": data, "model": body.get("model", "test"),
                                 "usage": {"prompt_tokens": 1, "total_tokens": 1}})

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
