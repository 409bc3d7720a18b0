"""An HTTP proxy in front of adc-server that misbehaves on purpose, for the retry tests of
adc imp: it answers some requests with a status of its choice (429 with Retry-After, 503), or
forwards a request and then drops the connection without answering (the write happened, the
client never hears of it).

    with FaultyProxy(server.url, {"/scim/v2/Bulk": ["429", "ok", "drop"]}) as proxy:
        proxy.url; proxy.seen  # [(method, path, status answered or "drop"), ...]
The n-th request whose path starts with a key gets the n-th fault of its list ("ok" forwards).
A fault may also be a function, called with (method, path, body) before the request is
forwarded (something else happens at the server just before this request reaches it); it
returns None to forward the request, a fault of the list's kind ("drop", "429", "503"), or
(status, JSON body) to answer in the server's place. A key may map to one such function
instead of a list: it then decides for every request under that path.
"""
import http.client
import json
import http.server
import threading
import urllib.parse


class FaultyProxy:
    def __init__(self, upstream, faults):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.faults = {k: v if callable(v) else list(v) for k, v in faults.items()}
        self.seen = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                fault = proxy._next_fault(self.path)
                if callable(fault):
                    fault = fault(self.command, self.path, body) or "ok"
                if isinstance(fault, tuple):
                    status, answer = fault
                    with proxy.lock:
                        proxy.seen.append((self.command, self.path, status))
                    msg = json.dumps(answer).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/scim+json")
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                if fault in ("429", "503"):
                    with proxy.lock:
                        proxy.seen.append((self.command, self.path, int(fault)))
                    msg = b'{"detail":"injected"}'
                    self.send_response(int(fault))
                    if fault == "429":
                        self.send_header("Retry-After", "1")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port,
                                                  timeout=120)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "accept-encoding")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                with proxy.lock:
                    proxy.seen.append((self.command, self.path,
                                       "drop" if fault == "drop" else resp.status))
                if fault == "drop":
                    self.close_connection = True  # done upstream, never answered
                    return
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]

    def _next_fault(self, path):
        with self.lock:
            for prefix, todo in self.faults.items():
                if path.startswith(prefix) and callable(todo):
                    return todo
                if path.startswith(prefix) and todo:
                    return todo.pop(0)
        return "ok"

    def __enter__(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        return False
