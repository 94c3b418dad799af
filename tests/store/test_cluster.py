"""Many nodes, one registry: three `drydock serve` nodes sharing a real PostgreSQL (Debian's,
started here as an unprivileged user) for metadata and a real S3 (Ceph radosgw) for blobs, with
nginx (Debian's) in front as the load balancer. Real clients push through the balancer and pull
from each node directly; scans are spread over the nodes; a node killed with SIGKILL in the
middle of a burst of pushes, or of scans, loses nothing that was acknowledged, and every image
ends assessed (the scans it had claimed are claimed again when their lease runs out)."""
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import (ADMIN_PASSWORD, BIN, VULNDATA, OCI_MANIFEST, Server, cached_images, make_image, sha256,  # noqa: E402
                     wait_assessed)
from balancer import Balancer  # noqa: E402
from webhooks import Receiver  # noqa: E402
import pgserver  # noqa: E402
import engines  # noqa: E402
import s3server  # noqa: E402

LOGIN_FREE_FAILURES = 5  # auth/ratelimit.h
LEASE = 4  # seconds a claimed scan stays its node's (scan-lease), short for the kill tests


@pytest.fixture(scope="module")
def services():
    missing = s3server.missing() + pgserver.missing() + ([] if shutil.which("nginx") else ["nginx"])
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run scripts/deps.sh")
    root = tempfile.mkdtemp(prefix="drydock-test-cluster-")
    s3 = s3server.S3Server(os.path.join(root, "ceph"))
    os.makedirs(s3.root)
    pg = pgserver.PgServer(tempfile.mkdtemp(prefix="drydock-test-pg-"))  # its user reaches it from /tmp
    try:
        s3.start()
        pg.start()
        yield s3, pg
    finally:
        s3.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(pg.root, ignore_errors=True)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("db") / "vulndb.ddb")
    subprocess.run([BIN, "db", "import", "--db", path, os.path.join(VULNDATA, "debian-osv"),
                    os.path.join(VULNDATA, "languages")], check=True, capture_output=True, timeout=600)
    return path


class Cluster:
    def __init__(self, services, db, n=3, workers=1, extra=(), auth=False, env=None):
        s3, pg = services
        self.bucket = "c" + os.urandom(8).hex()
        self.metadata = pg.new_database()
        self.pg = pg
        dbs = db if isinstance(db, list) else [db] * n  # each node's own file, or one for all
        self.nodes = [Server(auth=auth, env=env, extra_args=s3.settings(self.bucket) + [
            "--metadata", self.metadata, "--db", dbs[i], "--scan-workers", str(workers), "--scan-lease", f"{LEASE}s"]
            + list(extra)) for i in range(n)]
        # started at once, as a cluster's nodes come up: the first to reach the database makes
        # the schema, the first administrator and the token key, the others use them
        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            list(pool.map(lambda node: node.start(), self.nodes))
        self.root = tempfile.mkdtemp(prefix="drydock-test-nginx-")
        self.lb = Balancer(self.root, [node.port for node in self.nodes])

    def scans(self, node):
        """Assessments node completed since its start (its /metrics)."""
        text = requests.get(f"{node.url}/metrics", timeout=10).text
        return sum(int(n) for n in re.findall(r'^drydock_scans_total\{[^}]*\} (\d+)', text, re.M))

    def sql(self, query):
        return pgserver.psql(self.metadata, query).strip()

    def stop(self):
        self.lb.stop()
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def cluster(services, db):
    c = Cluster(services, db)
    yield c
    c.stop()


def test_three_nodes_serve_one_registry(cluster, tmp_path):
    images = cached_images()
    app = os.path.join(cached_images("build-app.sh"), "app")
    host = cluster.lb.url.split("//")[1]
    # skopeo and podman push through the balancer: their requests land on every node, an upload
    # started on one going on on another
    for name, layout in (("lib/big", f"{images}/debian-big"), ("lib/app", app)):
        subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}", f"docker://{host}/{name}:1"],
                       check=True, capture_output=True, timeout=600)
    store = tempfile.mkdtemp(prefix="drydock-podman-")
    podman = engines.podman(store)
    try:
        for args in (["pull", "-q", "--tls-verify=false", f"{host}/lib/app:1"],
                     ["push", "-q", "--tls-verify=false", f"{host}/lib/app:1", f"docker://{host}/lib/app-copy:1"]):
            p = subprocess.run(podman + args, capture_output=True, text=True, timeout=600)
            assert p.returncode == 0, p.stderr
    finally:
        subprocess.run(["rm", "-rf", store])
    # every node serves both, byte for byte, and has the same assessment
    accept = {"Accept": f"{OCI_MANIFEST},application/vnd.docker.distribution.manifest.v2+json"}
    for name in ("lib/big", "lib/app", "lib/app-copy"):
        want = wait_assessed(cluster.lb.url, name, "1", timeout=300)
        assert want["status"] == "Unhealthy", want
        for node in cluster.nodes:
            r = requests.get(f"{node.url}/v2/{name}/manifests/1", headers=accept, timeout=30)
            assert r.status_code == 200, r.text
            for layer in r.json()["layers"]:
                g = requests.get(f"{node.url}/v2/{name}/blobs/{layer['digest']}", timeout=120)
                assert g.status_code == 200 and sha256(g.content) == layer["digest"]
            got = wait_assessed(node.url, name, "1", timeout=10)
            assert (got["status"], got.get("summary")) == (want["status"], want.get("summary"))
    # every node reads the same totals and their history
    answers = [[requests.get(f"{node.url}{path}").json() for path in ("/api/v1/summary", "/api/v1/trend")]
               for node in cluster.nodes]
    assert answers[0][1]["days"] and all(a == answers[0] for a in answers), answers
    out = str(tmp_path / "pulled")
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{cluster.nodes[2].url.split('//')[1]}"
                    "/lib/big:1", f"oci:{out}"], check=True, capture_output=True, timeout=600)
    # a burst of small pushes: the scans are spread over the nodes
    s = requests.Session()
    for i in range(24):
        m = make_image(s, cluster.lb.url, f"burst/i{i}", seed=f"b{i}".encode())
        assert s.put(f"{cluster.lb.url}/v2/burst/i{i}/manifests/1", data=m,
                     headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    for i in range(24):
        wait_assessed(cluster.lb.url, f"burst/i{i}", "1", timeout=120)
    per_node = [cluster.scans(node) for node in cluster.nodes]
    # each push is a write transaction of the node that took its manifest (/metrics counts them)
    writes = [int(re.search(r"^drydock_metadata_write_transactions_total (\d+)",
                            requests.get(f"{node.url}/metrics").text, re.M).group(1)) for node in cluster.nodes]
    assert sum(writes) >= 24 + 27, writes  # the manifests, and the stored assessments
    assert sum(per_node) >= 27, per_node
    assert sum(1 for n in per_node if n) >= 2, per_node  # more than one node scanned
    # each node heard of the scans every other queued (LISTEN/NOTIFY): idle workers start at once
    assert all(notices(node) > 0 for node in cluster.nodes), [notices(node) for node in cluster.nodes]
    # tags and deletes are seen by every node at once
    d = requests.get(f"{cluster.nodes[0].url}/v2/burst/i0/manifests/1", headers=accept).headers["Docker-Content-Digest"]
    assert requests.delete(f"{cluster.nodes[1].url}/v2/burst/i0/manifests/{d}").status_code == 202
    for node in cluster.nodes:
        assert requests.get(f"{node.url}/v2/burst/i0/manifests/1", headers=accept).status_code == 404
    assert cluster.sql("SELECT count(*) FROM scan_jobs") == "0"
    # PostgreSQL ends every session of the nodes (a restart, a failover): the next requests are
    # served on new connections, none answered with an error
    cluster.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname=current_database()"
                " AND pid <> pg_backend_pid()")
    for node in cluster.nodes:
        for path in ("/v2/_catalog", "/v2/lib/big/tags/list", "/api/v1/summary"):
            r = requests.get(f"{node.url}{path}")
            assert r.status_code == 200, (node.url, path, r.status_code, r.text)
    heard = [notices(node) for node in cluster.nodes]
    deadline = time.time() + 30  # every node listening again (a notice sent before is not heard)
    while cluster.sql("SELECT count(*) FROM pg_stat_activity WHERE datname=current_database()"
                      " AND query='LISTEN drydock_scans'") != str(len(cluster.nodes)):
        assert time.time() < deadline
        time.sleep(0.2)
    m = make_image(s, cluster.lb.url, "burst/after", seed=b"after")
    assert s.put(f"{cluster.lb.url}/v2/burst/after/manifests/1", data=m,
                 headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    # and listen again on a new session: the next push is heard by every node
    deadline = time.time() + 30
    while any(notices(node) == h for node, h in zip(cluster.nodes, heard)):
        assert time.time() < deadline, (heard, [notices(node) for node in cluster.nodes])
        time.sleep(0.2)


def notices(node):
    """Notices node heard that a node of the cluster queued scans (its /metrics)."""
    text = requests.get(f"{node.url}/metrics", timeout=10).text
    return int(re.search(r"^drydock_scan_notices_total (\d+)", text, re.M).group(1))


def push_one(url, i, tries=20):
    """Pushes image i through the balancer, trying again (as a client would) while a node is
    down: the digest of its manifest once acknowledged (201), or None."""
    s = requests.Session()
    for _ in range(tries):
        try:
            m = make_image(s, url, f"kill/i{i}", seed=f"k{i}-{os.urandom(4).hex()}".encode())
            r = s.put(f"{url}/v2/kill/i{i}/manifests/1", data=m, headers={"Content-Type": OCI_MANIFEST}, timeout=30)
            if r.status_code == 201:
                return sha256(m)
        except (requests.ConnectionError, AssertionError, requests.Timeout):
            pass
        time.sleep(0.2)
    return None


@pytest.mark.parametrize("during", ["pushes", "scans"])
def test_a_node_killed_loses_nothing_acknowledged(services, db, during):
    c = Cluster(services, db, workers=1)
    try:
        victim = c.nodes[1]
        n = 40
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(push_one, c.lb.url, i) for i in range(n)]
            if during == "pushes":
                time.sleep(0.5)
                os.kill(victim.proc.pid, signal.SIGKILL)
            pushed = {i: f.result() for i, f in enumerate(futures)}
        assert all(pushed.values()), pushed
        if during == "scans":
            # the victim dies holding claimed scans (or about to claim them)
            deadline = time.time() + 30
            while time.time() < deadline and c.sql("SELECT count(*) FROM scan_jobs") == "0":
                time.sleep(0.05)
            os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(timeout=10)
        alive = [node for node in c.nodes if node is not victim]
        for i, digest in pushed.items():
            for node in alive:  # every acknowledged push is there, whole, on every live node
                r = requests.get(f"{node.url}/v2/kill/i{i}/manifests/1", headers={"Accept": OCI_MANIFEST})
                assert r.status_code == 200 and sha256(r.content) == digest, (i, r.status_code)
                for b in [r.json()["config"]] + r.json()["layers"]:
                    assert requests.head(f"{node.url}/v2/kill/i{i}/blobs/{b['digest']}").status_code == 200
            wait_assessed(alive[0].url, f"kill/i{i}", "1", timeout=LEASE * 10 + 60)
        assert c.sql("SELECT count(*) FROM scan_jobs") == "0"
        assert c.sql("SELECT count(*) FROM assessments WHERE repo LIKE 'kill/%'") == str(n)
    finally:
        c.stop()


def test_nodes_share_accounts_tokens_and_one_first_administrator(services, db):
    c = Cluster(services, db, auth=True, env={"DRYDOCK_ADMIN_PASSWORD": ""}, extra=["--scan-workers", "0"])
    try:
        logs = []
        for node in c.nodes:
            with open(node.log_path) as f:
                logs.append(f.read())
        made = [m for log in logs for m in re.findall(r"created the administrator account 'admin' with password (\S+)",
                                                       log)]
        assert len(made) == 1, logs  # one node made it and told its password; the others found it
        admin = ("admin", made[0])
        for node in c.nodes:
            assert requests.get(f"{node.url}/v2/", auth=admin).status_code == 200
        # a token one node signs is good on every node (one signing key, kept in the database)
        r = requests.get(f"{c.nodes[0].url}/auth/token", auth=admin,
                         params={"service": "drydock", "scope": "repository:t/x:pull,push"})
        assert r.status_code == 200, r.text
        bearer = {"Authorization": f"Bearer {r.json()['token']}"}
        for node in c.nodes:
            r = requests.post(f"{node.url}/v2/t/x/blobs/uploads/?digest={sha256(b'a')}", data=b"a", headers=bearer)
            assert r.status_code == 201, (node.url, r.status_code, r.text)
        assert not os.path.exists(os.path.join(c.nodes[1].data_dir, "token-key.pem"))
    finally:
        c.stop()


def test_failed_logins_spread_over_the_nodes_lock_as_on_one(services, db):
    """A balancer spreads one client's password guesses over the nodes: the account is locked
    after five in all (counted in the database), not five on each node; a login on any node is
    refused until the lock ends (tests/unit: a success on any node clears the count, a count
    starts again after its window, a full table fails closed). The balancer's X-Forwarded-For
    is believed (trusted-proxies), so the guesses count for the client, not for nginx."""
    c = Cluster(services, db, n=3, auth=True, extra=["--scan-workers", "0", "--trusted-proxies", "127.0.0.1"])
    try:
        admin = ("admin", ADMIN_PASSWORD)
        for i in range(LOGIN_FREE_FAILURES - 1):  # one to each node in turn
            assert requests.get(f"{c.lb.url}/v2/", auth=("admin", f"guess{i}")).status_code == 401
        assert requests.get(f"{c.lb.url}/v2/", auth=("admin", "guess")).status_code == 401  # the fifth
        for node in c.nodes + [c.lb]:
            r = requests.get(f"{node.url}/v2/", auth=admin)
            assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 30, (node.url, r.status_code)
        # no name a client typed is kept in the database, only their digests
        keys = c.sql("SELECT string_agg(key, ' ') FROM login_failures")
        assert "admin" not in keys and "127.0.0.1" not in keys and keys.startswith(("a:", "i:")), keys
        # guesses sent all at once: a node checks one login of an account at a time, so only those
        # in flight on the other nodes when the fifth failure is counted get past it
        c.sql("DELETE FROM login_failures")
        for node in c.nodes:  # and each node's own count (a success clears it)
            assert requests.get(f"{node.url}/v2/", auth=admin).status_code == 200
        codes = []
        with concurrent.futures.ThreadPoolExecutor(48) as pool:
            codes = list(pool.map(lambda i: requests.get(f"{c.lb.url}/v2/", auth=("admin", f"rush{i}")).status_code,
                                  range(48)))
        assert sorted(set(codes)) == [401, 429], codes
        assert codes.count(401) <= LOGIN_FREE_FAILURES + len(c.nodes) - 1, codes
    finally:
        c.stop()


def test_each_webhook_event_is_delivered_by_one_node(services, db):
    rx = Receiver()
    c = Cluster(services, db, extra=["--webhook", rx.url])
    try:
        s = requests.Session()
        n = 12
        for i in range(n):
            m = make_image(s, c.lb.url, f"hook/i{i}", seed=f"h{i}".encode())
            assert s.put(f"{c.lb.url}/v2/hook/i{i}/manifests/1", data=m,
                         headers={"Content-Type": OCI_MANIFEST}).status_code == 201
        rx.wait(2 * n, timeout=120)
        time.sleep(3)  # three deliverers polling each second: time for any duplicate to arrive
        events = [e for _, _, e in rx.events]
        ids = [e["id"] for e in events]
        assert len(ids) == 2 * n and len(set(ids)) == 2 * n, ids  # pushed and completed, once each
        pushed = [e["repository"] for e in events if e["event"] == "image.pushed"]
        assert pushed == [f"hook/i{i}" for i in range(n)]  # in the order they were made
        assert c.sql("SELECT count(*) FROM outbox") == "0"
        hooks = requests.get(f"{c.nodes[0].url}/api/v1/webhooks").json()["webhooks"]
        assert [h["delivery"]["delivered"] for h in hooks] == [2 * n]
    finally:
        c.stop()
        rx.close()


def test_a_collection_on_one_node_holds_up_blob_commits_on_every_node(services, db):
    """The garbage collector's lock is the database's: while it is held (here by psql, as a
    collection on any node holds it), a blob upload's last step on any node waits for it."""
    c = Cluster(services, db, extra=["--scan-workers", "0"])
    key = 0x647279646f636b + 1
    holder = subprocess.Popen(["psql", "-X", "-q", c.metadata, "-c", f"SELECT pg_advisory_lock({key})",
                               "-c", "SELECT pg_sleep(600)"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and c.sql(
                f"SELECT count(*) FROM pg_locks WHERE locktype='advisory' AND objid={key & 0xffffffff} AND granted") != "1":
            time.sleep(0.1)
        done = {}

        def put(node):
            data = os.urandom(1000)
            done[node.url] = requests.post(f"{node.url}/v2/gc/x/blobs/uploads/?digest={sha256(data)}", data=data,
                                           timeout=120).status_code
        threads = [threading.Thread(target=put, args=(node,)) for node in c.nodes]
        for t in threads:
            t.start()
        # every node's commit waits on the lock
        deadline = time.time() + 30
        while time.time() < deadline and c.sql(
                f"SELECT count(*) FROM pg_locks WHERE locktype='advisory' AND objid={key & 0xffffffff} AND NOT granted") \
                != str(len(c.nodes)):
            time.sleep(0.1)
        assert not done, done
        # the collection ends: its session goes, and with it the lock
        c.sql(f"SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype='advisory' AND objid={key & 0xffffffff}"
              " AND granted")
        holder.wait(timeout=10)
        for t in threads:
            t.join(timeout=60)
        assert sorted(done.values()) == [201] * len(c.nodes), done
    finally:
        holder.kill()
        c.stop()


def gz_layer(seed):
    """A small gzip-compressed tar, different for each seed."""
    import gzip
    import io
    import tarfile
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = f"layer {seed}\n".encode() * 100
        info = tarfile.TarInfo(f"etc/seed-{seed}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


def streamed(node):
    text = requests.get(f"{node.url}/metrics", timeout=10).text
    return int(re.search(r"^drydock_layers_streamed_total (\d+)", text, re.M).group(1))


def test_uploads_finished_on_another_node_give_back_what_they_held(services, db):
    """docker's POST, PATCH, PUT through a round-robin balancer: the node that read an upload's
    bytes as they came (its analysis, a stream of the scanner) sees another node finish it. It lets
    go of it within seconds: its own next uploads are analysed as they arrive again."""
    c = Cluster(services, db, n=2, workers=1)
    try:
        a, b = c.nodes
        for i in range(5):  # more than the streams a node analyses at once
            layer = gz_layer(f"x{i}")
            r = requests.post(f"{a.url}/v2/cross/x/blobs/uploads/")
            assert r.status_code == 202, r.text
            loc = r.headers["Location"]
            r = requests.patch(f"{a.url}{loc}", data=layer, headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 202, r.text
            r = requests.put(f"{b.url}{r.headers['Location']}", params={"digest": sha256(layer)})
            assert r.status_code == 201, r.text
        time.sleep(10)  # the janitor's sweep (every 10 s)
        deadline = time.time() + 40
        for i in range(1000):  # a new local upload every 2 s, until one is read as it arrives
            before = streamed(a)
            layer = gz_layer(f"local{i}")
            r = requests.post(f"{a.url}/v2/cross/x/blobs/uploads/")
            loc = r.headers["Location"]
            r = requests.patch(f"{a.url}{loc}", data=layer, headers={"Content-Type": "application/octet-stream"})
            r = requests.put(f"{a.url}{r.headers['Location']}", params={"digest": sha256(layer)})
            assert r.status_code == 201, r.text
            wait = time.time() + 2
            while time.time() < wait and streamed(a) == before:
                time.sleep(0.2)
            if streamed(a) > before:
                break
            assert time.time() < deadline, "the node still holds the streams of uploads finished elsewhere"
    finally:
        c.stop()


def test_an_upload_in_use_on_one_node_is_refused_on_another(services, db):
    """A PATCH whose body is still coming on one node holds its session on every node: a
    client's retry reaching another node meanwhile (a PATCH, a PUT, a DELETE) gets 409, as on one
    node, instead of writing the same session at the same time. Once the first ends, the session
    goes on from either node; a node killed while it holds one lets go of it."""
    import select
    import socket
    c = Cluster(services, db, n=2, extra=["--scan-workers", "0"])
    try:
        a, b = c.nodes
        loc = requests.post(f"{a.url}/v2/held/x/blobs/uploads/").headers["Location"]

        def hold(node, first=b"12345", length=10, head=""):
            """A PATCH of which the first bytes came, on a connection of its own: held once the
            other node refuses a request for the session (its hold on every node is taken just
            after its own node's)."""
            sock = socket.create_connection(("127.0.0.1", node.port))
            sock.sendall(f"PATCH {loc} HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {length}\r\n\r\n".encode() + first)
            deadline = time.time() + 30
            other = b if node is a else a
            while requests.patch(f"{other.url}{loc}", data=b"").status_code != 409:
                assert time.time() < deadline, "the PATCH never held its session"
                if select.select([sock], [], [], 0)[0]:  # the probe had it when the PATCH came: again
                    sock.close()
                    return hold(node, first, length, head)
                time.sleep(0.05)
            return sock

        sock = hold(a)
        r = requests.patch(f"{b.url}{loc}", data=b"abcde")
        assert r.status_code == 409 and r.json()["errors"][0]["code"] == "BLOB_UPLOAD_INVALID", r.text
        assert requests.put(f"{b.url}{loc}", params={"digest": sha256(b"x")}).status_code == 409
        assert requests.delete(f"{b.url}{loc}").status_code == 409
        sock.sendall(b"67890")
        assert sock.recv(4096).startswith(b"HTTP/1.1 202")
        sock.close()
        r = requests.patch(f"{b.url}{loc}", data=b"abcde", headers={"Content-Range": "10-14"})
        assert r.status_code == 202 and r.headers["Range"] == "0-14", r.text
        data = b"1234567890abcde"
        r = requests.put(f"{a.url}{loc}", params={"digest": sha256(data)})
        assert r.status_code == 201, r.text
        assert requests.get(f"{b.url}/v2/held/x/blobs/{sha256(data)}").content == data

        # the database ends the session holding it while the PATCH still runs (a failover, a link
        # cut): the other node may take the session, and the first, finding its hold gone before
        # it writes, refuses and leaves the session as the other left it
        loc = requests.post(f"{a.url}/v2/held/x/blobs/uploads/").headers["Location"]
        sock = hold(a)
        assert requests.patch(f"{b.url}{loc}", data=b"abc").status_code == 409
        c.sql("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype='advisory' AND granted"
              " AND classid >= 1073741824")  # the session holding it: a hold's key has bit 62 set
        # pg_terminate_backend returns before the session has ended and let go of its locks
        deadline = time.time() + 30
        while c.sql("SELECT count(*) FROM pg_locks WHERE locktype='advisory' AND granted"
                    " AND classid >= 1073741824") != "0":
            assert time.time() < deadline, "the terminated session kept its hold"
            time.sleep(0.05)
        r = requests.patch(f"{b.url}{loc}", data=b"abcde")
        assert r.status_code == 202 and r.headers["Range"] == "0-4", r.text
        sock.sendall(b"67890")
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 409"), answer
        sock.close()
        r = requests.put(f"{a.url}{loc}", params={"digest": sha256(b"abcde")})
        assert r.status_code == 201, r.text
        assert requests.get(f"{a.url}/v2/held/x/blobs/{sha256(b'abcde')}").content == b"abcde"

        # the same with whole parts of S3's multipart upload (8 MiB): the bytes the first node still
        # sends after its hold went (a part of the same number) must not end in the blob the
        # other node finishes under its digest
        part = 8 << 20
        loc = requests.post(f"{b.url}/v2/held/x/blobs/uploads/").headers["Location"]
        r = requests.patch(f"{b.url}{loc}", data=b"0" * part)
        assert r.status_code == 202, r.text
        sock = hold(a, b"A" * (1 << 20), 2 * part, f"Content-Range: {part}-{3 * part - 1}\r\n")
        c.sql("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype='advisory' AND granted"
              " AND classid >= 1073741824")
        deadline = time.time() + 30
        while (r := requests.patch(f"{b.url}{loc}", data=b"B" * (part + (1 << 20)),
                                   headers={"Content-Range": f"{part}-{2 * part + (1 << 20) - 1}"})).status_code == 409:
            assert time.time() < deadline, "the lost hold was never let go"
            time.sleep(0.1)
        assert r.status_code == 202, r.text
        sock.sendall(b"A" * (2 * part - (1 << 20)))
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 409"), answer
        sock.close()
        data = b"0" * part + b"B" * (part + (1 << 20))
        r = requests.put(f"{b.url}{loc}", params={"digest": sha256(data)})
        if r.status_code == 201:  # only with the bytes acknowledged
            assert sha256(requests.get(f"{b.url}/v2/held/x/blobs/{sha256(data)}").content) == sha256(data)
        else:  # or refused: the client pushes the blob again
            assert r.status_code >= 500, r.text
            r = requests.post(f"{b.url}/v2/held/x/blobs/uploads/?digest={sha256(data)}", data=data)
            assert r.status_code == 201, r.text

        # the node holding a session dies: the session is free on the other at once
        loc = requests.post(f"{a.url}/v2/held/x/blobs/uploads/").headers["Location"]
        sock = hold(a)
        assert requests.patch(f"{b.url}{loc}", data=b"abc").status_code == 409
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        sock.close()
        deadline = time.time() + 30
        while (r := requests.patch(f"{b.url}{loc}", data=b"abc")).status_code == 409:
            assert time.time() < deadline, "the dead node's hold was never let go"
            time.sleep(0.1)
        assert r.status_code == 202 and r.headers["Range"] == "0-2", r.text
    finally:
        c.stop()


def test_the_newest_database_among_the_nodes_assesses_every_image(services, db, tmp_path):
    """Each node has a database of its own. When one is given a newer one, it re-assesses every
    image, and a node still on the older one re-assesses nothing (the results do not flap between
    the two); what the older node scans from a push is made again with the newest."""
    mine = [str(tmp_path / f"node{i}.ddb") for i in range(2)]
    for path in mine:
        shutil.copy(db, path)
    c = Cluster(services, mine, n=2, workers=1)
    images = cached_images()
    host = c.lb.url.split("//")[1]

    def push(i):  # a real image (packages to match), the same layers in each repository
        subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{images}/debian-min",
                        f"docker://{host}/gen/i{i}:1"], check=True, capture_output=True, timeout=600)
    try:
        for i in range(4):
            push(i)
        for i in range(4):
            wait_assessed(c.lb.url, f"gen/i{i}", "1")
        old = c.sql("SELECT value FROM settings WHERE key='vulndb/generation'")
        assert c.sql("SELECT DISTINCT db_generation FROM assessments") == old
        # node 1 gets a newer database (built now, from the same feeds), put in place of its file
        newer = str(tmp_path / "newer.ddb")
        subprocess.run([BIN, "db", "import", "--db", newer, os.path.join(VULNDATA, "debian-osv"),
                        os.path.join(VULNDATA, "languages")], check=True, capture_output=True, timeout=600)
        os.rename(newer, mine[1])
        deadline = time.time() + 60
        while time.time() < deadline and c.sql("SELECT value FROM settings WHERE key='vulndb/generation'") == old:
            time.sleep(0.2)
        new = c.sql("SELECT value FROM settings WHERE key='vulndb/generation'")
        assert new != old
        # a push scanned by either node
        for i in range(4, 8):
            push(i)
        deadline = time.time() + 120
        while time.time() < deadline and (c.sql("SELECT count(*) FROM scan_jobs") != "0" or
                                          c.sql("SELECT DISTINCT db_generation FROM assessments") != new):
            time.sleep(0.2)
        assert c.sql("SELECT DISTINCT db_generation FROM assessments") == new
        assert c.sql("SELECT count(*) FROM assessments") == "8"
        time.sleep(5)  # and it stays so: the node behind queues nothing back
        assert c.sql("SELECT DISTINCT db_generation FROM assessments") == new
        assert c.sql("SELECT count(*) FROM scan_jobs") == "0"
        # a rollback: the older file put back in place on the running node is the registry's again
        shutil.copy(db, mine[1] + ".tmp")
        os.rename(mine[1] + ".tmp", mine[1])
        deadline = time.time() + 120
        while time.time() < deadline and (c.sql("SELECT count(*) FROM scan_jobs") != "0" or
                                          c.sql("SELECT DISTINCT db_generation FROM assessments") != old):
            time.sleep(0.2)
        assert c.sql("SELECT value FROM settings WHERE key='vulndb/generation'") == old
        assert c.sql("SELECT DISTINCT db_generation FROM assessments") == old
    finally:
        c.stop()


def images_of(s, url):
    """Each image's assessment as the API gives it, without what the moment changes."""
    out = {}
    for name, tag in (("moved/one", "1"), ("moved/two", "1"), ("moved/two", "2")):
        r = s.get(f"{url}/api/v1/images", params={"repository": name, "reference": tag, "limit": 1000})
        assert r.status_code == 200, r.text
        j = r.json()
        out[(name, tag)] = (j["status"], j["database_generation"], j["scanned_at"], json.dumps(j["counts"]),
                            json.dumps(j["findings"], sort_keys=True))
    return out


def test_migrate_moves_a_single_node_registry_onto_postgresql_and_s3(services, db, tmp_path):
    """drydock migrate --metadata copies a data directory's SQLite metadata into an empty
    PostgreSQL database (with --storage s3 its blobs into a bucket, in the same run); the data
    directory, and any new node given the same database and bucket, then serve the same registry:
    images, tags, assessments and their totals, the audit log, accounts and tokens signed before."""
    s3, pg = services
    images = cached_images()
    data_dir = str(tmp_path / "data")
    admin = ("admin", "admin-password-for-tests")
    srv = Server(data_dir=data_dir, auth=True, extra_args=["--db", db]).start()
    host = srv.url.split("//")[1]
    creds = f"--dest-creds={admin[0]}:{admin[1]}"
    url = pg.new_database()
    try:
        for name in ("moved/one", "moved/two"):
            subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", creds, f"oci:{images}/debian-min",
                            f"docker://{host}/{name}:1"], check=True, capture_output=True, timeout=600)
        subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", creds, f"oci:{images}/debian-big",
                        f"docker://{host}/moved/two:2"], check=True, capture_output=True, timeout=600)
        s = requests.Session()
        s.auth = admin
        for name, tag in (("moved/one", "1"), ("moved/two", "1"), ("moved/two", "2")):
            wait_assessed(srv.url, name, tag, session=s, timeout=300)
        p = subprocess.run([BIN, "user", "--data", data_dir, "add", "reader", "--password-stdin", "--role",
                            "reader:moved/*"], input="reader-password-0001\n", text=True, capture_output=True)
        assert p.returncode == 0, p.stderr
        before = {
            "catalog": s.get(f"{srv.url}/v2/_catalog").json(),
            "tags": s.get(f"{srv.url}/v2/moved/two/tags/list").json(),
            "images": images_of(s, srv.url),
            "summary": s.get(f"{srv.url}/api/v1/summary").json(),
            "audit": s.get(f"{srv.url}/api/v1/audit", params={"n": 1000}).json()["entries"],
        }
        tok = s.get(f"{srv.url}/auth/token", params={"service": "drydock", "scope": "repository:moved/one:pull"}).json()
        # refused while the server runs: the metadata must not change as it is copied
        p = subprocess.run([BIN, "migrate", "--data", data_dir, "--metadata", url], capture_output=True, text=True)
        assert p.returncode == 1 and "stop it first" in p.stderr, p.stderr
    finally:
        srv.stop()
    env = dict(os.environ, AWS_ACCESS_KEY_ID=s3server.ACCESS_KEY, AWS_SECRET_ACCESS_KEY=s3server.SECRET_KEY)
    p = subprocess.run([BIN, "migrate", "--data", data_dir, "--metadata", url, "--storage", "s3", "--s3-endpoint",
                        s3.endpoint, "--s3-bucket", "migrated"], capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr
    assert "keeps its metadata in PostgreSQL" in p.stdout and "blobs copied" in p.stdout, p.stdout
    assert not os.path.exists(os.path.join(data_dir, "meta.db"))
    assert os.path.exists(os.path.join(data_dir, "meta.db.migrated"))
    # into an empty database only
    again = str(tmp_path / "again")
    other = Server(data_dir=again, extra_args=["--scan-workers", "0"]).start()
    other.stop()
    p = subprocess.run([BIN, "migrate", "--data", again, "--metadata", url], capture_output=True, text=True)
    assert p.returncode == 1 and "already holds" in p.stderr, p.stderr
    # the old data directory and a new node: the same registry
    nodes = [Server(data_dir=data_dir, auth=True, extra_args=["--db", db], env=env),
             Server(auth=True, extra_args=["--db", db, "--metadata", url] + s3.settings("migrated"))]
    try:
        for node in nodes:
            node.start()
            s = requests.Session()
            s.auth = admin
            assert s.get(f"{node.url}/v2/_catalog").json() == before["catalog"]
            assert s.get(f"{node.url}/v2/moved/two/tags/list").json() == before["tags"]
            assert images_of(s, node.url) == before["images"]
            summary = s.get(f"{node.url}/api/v1/summary").json()
            assert {k: v for k, v in summary.items() if k != "queue"} == \
                {k: v for k, v in before["summary"].items() if k != "queue"}
            assert s.get(f"{node.url}/api/v1/audit", params={"n": 1000}).json()["entries"][:len(before["audit"])] \
                == before["audit"]
            # a token signed before the move is still good; the account made with `drydock user` too
            r = requests.get(f"{node.url}/v2/moved/one/tags/list", headers={"Authorization": f"Bearer {tok['token']}"})
            assert r.status_code == 200, r.text
            assert requests.get(f"{node.url}/v2/moved/one/tags/list",
                                auth=("reader", "reader-password-0001")).status_code == 200
        out = str(tmp_path / "pulled")
        subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"--src-creds={admin[0]}:{admin[1]}",
                        f"docker://{nodes[1].url.split('//')[1]}/moved/two:2", f"oci:{out}"], check=True,
                       capture_output=True, timeout=600)
        # and it goes on: a new push, its audit entry after the copied ones
        subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", creds, f"oci:{images}/debian-min",
                        f"docker://{nodes[1].url.split('//')[1]}/moved/three:1"], check=True, capture_output=True,
                       timeout=600)
        s = requests.Session()
        s.auth = admin
        audit = s.get(f"{nodes[0].url}/api/v1/audit", params={"n": 1000}).json()["entries"]
        assert audit[-1]["target"].startswith("moved/three@") and audit[-1]["id"] > before["audit"][-1]["id"]
        # the copy counted the totals itself, its trigger off: on again, it counts the new image
        wait_assessed(nodes[1].url, "moved/three", "1", timeout=300, session=s)
        after = s.get(f"{nodes[1].url}/api/v1/summary").json()["images_by_status"]
        assert sum(after.values()) == sum(before["summary"]["images_by_status"].values()) + 1, after
    finally:
        for node in nodes:
            node.stop()
