"""The model server's metrics port: GET of a fixed list of paths, copied from vLLM on loopback.

vLLM 0.14.0 serves its API, its control routes (`/pause`, `/scale_elastic_ep`, ...) and `/metrics` on
one port and checks its API key on `/v1*` only (`llmplatform/serving/vllm_routes.json`), and it has no
option to serve metrics elsewhere. So the serving port is open to the inference gateway alone, and the
scrapers (the endpoint picker, Prometheus) reach this sidecar instead: it answers `GET` on the paths
given with `--path` by fetching the same path from `127.0.0.1:<upstream>`; any other path is 404, any
other method 501 (the standard library's answer), a query string is dropped.

Standard library only: it runs as `python3 -c <this file>` in the vLLM image the pod already pulled,
so no second image is trusted. `main` is what the container runs; tests run it the same way.
"""

from __future__ import annotations

import argparse
import http.server
import urllib.error
import urllib.request


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="metrics-only proxy in front of vLLM")
    parser.add_argument("--listen", type=int, required=True, help="port to serve on (all addresses)")
    parser.add_argument("--upstream", type=int, required=True, help="vLLM's port on 127.0.0.1")
    parser.add_argument("--path", action="append", required=True, help="a path to forward (repeatable)")
    parser.add_argument("--bind", default="0.0.0.0")
    args = parser.parse_args(argv)
    allowed = frozenset(args.path)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            path = self.path.split("?", 1)[0]
            if path not in allowed:
                self.send_error(404)
                return
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{args.upstream}{path}", timeout=10) as resp:
                    status, body = resp.status, resp.read()
                    content_type = resp.headers.get("Content-Type", "text/plain")
            except urllib.error.HTTPError as err:
                status, body, content_type = err.code, b"", "text/plain"
            except OSError:
                self.send_error(502)
                return
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *fmt_args: object) -> None:  # noqa: A002
            pass  # a scrape every few seconds would flood the pod log

    http.server.ThreadingHTTPServer((args.bind, args.listen), Handler).serve_forever()


if __name__ == "__main__":
    main()
