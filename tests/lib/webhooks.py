"""A webhook receiver on loopback for tests: records every POST it gets."""
import http.server
import json
import threading
import time


class Receiver:
    """A webhook receiver on loopback: records every POST (headers, raw body, parsed body);
    answers 503 while `down`."""

    def __init__(self):
        rec = self
        self.events, self.down, self.refused = [], False, 0
        self.hold = None       # a threading.Event the answer waits for
        self.truncate = False  # answer 200 with a body announced and never sent

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if rec.hold is not None:
                    rec.hold.wait(30)
                if rec.down:
                    rec.refused += 1
                    self.send_response(503)
                elif rec.truncate:
                    rec.events.append((dict(self.headers), body, json.loads(body)))
                    self.send_response(200)
                    self.send_header("Content-Length", "100")
                    self.end_headers()
                    self.wfile.flush()
                    self.close_connection = True
                    return
                else:
                    rec.events.append((dict(self.headers), body, json.loads(body)))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, n, timeout=60, what=lambda e: True):
        deadline = time.time() + timeout
        while time.time() < deadline and len([e for _, _, e in self.events if what(e)]) < n:
            time.sleep(0.1)
        return [e for _, _, e in self.events if what(e)]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
