#!/usr/bin/env python3
"""A webhook receiver for the tests: records every POST as one JSON line, answers 200.

Usage: receiver.py ADDRESS PORT FILE
"""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the name http.server calls
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        record = {'time': time.time(), 'path': self.path, 'content_type': self.headers.get('Content-Type'),
                  'json': payload, 'raw': None if payload is not None else body.decode('utf-8', 'replace')}
        with open(self.server.record_path, 'a') as out:
            out.write(json.dumps(record, sort_keys=True) + '\n')
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.end_headers()
        self.wfile.write(b'ok')

    def log_message(self, *args):
        pass


def main(address, port, path):
    server = HTTPServer((address, int(port)), Handler)
    server.record_path = path
    open(path, 'a').close()
    server.serve_forever()


if __name__ == '__main__':
    main(*sys.argv[1:4])
