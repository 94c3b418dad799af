"""Webhooks end to end: real receivers on loopback, a live server pushing to them. Targets made
through the API, each scoped to a namespace and a set of event types; signed deliveries
(HMAC-SHA256 of the timestamp and body); CloudEvents 1.0 envelopes; the order of a target's
events kept across an outage and a restart; an event given up after the limit, counted in
/metrics; findings.changed after a database update; who may manage which target."""
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import time

import requests

from drydock import ADMIN_PASSWORD, BIN, VULNDATA
from webhooks import Receiver
from drydock import wait_assessed as wait
from test_dashboard import _session, server_with_auth
from test_query_api import add_user, authenticated
from test_scan_on_push import distroless, push_layers, server_with_db


def kinds(rx):
    return [(e["event"], e["repository"]) for _, _, e in rx.events]


def test_webhooks_are_delivered_once_and_survive_restart(full_db, tmp_path):
    rx = Receiver()
    srv = server_with_db(tmp_path, full_db, "--webhook", rx.url)
    try:
        d1 = distroless(srv.url, "w/one")
        wait(srv.url, "w/one", "1")
        d2 = push_layers(srv.url, "w/two", "1", {"hello": b"static"})
        ev = rx.wait(2, what=lambda e: e["event"] == "scan.completed")
        by_repo = {e["repository"]: e for e in ev}
        assert by_repo["w/one"]["digest"] == d1 and by_repo["w/one"]["status"] == "Unhealthy"
        assert by_repo["w/one"]["counts"]["total"] > 0 and by_repo["w/one"]["reassessment"] is False
        assert by_repo["w/two"]["digest"] == d2 and by_repo["w/two"]["status"] == "NotApplicable"
        rx.wait(4)
        # every event of the one target, in the order the changes were made
        assert kinds(rx)[:2] == [("image.pushed", "w/one"), ("scan.completed", "w/one")]
        assert kinds(rx)[2] == ("image.pushed", "w/two"), kinds(rx)
        pushed = rx.events[0][2]
        assert pushed["tag"] == "1" and pushed["media_type"].endswith("manifest.v1+json") and pushed["size"] > 0
        assert all(h["X-Drydock-Event-Id"] == e["id"] and h["X-Drydock-Event"] == e["event"] for h, _, e in rx.events)
        assert len({e["id"] for _, _, e in rx.events}) == 4
        assert all("X-Drydock-Signature" not in h for h, _, _ in rx.events)  # no secret set: unsigned
        # the receiver fails: the events wait in the outbox, across a restart, and arrive once
        rx.down = True
        distroless(srv.url, "w/three")
        wait(srv.url, "w/three", "1")
        time.sleep(1.5)
        metrics = requests.get(f"{srv.url}/metrics").text  # the events wait, the first one's delivery failed
        assert "drydock_webhook_backlog 2\n" in metrics and "drydock_webhook_failing 1\n" in metrics, metrics
        srv.stop()
        rx.down = False
        srv.start()
        rx.wait(6)
        time.sleep(2)
        assert kinds(rx)[4:] == [("image.pushed", "w/three"), ("scan.completed", "w/three")], kinds(rx)
        assert "drydock_webhook_backlog 0\n" in requests.get(f"{srv.url}/metrics").text
        # the setting's target is listed, and cannot be removed through the API
        hooks = requests.get(f"{srv.url}/api/v1/webhooks").json()["webhooks"]
        assert [(h["origin"], h["url"], h["delivery"]["delivered"]) for h in hooks] == [("config", rx.url, 6)]
        r = requests.delete(f"{srv.url}/api/v1/webhooks/{hooks[0]['id']}")
        assert r.status_code == 400 and "setting" in r.text
    finally:
        srv.stop()
        rx.close()


def test_targets_scoped_signed_and_as_cloudevents(full_db, tmp_path):
    rx1, rx2 = Receiver(), Receiver()
    srv = server_with_db(tmp_path, full_db)
    api = f"{srv.url}/api/v1/webhooks"
    try:
        # what a target is made of, each refused with what was wrong
        for bad, word in (({"url": "ftp://x/"}, "url"), ({"url": rx1.url, "events": ["image.pulled"]}, "events"),
                          ({"url": rx1.url, "format": "xml"}, "format"), ({"url": rx1.url, "namespace": "A/b"}, "namespace"),
                          ({"url": rx1.url, "colour": "red"}, "colour"), ([], "object"),
                          ({"url": rx1.url, "secret": "x" * 300}, "secret")):
            r = requests.post(api, json=bad)
            assert r.status_code == 400 and word in r.text, (bad, r.text)
        r = requests.post(api, json={"url": rx1.url, "namespace": "a", "events": ["scan.completed"], "secret": "s3cret"})
        assert r.status_code == 201, r.text
        one = r.json()
        assert one["secret"] == "s3cret" and one["signed"] and one["events"] == ["scan.completed"]
        assert r.headers["Location"] == f"/api/v1/webhooks/{one['id']}"
        r = requests.post(api, json={"url": rx2.url, "events": "image.pushed,image.deleted", "format": "cloudevents",
                                     "secret": ""})
        assert r.status_code == 201, r.text
        two = r.json()
        assert not two["signed"] and "secret" not in two
        made = requests.post(api, json={"url": rx2.url + "/3"}).json()  # left out: a secret is made and shown once
        assert made["secret"].startswith("whsec_") and len(made["secret"]) == 54
        assert requests.delete(f"{api}/{made['id']}").status_code == 204
        assert requests.delete(f"{api}/{made['id']}").status_code == 404

        da = distroless(srv.url, "a/x")
        db = push_layers(srv.url, "b/y", "1", {"hello": b"static"})
        wait(srv.url, "a/x", "1")
        wait(srv.url, "b/y", "1")
        assert requests.delete(f"{srv.url}/v2/b/y/manifests/{db}").status_code == 202
        rx2.wait(3)
        rx1.wait(1)
        time.sleep(1.5)
        # the namespace's target: a's assessment only, signed
        assert [e["repository"] for _, _, e in rx1.events] == ["a/x"]
        h, body, e = rx1.events[0]
        assert e["event"] == "scan.completed" and e["digest"] == da
        ts = h["X-Drydock-Timestamp"]
        want = hmac.new(b"s3cret", ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        assert h["X-Drydock-Signature"] == "sha256=" + want and abs(int(ts) - time.time()) < 60
        # every namespace's pushes and deletions, as CloudEvents
        got = [(e["type"], e["data"]["repository"]) for _, _, e in rx2.events]
        assert sorted(got[:2]) == [("drydock.image.pushed", "a/x"), ("drydock.image.pushed", "b/y")], got
        assert got[2] == ("drydock.image.deleted", "b/y") and len(got) == 3, got
        h, _, ce = rx2.events[2]
        assert h["Content-Type"] == "application/cloudevents+json" and "X-Drydock-Signature" not in h
        assert ce["specversion"] == "1.0" and ce["subject"] == db and ce["source"] == "/drydock/repositories/b/y"
        assert ce["id"] == ce["data"]["id"] == h["X-Drydock-Event-Id"] and ce["time"].endswith("Z")
        assert ce["datacontenttype"] == "application/json" and ce["data"]["event"] == "image.deleted"
        # the list: no secret, each target's deliveries
        hooks = requests.get(api).json()["webhooks"]
        assert [(h["id"], h["namespace"], h["format"], h["delivery"]["delivered"]) for h in hooks] == \
            [(one["id"], "a", "drydock", 1), (two["id"], "", "cloudevents", 3)]
        assert all("secret" not in h for h in hooks)
        assert requests.get(f"{api}/{two['id']}").json()["events"] == ["image.pushed", "image.deleted"]
        assert requests.get(f"{api}/x").status_code == 404
        audit = [(x["action"], x["target"]) for x in requests.get(f"{srv.url}/api/v1/audit").json()["entries"]]
        assert ("webhook-create", str(one["id"])) in audit and ("webhook-delete", str(made["id"])) in audit
        assert "s3cret" not in json.dumps(requests.get(f"{srv.url}/api/v1/audit").json())
    finally:
        srv.stop()
        rx1.close()
        rx2.close()


def test_order_kept_through_an_outage_and_events_given_up(full_db, tmp_path):
    """A target's events arrive in the order they were made even when the oldest waits for its
    retries; events older than the give-up limit (6 s here) when their target fails are dropped,
    counted, and the next one goes. The limit is set only for the second part, by a restart (the
    outbox is kept): three pushes and scans within 6 s were too many for a loaded machine."""
    rx = Receiver()
    srv = server_with_db(tmp_path, full_db)
    try:
        r = requests.post(f"{srv.url}/api/v1/webhooks", json={"url": rx.url, "secret": ""})
        assert r.status_code == 201
        rx.down = True
        for repo in ("o/a", "o/b", "o/c"):
            distroless(srv.url, repo)
            wait(srv.url, repo, "1")
        time.sleep(2.5)  # the target failed at least twice, its retries 1 then 2 s apart
        assert rx.refused >= 2 and not rx.events
        rx.down = False
        rx.wait(6)
        want = [(k, r) for r in ("o/a", "o/b", "o/c") for k in ("image.pushed", "scan.completed")]
        assert kinds(rx) == want
        srv.extra_args += ["--webhook-give-up", "6"]
        srv.restart()
        # down for longer than the limit: d's two events are given up
        rx.down = True
        distroless(srv.url, "o/d")
        wait(srv.url, "o/d", "1")
        deadline = time.time() + 40
        while time.time() < deadline and "drydock_webhook_given_up_total 2\n" not in requests.get(f"{srv.url}/metrics").text:
            time.sleep(0.5)
        metrics = requests.get(f"{srv.url}/metrics").text
        assert "drydock_webhook_given_up_total 2\n" in metrics and "drydock_webhook_backlog 0\n" in metrics, metrics
        hook = requests.get(f"{srv.url}/api/v1/webhooks").json()["webhooks"][0]["delivery"]
        assert hook["given_up"] == 2 and hook["last_error"] == "HTTP 503" and hook["delivered"] == 6, hook
        rx.down = False
        distroless(srv.url, "o/e")
        rx.wait(8)
        assert kinds(rx)[6:] == [("image.pushed", "o/e"), ("scan.completed", "o/e")]
    finally:
        srv.stop()
        rx.close()


def test_findings_changed_after_a_database_update(full_db, tmp_path):
    """An image assessed with a database that cannot match it, then with one that can: the
    target hears which findings are new; back again, which are resolved."""
    small = tmp_path / "alpine-only.ddb"
    r = subprocess.run([BIN, "db", "import", "--db", str(small), os.path.join(VULNDATA, "alpine-secdb", "v3.18")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rx = Receiver()
    srv = server_with_db(tmp_path, str(small))
    try:
        r = requests.post(f"{srv.url}/api/v1/webhooks", json={"url": rx.url, "events": ["findings.changed"]})
        assert r.status_code == 201
        digest = distroless(srv.url, "f/app")
        first = wait(srv.url, "f/app", "1")
        assert first["status"] == "NotApplicable"

        def swap(db):
            shutil.copy(db, os.path.join(srv.data_dir, "vulndb.ddb.new"))
            os.rename(os.path.join(srv.data_dir, "vulndb.ddb.new"), os.path.join(srv.data_dir, "vulndb.ddb"))

        swap(full_db)
        second = wait(srv.url, "f/app", "1", want="Unhealthy")
        ev = rx.wait(1)
        assert len(ev) == 1 and ev[0]["event"] == "findings.changed" and ev[0]["digest"] == digest
        new = {(f["id"], f["package"]) for f in ev[0]["new"]}
        assert new == {(f["id"], f["package"]) for f in second["findings"]} and ev[0]["resolved"] == []
        assert ev[0]["status"] == "Unhealthy" and ev[0]["counts"]["total"] == len(new)
        assert all(f["severity"] and "fixed_version" in f for f in ev[0]["new"])
        swap(str(small))
        wait(srv.url, "f/app", "1", want="NotApplicable")
        ev = rx.wait(2)
        assert ev[1]["new"] == [] and {(f["id"], f["package"]) for f in ev[1]["resolved"]} == new
        time.sleep(1)
        assert len(rx.events) == 2  # nothing but the changes: the target asked for no other type
    finally:
        srv.stop()
        rx.close()


def test_who_may_manage_which_target(full_db, tmp_path):
    """A namespace's owner manages its targets and sees no other; a target of every namespace
    needs a registry-wide grant."""
    rx = Receiver()
    s = server_with_auth(full_db, tmp_path)
    try:
        owner = _session(add_user(s, "own", "owner:team/*"))
        reader = _session(add_user(s, "rd", "security-reader:team/*"))
        admin = _session(("admin", ADMIN_PASSWORD))
        api = f"{s.url}/api/v1/webhooks"
        assert requests.get(api).status_code == 401
        r = owner.post(api, json={"url": rx.url, "namespace": "team"})
        assert r.status_code == 201, r.text
        mine = r.json()["id"]
        for ns in ("", "other"):
            r = owner.post(api, json={"url": rx.url, "namespace": ns})
            assert r.status_code == 403, r.text
        r = reader.post(api, json={"url": rx.url, "namespace": "team"})
        assert r.status_code == 403
        r = admin.post(api, json={"url": rx.url})
        assert r.status_code == 201
        every = r.json()["id"]
        assert [h["id"] for h in owner.get(api).json()["webhooks"]] == [mine]
        assert reader.get(api).json()["webhooks"] == []
        assert owner.delete(f"{api}/{every}").status_code == 404  # another's reads as absent
        assert [h["id"] for h in admin.get(api).json()["webhooks"]] == [mine, every]
        with authenticated(("admin", ADMIN_PASSWORD)):
            push_layers(s.url, "team/app", "1", {"hello": b"static"})
        rx.wait(2)  # pushed and completed, to the admin's target
        # the owner's target may not reach an internal address (here loopback): a namespace owner
        # cannot make the server probe its own network
        deadline = time.time() + 30
        while time.time() < deadline and not owner.get(f"{api}/{mine}").json()["delivery"].get("last_error"):
            time.sleep(0.2)
        got = owner.get(f"{api}/{mine}").json()
        assert "127.0.0.1 is an internal address" in got["delivery"]["last_error"] and not got["internal_addresses"]
        assert admin.get(f"{api}/{every}").json()["internal_addresses"] is True
        time.sleep(1)
        assert sorted(kinds(rx)) == sorted([("image.pushed", "team/app"), ("scan.completed", "team/app")])
        assert owner.delete(f"{api}/{mine}").status_code == 204
    finally:
        s.stop()
        rx.close()


def test_a_target_that_never_answers_holds_up_no_other(full_db, tmp_path):
    """Each target has its own POST in flight: while one receiver holds its request, another
    gets its events; the held one, answered within the 10 s a POST has, counts as delivered. A
    2xx whose body never comes is delivered too."""
    import threading
    slow, fast, short = Receiver(), Receiver(), Receiver()
    slow.hold = threading.Event()
    short.truncate = True
    srv = server_with_db(tmp_path, full_db)
    api = f"{srv.url}/api/v1/webhooks"
    try:
        ids = [requests.post(api, json={"url": rx.url, "events": ["image.pushed"], "secret": ""}).json()["id"]
               for rx in (slow, fast, short)]
        push_layers(srv.url, "h/app", "1", {"hello": b"static"})
        assert len(fast.wait(1)) == 1  # while the slow receiver still holds its request
        slow.hold.set()
        slow.wait(1)
        short.wait(1)
        deadline = time.time() + 30
        while time.time() < deadline:
            got = {h["id"]: h["delivery"] for h in requests.get(api).json()["webhooks"]}
            if all(got[i]["delivered"] == 1 for i in ids):
                break
            time.sleep(0.2)
        assert [(got[i]["delivered"], got[i]["failures"]) for i in ids] == [(1, 0)] * 3, got
        # the held request was the first attempt: nothing gave up on it while the other went
        assert [h["X-Drydock-Delivery-Attempt"] for rx in (slow, fast, short) for h, _, _ in rx.events] == ["1"] * 3
        # a deleted target's id is never another's
        assert requests.delete(f"{api}/{ids[2]}").status_code == 204
        again = requests.post(api, json={"url": short.url, "secret": ""}).json()["id"]
        assert again > ids[2]
    finally:
        srv.stop()
        for rx in (slow, fast, short):
            rx.hold = None
            rx.close()


def test_targets_refused_with_what_is_wrong(full_db, tmp_path):
    rx = Receiver()
    srv = server_with_db(tmp_path, full_db)
    api = f"{srv.url}/api/v1/webhooks"
    try:
        for bad, word in (({"url": rx.url, "events": [""]}, "events"), ({"url": rx.url, "events": "image.pushed,"}, "events"),
                          ({"url": rx.url, "events": ["image.pushed,scan.failed"]}, "events"),
                          ({"url": "http:////"}, "url"), ({"url": "http://x:99999/"}, "url"),
                          ({"url": "http://user:pw@127.0.0.1/"}, "password"), ({"url": rx.url, "namespace": ".."}, "namespace")):
            r = requests.post(api, json=bad)
            assert r.status_code == 400 and word in r.text, (bad, r.text)
        r = requests.post(api, data='{"url": "http://x/", "url": "http://y/"}')
        assert r.status_code == 400 and "duplicate" in r.text, r.text
        r = requests.post(api, json={"url": rx.url, "events": ["image.pushed", "image.pushed"], "namespace": "team"})
        assert r.status_code == 201 and r.json()["events"] == ["image.pushed"]
        for _ in range(9):
            assert requests.post(api, json={"url": rx.url, "namespace": "team"}).status_code == 201
        r = requests.post(api, json={"url": rx.url, "namespace": "team"})
        assert r.status_code == 400 and "10 of namespace 'team'" in r.text, r.text
        assert requests.get(f"{api}/01").status_code == 404
        assert len(requests.get(f"{api}/").json()["webhooks"]) == 10
        r = requests.put(api, json={})
        assert r.status_code == 405 and "POST" in r.headers["Allow"]
        # a repository named like a namespace is in none: only targets of every namespace hear of it
        everyone = Receiver()
        requests.post(api, json={"url": everyone.url, "events": ["image.pushed"]})
        push_layers(srv.url, "team", "1", {"hello": b"static"})
        push_layers(srv.url, "team/app", "1", {"hello": b"static"})
        everyone.wait(2)
        rx.wait(10)
        time.sleep(1)
        assert sorted(e["repository"] for _, _, e in everyone.events) == ["team", "team/app"]
        assert {e["repository"] for _, _, e in rx.events} == {"team/app"}
        everyone.close()
    finally:
        srv.stop()
        rx.close()
