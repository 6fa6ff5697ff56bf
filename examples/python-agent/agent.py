#!/usr/bin/env python3
"""A minimal agent in Python, standard library only, that knows nothing of the sidecar.

Deployed with AgentService defaults it is measured, limited and drained by the sidecar's inbound
proxy: it only has to serve HTTP on its port (PORT, default 8080) and answer its probes.

  GET  /health            liveness
  GET  /ready             readiness (503 while READY_FILE exists, to show readiness following)
  POST /invoke            {"prompt": "...", "delay_ms": 50, "fail": false} -> {"answer": "..."}
  GET  /stream?n=3        text/event-stream, one event every 50 ms
"""
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Agent(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the sidecar's pool reuses connections
    server_version = "python-agent/1.0"

    def log_message(self, fmt, *args):  # quiet: one line per request is the sidecar's job
        pass

    def _json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            return self._json(200, {"status": "ok"})
        if url.path == "/ready":
            ready_file = os.environ.get("READY_FILE")
            if ready_file and os.path.exists(ready_file):
                return self._json(503, {"status": "not ready"})
            return self._json(200, {"status": "ready"})
        if url.path == "/stream":
            n = int(parse_qs(url.query).get("n", ["3"])[0])
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for i in range(n):
                event = f"data: {json.dumps({'token': i})}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
                time.sleep(0.05)
            self.wfile.write(b"0\r\n\r\n")
            return None
        return self._json(404, {"error": "not found"})

    def do_POST(self):
        if urlparse(self.path).path != "/invoke":
            return self._json(404, {"error": "not found"})
        length = int(self.headers.get("content-length") or 0)
        try:
            req = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._json(400, {"error": "bad json"})
        time.sleep(float(req.get("delay_ms", 20)) / 1000)
        if req.get("fail"):
            return self._json(500, {"error": "the model call failed"})
        return self._json(200, {"answer": f"echo: {req.get('prompt', '')}"})


def main():
    port = int(os.environ.get("PORT", "8080"))
    # Loopback by default: in the pod, only the sidecar's proxy needs to reach it.
    host = os.environ.get("HOST", "127.0.0.1")
    server = ThreadingHTTPServer((host, port), Agent)
    server.daemon_threads = True
    print(f"python agent listening on {host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
