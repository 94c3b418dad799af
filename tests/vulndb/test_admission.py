"""The Kubernetes validating admission webhook, POST /api/v1/admission: AdmissionReview
(admission.k8s.io/v1) requests shaped as the API server sends them (every member it sets, a
Pod or a workload in `object`), answered by each image namespace's pull policy."""
import copy
import json
import uuid

import requests

from drydock import ADMIN_PASSWORD, OCI_INDEX
from drydock import wait_assessed as wait
from test_dashboard import _session, server_with_auth
from test_query_api import add_user, authenticated
from test_scan_on_push import CLEAN, distroless, push_layers, server_with_db

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web", "namespace": "prod", "uid": "", "creationTimestamp": None,
                 "labels": {"app": "web"}},
    "spec": {
        "containers": [{"name": "app", "image": "IMAGE", "resources": {}, "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default", "securityContext": {}, "schedulerName": "default-scheduler",
        "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority", "priority": 0},
    "status": {}}

RESOURCES = {"Pod": ("", "v1", "pods"), "Deployment": ("apps", "v1", "deployments"),
             "StatefulSet": ("apps", "v1", "statefulsets"), "DaemonSet": ("apps", "v1", "daemonsets"),
             "ReplicaSet": ("apps", "v1", "replicasets"), "Job": ("batch", "v1", "jobs"),
             "CronJob": ("batch", "v1", "cronjobs")}


def pod(*images, init=()):
    p = copy.deepcopy(POD)
    p["spec"]["containers"] = [dict(POD["spec"]["containers"][0], name=f"c{i}", image=im) for i, im in enumerate(images)]
    if init:
        p["spec"]["initContainers"] = [dict(POD["spec"]["containers"][0], name=f"init{i}", image=im)
                                       for i, im in enumerate(init)]
    return p


def workload(kind, podspec):
    template = {"metadata": {"labels": {"app": "web"}}, "spec": podspec["spec"]}
    spec = {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template}
    if kind == "Job":
        spec = {"template": template, "backoffLimit": 6}
    if kind == "CronJob":
        spec = {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}}
    group, version, _ = RESOURCES[kind]
    return {"apiVersion": f"{group}/{version}" if group else version, "kind": kind,
            "metadata": {"name": "web", "namespace": "prod"}, "spec": spec}


def review(obj, operation="CREATE"):
    group, version, resource = RESOURCES[obj["kind"]]
    gvk = {"group": group, "version": version, "kind": obj["kind"]}
    gvr = {"group": group, "version": version, "resource": resource}
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {
        "uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "name": obj["metadata"]["name"], "namespace": "prod", "operation": operation,
        "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller",
                     "uid": "4d3b8b5a-1f35-4c5d-9d8e-2f0a8d7c9e11",
                     "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]},
        "object": obj if operation != "DELETE" else None, "oldObject": obj if operation == "DELETE" else None,
        "dryRun": False,
        "options": {"kind": "CreateOptions" if operation == "CREATE" else "DeleteOptions", "apiVersion": "meta.k8s.io/v1"}}}


def ask(url, rev, session=requests):
    r = session.post(f"{url}/api/v1/admission", data=json.dumps(rev), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["apiVersion"] == rev["apiVersion"] and out["kind"] == "AdmissionReview"
    assert out["response"]["uid"] == rev["request"]["uid"]
    return out["response"]


def test_admission_by_the_namespace_policy(full_db, tmp_path):
    srv = server_with_db(tmp_path, full_db)
    host = srv.url.split("://")[1]
    try:
        bad = distroless(srv.url, "team/app")
        good = push_layers(srv.url, "team/clean", "1", CLEAN)
        a = wait(srv.url, "team/app", "1")
        wait(srv.url, "team/clean", "1")
        assert a["counts"]["CRITICAL"] + a["counts"]["HIGH"] > 0
        bad_size = len(requests.get(f"{srv.url}/v2/team/app/manifests/{bad}").content)  # before a policy gates it
        # no policy: everything is allowed
        assert ask(srv.url, review(pod(f"{host}/team/app:1")))["allowed"] is True
        assert requests.put(f"{srv.url}/api/v1/namespaces/team/policy",
                            json={"deny_pull_at_or_above": "HIGH"}).status_code == 200
        # a Pod by tag: refused, naming the findings
        out = ask(srv.url, review(pod(f"{host}/team/app:1")))
        assert out["allowed"] is False and out["status"]["code"] == 403
        msg = out["status"]["message"]
        worst = next(f["id"] for f in a["findings"] if f["severity"] in ("CRITICAL", "HIGH"))
        assert f"{host}/team/app:1 = {bad}" in msg and worst in msg and "Pod web" in msg, msg
        # the same image in every workload kind, by digest: refused; the clean one allowed
        for kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"):
            out = ask(srv.url, review(workload(kind, pod(f"{host}/team/app@{bad}"))))
            assert out["allowed"] is False and f"{kind} web" in out["status"]["message"], (kind, out)
            out = ask(srv.url, review(workload(kind, pod(f"{host}/team/clean:1"))))
            assert out["allowed"] is True and "warnings" not in out, (kind, out)
        # an init container counts as much as the main one; a tag and digest: the digest rules
        assert ask(srv.url, review(pod(f"{host}/team/clean:1", init=[f"{host}/team/app:1"])))["allowed"] is False
        assert ask(srv.url, review(pod(f"{host}/team/clean:nope@{good}")))["allowed"] is True
        # images elsewhere: allowed with a warning; unknown here: refused
        out = ask(srv.url, review(pod("nginx:1.25", "quay.io/prometheus/node-exporter:v1.7.0")))
        assert out["allowed"] is True and len(out["warnings"]) == 2 and "not from this registry" in out["warnings"][0]
        out = ask(srv.url, review(pod(f"{host}/team/app:nope")))
        assert out["allowed"] is False and "not on this registry" in out["status"]["message"]
        # a deletion runs nothing
        assert ask(srv.url, review(pod(f"{host}/team/app:1"), "DELETE"))["allowed"] is True
        # an index: each platform is checked
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d,
             "size": len(requests.get(f"{srv.url}/v2/team/{repo}/manifests/{d}").content),
             "platform": {"os": "linux", "architecture": arch}} for d, arch, repo in ((good, "arm64", "clean"),)]})
        assert requests.put(f"{srv.url}/v2/team/clean/manifests/multi", data=index,
                            headers={"Content-Type": OCI_INDEX}).status_code == 201
        wait(srv.url, "team/clean", "multi")
        out = ask(srv.url, review(pod(f"{host}/team/clean:multi")))
        assert out["allowed"] is True, out
        good2 = push_layers(srv.url, "team/app", "clean", CLEAN)
        wait(srv.url, "team/app", "clean")
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d,
             "size": size, "platform": {"os": "linux", "architecture": arch}}
            for d, size, arch in ((good2, len(requests.get(f"{srv.url}/v2/team/app/manifests/{good2}").content), "arm64"),
                                  (bad, bad_size, "amd64"))]})
        r = requests.put(f"{srv.url}/v2/team/app/manifests/multi", data=index, headers={"Content-Type": OCI_INDEX})
        assert r.status_code == 201, r.text
        wait(srv.url, "team/app", "multi")
        out = ask(srv.url, review(pod(f"{host}/team/app:multi")))
        assert out["allowed"] is False and f"platform linux/amd64, {bad}" in out["status"]["message"], out
        assert "linux/arm64" not in out["status"]["message"]
        # what is not a review, named
        for body, word in (("{", "not JSON"), (json.dumps({"apiVersion": "v1", "kind": "Pod"}), "admission.k8s.io/v1"),
                           (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}), "uid")):
            r = requests.post(f"{srv.url}/api/v1/admission", data=body)
            assert r.status_code == 400 and word in r.text, r.text
        assert requests.get(f"{srv.url}/api/v1/admission").status_code == 405
        out = ask(srv.url, review(pod("team/app:1 ; rm")))
        assert out["allowed"] is False and "not an image reference" in out["status"]["message"]
        # what cannot be read is refused, not let through
        for mangle, word in ((lambda o: o["spec"].update(containers={"a": 1}), "containers is not a list"),
                             (lambda o: o["spec"]["containers"][0].update(image=5), "containers[0] has no image"),
                             (lambda o: o.pop("spec"), "no pod spec"),
                             (lambda o: o.update(kind="Deployment"), "the object is a Deployment, the request says a Pod")):
            rev = review(pod(f"{host}/team/clean:1"))
            mangle(rev["request"]["object"])
            out = ask(srv.url, rev)
            assert out["allowed"] is False and word in out["status"]["message"], (word, out)
        # more images than are looked at: refused once, whatever the count
        for n in (257, 300):
            out = ask(srv.url, review(pod(*[f"{host}/team/clean:t{i}" for i in range(n)])))
            assert out["allowed"] is False and out["status"]["message"].count("over 256 distinct images and platforms") == 1
        # many names of one image: one check; many refusals: twenty named, the rest counted
        assert ask(srv.url, review(pod(*[f"{host}/team/clean:x{i}@{good}" for i in range(200)])))["allowed"] is True
        out = ask(srv.url, review(pod(*[f"{host}/team/none:t{i}" for i in range(30)])))
        assert out["status"]["message"].count("is not on this registry") == 20 and "; and 10 more" in out["status"]["message"]
        out = ask(srv.url, review(pod(f"{host}/team/nothing")))
        assert "tag 'latest' of team/nothing is not on this registry" in out["status"]["message"]
    finally:
        srv.stop()


def test_admission_hosts_and_other_registries(full_db, tmp_path):
    srv = server_with_db(tmp_path, full_db, "--admission-hosts", "registry.example.com, registry.example.com:443",
                         "--admission-other-images", "deny")
    host = srv.url.split("://")[1]
    try:
        distroless(srv.url, "team/app")
        wait(srv.url, "team/app", "1")
        assert requests.put(f"{srv.url}/api/v1/namespaces/team/policy",
                            json={"deny_pull_at_or_above": "HIGH"}).status_code == 200
        for name in ("registry.example.com", "REGISTRY.example.com:443"):
            out = ask(srv.url, review(pod(f"{name}/team/app:1")))
            assert out["allowed"] is False and "refuses pulls of images with HIGH or worse" in out["status"]["message"]
        # the name it was asked under is not one of the configured: another registry, denied
        out = ask(srv.url, review(pod(f"{host}/team/app:1")))
        assert out["allowed"] is False and "not from this registry (admission-other-images = deny)" in out["status"]["message"]
    finally:
        srv.stop()


def test_admission_needs_an_account_that_may_pull(full_db, tmp_path):
    s = server_with_auth(full_db, tmp_path)
    host = s.url.split("://")[1]
    try:
        with authenticated(("admin", ADMIN_PASSWORD)):
            push_layers(s.url, "team/clean", "1", CLEAN)
            push_layers(s.url, "other/clean", "1", CLEAN)
        rev = review(pod(f"{host}/team/clean:1"))
        r = requests.post(f"{s.url}/api/v1/admission", json=rev)
        assert r.status_code == 401
        hook = _session(add_user(s, "k8s", "reader:team/*"))
        assert ask(s.url, rev, hook)["allowed"] is True
        out = ask(s.url, review(pod(f"{host}/other/clean:1")), hook)
        assert out["allowed"] is False and "may not pull other/clean" in out["status"]["message"]
    finally:
        s.stop()
