#!/usr/bin/env python3
"""A fake Kubernetes API server for testing the image's helper scripts (HTTPS on 127.0.0.1).

Serves GET /api/v1/nodes/NAME from --nodes (JSON {name: labels}), and GET/POST of Secrets in
memory. Checks the bearer token on every request. Writes its port to --port_file and every
request as a JSON line to --log. --fail_status makes every request answer that status.
"""
import argparse
import json
import re
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--nodes", default="{}")
    p.add_argument("--secrets", default="{}", help="JSON {namespace/name: secret object}")
    p.add_argument("--port_file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--fail_status", type=int, default=0)
    p.add_argument("--conflict_on_post", action="store_true")
    a = p.parse_args()
    nodes = json.loads(a.nodes)
    secrets = json.loads(a.secrets)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def record(self, body=None):
            with open(a.log, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path, "body": body}) + "\n")

        def authorized(self):
            if self.headers.get("Authorization") != "Bearer " + a.token:
                self.reply(401, {"kind": "Status", "code": 401})
                return False
            if a.fail_status:
                self.reply(a.fail_status, {"kind": "Status", "code": a.fail_status})
                return False
            return True

        def do_GET(self):
            self.record()
            if not self.authorized():
                return
            m = re.fullmatch(r"/api/v1/nodes/([^/]+)", self.path)
            if m:
                if m.group(1) in nodes:
                    return self.reply(200, {"kind": "Node", "metadata": {
                        "name": m.group(1), "labels": nodes[m.group(1)]}})
                return self.reply(404, {"kind": "Status", "code": 404})
            m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/secrets/([^/]+)", self.path)
            if m:
                key = m.group(1) + "/" + m.group(2)
                if key in secrets:
                    return self.reply(200, secrets[key])
                return self.reply(404, {"kind": "Status", "code": 404})
            self.reply(404, {"kind": "Status", "code": 404})

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            obj = json.loads(body)
            self.record(obj)
            if not self.authorized():
                return
            m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/secrets", self.path)
            if not m:
                return self.reply(404, {"kind": "Status", "code": 404})
            key = m.group(1) + "/" + obj["metadata"]["name"]
            if key in secrets or a.conflict_on_post:
                return self.reply(409, {"kind": "Status", "code": 409})
            secrets[key] = obj
            self.reply(201, obj)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
