"""A bazel-remote-style HTTP cache on 127.0.0.1 for the go_cacheprog tests: GET/PUT /ac/<hex> and /cas/<hex>.

Shared by tests/unit/test_go_cacheprog.py and tests/integration/test_go_cacheprog_real_go.py.
"""

import http.server
import threading
import time


class CacheServer:
    """The store is a dict {'/ac/<hex>': bytes, '/cas/<hex>': bytes}. A PUT needs `Authorization: Bearer
    <token>` when token is set (GET never does). delay: seconds each request waits before its answer,
    or a function of the path that returns them. drop_after: the number of requests answered before every
    later one is dropped unanswered (the connection closed), as a server that goes away does. requests:
    (method, path, Authorization header) of each request seen. host: the address to listen on (the
    Docker bridge's gateway, for containers)."""

    def __init__(self, token=None, delay=0.0, drop_after=None, host='127.0.0.1'):
        self.store = {}
        self.token = token
        self.delay = delay
        self.drop_after = drop_after
        self.requests = []
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _path(self):
                parts = self.path.split('/')
                if len(parts) != 3 or parts[1] not in ('ac', 'cas') or len(parts[2]) != 64:
                    self.send_error(404)
                    return None
                return self.path

            def _wait(self):
                """Whether to answer this request (False: it is dropped, the connection closed)."""
                with server.lock:
                    server.requests.append((self.command, self.path, self.headers.get('Authorization')))
                    dropped = server.drop_after is not None and len(server.requests) > server.drop_after
                if dropped:
                    self.close_connection = True
                    return False
                delay = server.delay(self.path) if callable(server.delay) else server.delay
                if delay:
                    time.sleep(delay)
                return True

            def do_GET(self):
                if not self._wait():
                    return
                path = self._path()
                if path is None:
                    return
                with server.lock:
                    body = server.store.get(path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self):
                if not self._wait():
                    return
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                if server.token and self.headers.get('Authorization') != 'Bearer ' + server.token:
                    self.send_error(401)
                    return
                path = self._path()
                if path is None:
                    return
                with server.lock:
                    server.store[path] = body
                self.send_response(200)
                self.send_header('Content-Length', '0')
                self.end_headers()

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that timed out and hung up: what the slow-server tests provoke

        self.httpd = Server((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = 'http://%s:%d' % (host, self.httpd.server_address[1])
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Stop answering and close the port: later connections are refused."""
        if self.thread is not None:
            self.httpd.shutdown()
            self.thread.join()
            self.thread = None
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def keys(self, kind):
        with self.lock:
            return sorted(k for k in self.store if k.startswith('/%s/' % kind))
