"""nginx (Debian's) as a load balancer in front of drydock nodes on loopback, for tests and
benchmarks: round robin, request and response bodies streamed, a request that could not reach a
node tried on the next when it is idempotent."""
import os
import socket
import subprocess
import time

import requests


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Balancer:
    """nginx in front of the nodes listening on `ports`, its files under root."""

    def __init__(self, root, ports, sticky_uploads=False):
        """sticky_uploads: the uploads and manifests of one repository (/v2/NAME/blobs/uploads/...,
        /v2/NAME/manifests/...) go to one node (a hash of NAME), as docs/deployment.md advises: the
        node that read a push's layers as they came assesses it; else round robin for all."""
        self.root = root
        self.port = _free_port()
        os.makedirs(os.path.join(root, "logs"), exist_ok=True)
        upstream = "".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n" for p in ports)
        uploads, byrepo = "location / { proxy_pass http://nodes; }", ""
        if sticky_uploads:
            uploads = ("location ~ ^/v2/(?<repo>.+)/(blobs/uploads|manifests)/ { proxy_pass http://byrepo; }\n    "
                       + uploads)
            byrepo = f"upstream byrepo {{ hash $repo consistent; {upstream} }}"
        self.conf = os.path.join(root, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(f"""user root root;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  upstream nodes {{ {upstream} }}
  {byrepo}
  server {{
    listen 127.0.0.1:{self.port};
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_read_timeout 300s;
    proxy_next_upstream error timeout;
    {uploads}
  }}
}}
""")
        self.proc = subprocess.Popen(["nginx", "-p", root, "-c", self.conf, "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                requests.get(self.url + "/v2/", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)
