"""The query language over a live server's findings: POST /api/v1/query, Resource Graph's own
request and answer at /providers/Microsoft.ResourceGraph/resources, and `drydock query` against
the server and against its data directory. Real images pushed and assessed by the server's
workers; the rows checked against the REST API's objects, the published Resource Graph samples
run verbatim, every leading-where filter the tables read ahead checked against the same filter
applied after them, and each account seeing only what its roles allow."""
import contextlib
import csv
import io
import json
import os
import re
import shutil
import subprocess
import time

import pytest
import requests

from drydock import ADMIN_PASSWORD, BIN, Server
from drydock import wait_assessed as wait
from test_scan_on_push import distroless, push_layers, server_with_db, CLEAN

QUALYS = "dbd0cb49-b563-45e7-9724-889e799fa648"
MDVM = "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"
SUB_TYPE = "microsoft.security/assessments/subassessments"
RG = "/providers/Microsoft.ResourceGraph/resources"
RG_API = {"api-version": "2021-03-01"}

# The Resource Graph samples of Azure's documentation, verbatim: the container registry page's
# "List Container Registry vulnerability assessment results", and the Defender for Cloud page's
# generic sub-assessment query (Container vulnerability assessments REST API).
SAMPLE_LIST = """SecurityResources
| where type == 'microsoft.security/assessments'
| where properties.displayName contains 'Container registry images should have vulnerability findings resolved'
| summarize by assessmentKey=name //the ID of the assessment
| join kind=inner (
securityresources
| where type == 'microsoft.security/assessments/subassessments'
| extend assessmentKey = extract('.*assessments/(.+?)/.*',1, id)
) on assessmentKey
| project assessmentKey, subassessmentKey=name, id, parse_json(properties), resourceGroup, subscriptionId, tenantId
| extend description = properties.description,
displayName = properties.displayName,
resourceId = properties.resourceDetails.id,
resourceSource = properties.resourceDetails.source,
category = properties.category,
severity = properties.status.severity,
code = properties.status.code,
timeGenerated = properties.timeGenerated,
remediation = properties.remediation,
impact = properties.impact,
vulnId = properties.id,
additionalData = properties.additionalData"""

SAMPLE_MDVM = """securityresources
| where type =~ "microsoft.security/assessments/subassessments" and properties.additionalData.assessedResourceType == "AzureContainerRegistryVulnerability"
| extend assessmentKey=extract(@"(?i)providers/Microsoft.Security/assessments/([^/]*)", 1, id)
| where assessmentKey == "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"
| extend timeGenerated = properties.timeGenerated
| where timeGenerated > ago(1h)"""


def healthy(url, repo):
    """An image with a package no feed knows: assessed Healthy, no findings."""
    return push_layers(url, repo, "1", CLEAN)


@pytest.fixture(scope="module")
def srv(full_db, tmp_path_factory):
    """Two namespaces: t/app and u/app (the same distroless image), t/clean (no findings)."""
    s = server_with_db(tmp_path_factory.mktemp("query"), full_db)
    distroless(s.url, "t/app")
    distroless(s.url, "u/app")
    healthy(s.url, "t/clean")
    images = {r: wait(s.url, r, "1") for r in ("t/app", "u/app", "t/clean")}
    yield s, images
    s.stop()


def query(url, text, session=None, **options):
    r = (session or requests).post(url + "/api/v1/query", json={"query": text, "options": options})
    assert r.status_code == 200, r.text
    return r.json()


def rows(url, text, **options):
    """The rows as dicts by column name."""
    o = query(url, text, **options)
    names = [c["name"] for c in o["columns"]]
    return [dict(zip(names, r)) for r in o["rows"]]


def subs_rest(url, key):
    r = requests.get(f"{url}/providers/Microsoft.Security/assessments/{key}/subAssessments",
                     params={"api-version": "2019-01-01-preview"})
    assert r.status_code == 200
    return r.json()["value"]


def test_answer_shape_and_counts(srv):
    s, images = srv
    o = query(s.url, "securityresources | summarize n = count() by type | order by type asc")
    assert o["columns"] == [{"name": "type", "type": "string"}, {"name": "n", "type": "long"}]
    assert o["totalRecords"] == 2 and o["count"] == 2 and o["truncated"] is False
    findings = images["t/app"]["counts"]["total"]
    # one assessment per key and namespace; one sub-assessment per finding, image and key
    assert o["rows"] == [["microsoft.security/assessments", 4], [SUB_TYPE, 2 * 2 * findings]]
    assert images["t/clean"]["status"] == "Healthy"


def test_rows_are_the_rest_objects(srv):
    s, _ = srv
    for key in (QUALYS, MDVM):
        for sub in subs_rest(s.url, key)[:5]:
            got = rows(s.url, f"securityresources | where name == '{sub['name']}' and id contains '{key}'")
            assert len(got) == 1
            row = got[0]
            assert row["id"] == sub["id"] and row["properties"] == sub["properties"]
            assert row["type"] == SUB_TYPE and row["subscriptionId"] == row["id"].split("/")[2]
            assert row["resourceGroup"] == "drydock" and re.match(r"^[0-9a-f-]{36}$", row["tenantId"])
            assert row["kind"] == row["location"] == row["managedBy"] == ""
            assert row["sku"] is None and row["tags"] is None


def test_published_samples_run_verbatim(srv):
    s, images = srv
    findings = images["t/app"]["counts"]["total"]
    got = rows(s.url, SAMPLE_LIST, **{"$top": 10000})
    # the Qualys assessment's display name is the one the sample looks for
    assert len(got) == 2 * findings and {r["assessmentKey"] for r in got} == {QUALYS}
    rest = {x["name"]: x for x in subs_rest(s.url, QUALYS)}
    for r in got:
        x = rest[r["subassessmentKey"]]["properties"]
        assert r["severity"] == x["status"]["severity"] and r["vulnId"] == x["id"]
        assert r["resourceId"] == x["resourceDetails"]["id"] and r["resourceSource"] == "Azure"
        assert r["additionalData"] == x["additionalData"] and r["code"] == "Unhealthy"
    got = rows(s.url, SAMPLE_MDVM, **{"$top": 10000})
    assert len(got) == 2 * findings and {r["assessmentKey"] for r in got} == {MDVM}
    assert sorted(r["name"] for r in got) == sorted(x["name"] for x in subs_rest(s.url, MDVM))


def test_the_registry_taken_apart_from_ids(srv):
    s, _ = srv
    host = s.url.split("://")[1].split(":")[0]
    got = rows(s.url, "securityresources | where type == 'microsoft.security/assessments/subassessments'"
                      " | parse id with registryResourceId '/providers/Microsoft.Security/assessments/' *"
                      " | extend registry = split(id, '/providers/Microsoft.ContainerRegistry/registries/')[1]"
                      " | extend reg = tostring(split(registry, '/')[0])"
                      " | distinct registryResourceId, reg, subscriptionId | order by subscriptionId asc")
    assert [r["registryResourceId"] for r in got] == [
        f"/subscriptions/{ns}/resourceGroups/drydock/providers/Microsoft.ContainerRegistry/registries/{host}"
        for ns in ("t", "u")]
    assert {r["reg"] for r in got} == {host}


def test_images_with_a_cve(srv):
    s, images = srv
    q = ("securityresources | where type == 'microsoft.security/assessments/subassessments'"
         " | where properties.additionalData.vulnerabilityDetails.cveId == 'CVE-2023-4911'"
         " | project repo = tostring(properties.additionalData.artifactDetails.repositoryName),"
         " digest = tostring(properties.additionalData.artifactDetails.digest) | order by repo asc")
    assert rows(s.url, q) == [{"repo": r, "digest": images[r]["digest"]} for r in ("t/app", "u/app")]
    q = "resources | where type == 'microsoft.containerregistry/registries/repositories/images' | order by name asc"
    imgs = rows(s.url, q)
    assert [r["name"] for r in imgs] == [f"{r}@{images[r]['digest']}" for r in ("t/app", "t/clean", "u/app")]
    for r in imgs:
        p = r["properties"]
        a = images[p["repositoryName"]]
        assert p["digest"] == a["digest"] and p["tags"] == ["1"] and p["status"] == a["status"]
        assert p["size"] > 0 and re.match(r"^\d{4}-\d\d-\d\dT", p["pushedAt"])
        c = a["counts"]  # each severity in its place (they were once in reverse order)
        assert {k: p["counts"][k.lower()] for k in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE", "UNKNOWN")} == {
            k: c[k] for k in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE", "UNKNOWN")}
        assert p["counts"]["unfixed"] == c["unfixed"]
    kinds = rows(s.url, "resources | summarize n = count() by type | order by type asc")
    assert kinds == [{"type": "microsoft.containerregistry/registries", "n": 2},
                     {"type": "microsoft.containerregistry/registries/repositories", "n": 3},
                     {"type": "microsoft.containerregistry/registries/repositories/images", "n": 3}]


# Filters the tables read ahead of the engine (a leading where): each must give exactly what the
# same filter gives once nothing is read ahead (after an extend, the engine alone applies it).
FILTERS = [
    "type == 'microsoft.security/assessments/subassessments'",
    "type =~ 'Microsoft.Security/Assessments/SubAssessments'",
    "type == 'Microsoft.Security/assessments/subAssessments'",
    "type in ('microsoft.security/assessments', 'x')",
    "type in~ ('MICROSOFT.SECURITY/ASSESSMENTS')",
    "properties.status.severity == 'High'",
    "tostring(properties.status.severity) in ('Medium', 'Low')",
    "properties.status.severity =~ 'high'",
    "properties.id == 'CVE-2023-4911'",
    "properties.id =~ 'cve-2023-4911'",
    "properties.id == 'cve-2023-4911'",
    "properties.additionalData.vulnerabilityDetails.cveId == 'CVE-2023-4911'",
    "properties.additionalData.repositoryName == 't/app'",
    "properties.additionalData.repositoryName =~ 'T/APP'",
    "properties.additionalData.artifactDetails.repositoryName == 'u/app'",
    "properties.additionalData.artifactDetails.repositoryName in ('u/app', 't/app')",
    "properties['additionalData']['imageDigest'] == '{digest}'",
    "properties.additionalData.artifactDetails.digest == '{digest}'",
    "properties.additionalData.softwareDetails.packageName == 'libc6'",
    "subscriptionId == 'u'",
    "subscriptionId =~ 'T' and properties.status.severity == 'Low'",
    "name == '{name}'",
    "properties.id == 'CVE-2023-4911' or properties.id == 'CVE-2024-33601'",
    "properties.additionalData.repositoryName == 'nope'",
    "properties.additionalData.assessedResourceType == 'AzureContainerRegistryVulnerability'",
    "properties.additionalData.assessedResourceType =~ 'containerregistryvulnerability' and properties.status.severity == 'High'",
    "properties.additionalData.assessedResourceType in ('x', 'ContainerRegistryVulnerability')",
]


def test_filters_read_ahead_agree_with_the_engine(srv):
    s, images = srv
    name = subs_rest(s.url, QUALYS)[0]["name"]
    for f in FILTERS:
        f = f.format(digest=images["t/app"]["digest"], name=name)
        for table in ("securityresources", "resources"):
            ahead = query(s.url, f"{table} | where {f} | order by id asc, type asc", **{"$top": 10000})
            after = query(s.url, f"{table} | extend zz = 1 | where {f} | project-away zz | order by id asc,"
                                 " type asc", **{"$top": 10000})
            assert ahead["rows"] == after["rows"], (table, f)
            assert ahead["totalRecords"] == after["totalRecords"]


# Queries whose tables are built with only what they read (columns, members of properties) and,
# for the aggregates right after the table, aggregated as rows arrive: each must answer what it
# answers when the whole row is built (a bare use of properties anywhere asks for everything).
PRUNED = [
    "{t} | where type == 'microsoft.security/assessments/subassessments' | summarize n = count() by"
    " sev = tostring(properties.status.severity), code = tostring(properties.status.code) | order by sev asc",
    "{t} | project id, name, tenantId, d = tostring(properties.displayName), c = properties.additionalData.cve"
    " | order by id asc, d asc",
    "{t} | summarize n = count(), v = dcount(tostring(properties.id)), m = max(tostring(properties.id)),"
    " s = make_set(tostring(properties.status.code)) by p = tostring(properties.additionalData.softwareDetails.packageName)"
    " | order by p asc",
    "{t} | where properties.timeGenerated > ago(1h) | count",
    "{t} | where properties['status'].severity == 'High' | summarize arg_max(tostring(properties.id), *) by subscriptionId"
    " | project subscriptionId, name | order by subscriptionId asc",
    "{t} | count",
    # the part of additionalData kept with the findings (the image's names, the CVE, the package)
    "{t} | where properties.additionalData.vulnerabilityDetails.cveId == 'CVE-2023-4911'"
    " | distinct d = tostring(properties.additionalData.artifactDetails.digest),"
    " r = tostring(properties.additionalData.artifactDetails.repositoryName) | order by r asc",
    "{t} | summarize n = count() by " + ", ".join(
        f"x{i} = tostring(properties.additionalData.{p})" for i, p in enumerate((
            "assessedResourceType", "type", "imageDigest", "repositoryName", "registryHost", "imageName",
            "vulnerabilityDetails.cveId", "vulnerabilityDetails.severity", "softwareDetails.packageName",
            "softwareDetails.category", "artifactDetails.artifactType", "artifactDetails.registryHost",
            "artifactDetails.digest", "artifactDetails.repositoryName")))
    + " | order by x0 asc, x6 asc, x8 asc, x3 asc, x13 asc",
    "{t} | where isnotempty(properties.additionalData.artifactDetails.digest) | summarize n = count(),"
    " x = countif(properties.additionalData.imageDigest[0] == 'x') by cve = tostring(properties.additionalData['vulnerabilityDetails']['cveId'])"
    " | order by cve asc",
    # a join names the right side's properties properties1: read through that name too
    "{t} | where type == 'microsoft.security/assessments' | extend dn = tostring(properties.displayName)"
    " | join kind=inner ({t} | where type == 'microsoft.security/assessments/subassessments'"
    " | extend aid = tostring(split(id, '/subAssessments/')[0])) on $left.id == $right.aid"
    " | project dn, sev = tostring(properties1.status.severity), cve = tostring(properties1.id), t1 = tenantId1"
    " | order by cve asc, dn asc, sev asc",
    SAMPLE_LIST.replace("SecurityResources", "{t}").replace("securityresources", "{t}") + " | order by id asc",
]


def test_what_a_query_reads_is_all_that_is_built(srv):
    s, _ = srv
    for q in PRUNED:
        pruned = query(s.url, q.format(t="securityresources"), **{"$top": 10000})
        whole = query(s.url, q.format(t="securityresources | extend zz_ = properties"), **{"$top": 10000})
        assert pruned["totalRecords"] > 0 and pruned["rows"] == whole["rows"], q


def test_suppressed_findings_read_from_the_cache_as_from_the_reports(srv):
    """Rows that need no more than a finding's id, package and severity come from the findings
    kept in memory, not from the reports; an image a suppression rule covers is read from its
    report, with the rule applied, and both ways give the same rows."""
    s, _ = srv
    api = s.url + "/api/v1"
    cve = "CVE-2023-4911"
    r = requests.post(f"{api}/suppressions", json={"vulnerability": cve, "repository": "u/*", "reason": "gated"})
    assert r.status_code == 201, r.text
    try:
        q = ("{t} | where type == 'microsoft.security/assessments/subassessments' | project id, name,"
             " v = tostring(properties.id), code = tostring(properties.status.code),"
             " cause = tostring(properties.status.cause), sev = tostring(properties.status.severity)"
             " | order by id asc")
        fast = query(s.url, q.format(t="securityresources"), **{"$top": 10000})
        whole = query(s.url, q.format(t="securityresources | extend zz_ = properties"), **{"$top": 10000})
        assert fast["totalRecords"] > 0 and fast["rows"] == whole["rows"]
        got = {(r[0].split("/providers/Microsoft.ContainerRegistry/")[0], r[3], r[4]) for r in fast["rows"] if r[2] == cve}
        assert ("/subscriptions/u/resourceGroups/drydock", "NotApplicable", "Exempt") in got, got  # the rule's
        assert ("/subscriptions/t/resourceGroups/drydock", "Unhealthy", "") in got, got  # not covered
        for q in PRUNED[:3]:
            fast = query(s.url, q.format(t="securityresources"), **{"$top": 10000})
            whole = query(s.url, q.format(t="securityresources | extend zz_ = properties"), **{"$top": 10000})
            assert fast["rows"] == whole["rows"], q
    finally:
        assert requests.delete(f"{api}/suppressions/{r.json()['id']}").status_code == 204


def test_resources_give_each_image_its_platform(tmp_path):
    """An image's platform from its config ("os/architecture[/variant]"); an index's, the
    platforms its manifests name; an artifact whose config is not an image's has none."""
    s = Server(str(tmp_path / "data")).start()
    try:
        files = {"etc/os-release": b'ID=debian\nVERSION_ID="12"\n'}
        amd = push_layers(s.url, "p/multi", "amd", files)
        arm = push_layers(s.url, "p/multi", "arm", files, config={"architecture": "arm64", "variant": "v8", "os": "linux",
                                                               "rootfs": {"type": "layers"}})
        art = push_layers(s.url, "p/art", "1", None, config={"k": "v"}, config_type="application/vnd.example.config+json")
        req = requests.Session()
        size = {t: len(req.get(f"{s.url}/v2/p/multi/manifests/{t}",
                               headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).content)
                for t in ("amd", "arm")}
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd, "size": size["amd"],
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm, "size": size["arm"],
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}]}
        r = req.put(f"{s.url}/v2/p/multi/manifests/latest", data=json.dumps(index),
                    headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
        assert r.status_code == 201, r.text
        idx = r.headers["Docker-Content-Digest"]
        got = {x["name"].split("@")[1]: (x["p"], x["ps"]) for x in rows(
            s.url, "resources | where type == 'microsoft.containerregistry/registries/repositories/images'"
                   " | project name, p = properties.platform, ps = properties.platforms", **{"$top": 100})}
        assert got == {amd: ("linux/amd64", None), arm: ("linux/arm64/v8", None),
                       idx: (None, ["linux/amd64", "linux/arm64/v8"]), art: (None, None)}
        whole = rows(s.url, f"resources | where name == 'p/multi@{arm}'")  # unprojected: everything
        assert whole[0]["properties"]["platform"] == "linux/arm64/v8"
        out = subprocess.run([BIN, "query", "--data", s.data_dir, "--format", "json",
                              "resources | where properties.platform == 'linux/arm64/v8' | project name"],
                             capture_output=True, text=True)
        assert out.returncode == 0 and arm in out.stdout, out.stderr  # the data directory's blobs too
    finally:
        s.stop()


def test_vulnerability_ids_follow_a_database_change(full_db, tmp_path):
    """The tables remember which ids each image's findings have; when the database changes and
    the images are re-assessed with other findings, a query for an id reads the new ones."""
    from drydock import VULNDATA
    other_db = tmp_path / "dsa-only.ddb"  # the same inventory, fewer findings (DSA ids), then all
    r = subprocess.run([BIN, "db", "import", "--db", str(other_db), os.path.join(VULNDATA, "debian-osv", "dsa.jsonl.xz")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    s = server_with_db(tmp_path, str(other_db))
    try:
        distroless(s.url, "t/app")
        before = wait(s.url, "t/app", "1")

        def ids_of(a):
            return {f["id"] for f in a["findings"]} | {x for f in a["findings"] for x in f.get("aliases", [])}

        def agree(ids):
            for v in sorted(ids)[:20]:
                ahead = query(s.url, f"securityresources | where properties.id == '{v}' | count")["rows"]
                after = query(s.url, f"securityresources | extend zz = 1 | where properties.id == '{v}' | count")["rows"]
                assert ahead == after, v
                q = f"securityresources | where properties.additionalData.vulnerabilityDetails.cveId =~ '{v.lower()}' | count"
                assert query(s.url, q)["rows"] == query(s.url, q.replace("securityresources", "securityresources | extend zz = 1"))["rows"]
        agree(ids_of(before))  # the cache filled
        gen = requests.get(f"{s.url}/healthz").json()["vulnerability_database"]
        shutil.copy(full_db, os.path.join(s.data_dir, "vulndb.ddb.new"))
        os.rename(os.path.join(s.data_dir, "vulndb.ddb.new"), os.path.join(s.data_dir, "vulndb.ddb"))
        deadline = time.time() + 60
        while time.time() < deadline:
            a = requests.get(f"{s.url}/api/v1/images", params={"repository": "t/app", "reference": "1"}).json()
            if a.get("database_generation") not in (None, gen) and not a.get("reassessment_pending"):
                break
            time.sleep(0.1)
        after = wait(s.url, "t/app", "1")
        new = {f["id"] for f in after["findings"]} - ids_of(before)  # findings the image has only now
        assert new
        agree(new)
        for v in sorted(new)[:5]:  # found
            assert query(s.url, f"securityresources | where properties.id == '{v}' | count")["rows"][0][0] > 0
        gone = sorted(ids_of(before) - ids_of(after))[:5]
        for v in gone:  # and those it no longer has: not found
            assert query(s.url, f"securityresources | where properties.id == '{v}' | count")["rows"] == [[0]]
    finally:
        s.stop()


def test_paging(srv):
    s, _ = srv
    q = "securityresources | where type == 'microsoft.security/assessments/subassessments' | order by id asc | project id"
    everything = query(s.url, q, **{"$top": 10000})
    ids = [r[0] for r in everything["rows"]]
    page = query(s.url, q, **{"$top": 7, "$skip": 3})
    assert page["totalRecords"] == len(ids) and page["count"] == 7 and page["truncated"] is True
    assert [r[0] for r in page["rows"]] == ids[3:10]
    last = query(s.url, q, **{"$top": 1000, "$skip": len(ids) - 2})
    assert last["count"] == 2 and last["truncated"] is False
    assert query(s.url, q, **{"$skip": len(ids) + 5})["rows"] == []


def test_resource_graph_shape(srv):
    s, images = srv
    body = {"query": "securityresources | where type == 'microsoft.security/assessments' | project id, name,"
                     " subscriptionId | order by id asc"}
    r = requests.post(s.url + RG, params=RG_API, json=body)
    assert r.status_code == 200, r.text
    o = r.json()
    assert o["totalRecords"] == 4 and o["count"] == 4 and o["facets"] == [] and o["resultTruncated"] == "false"
    assert set(o["data"][0]) == {"id", "name", "subscriptionId"}
    # scoped to subscriptions; paged with $skipToken; as a table
    body["subscriptions"] = ["u"]
    body["options"] = {"$top": 1, "resultFormat": "table"}
    o = requests.post(s.url + RG, params=RG_API, json=body).json()
    assert o["totalRecords"] == 2 and o["resultTruncated"] == "true" and o["$skipToken"] == "1"
    assert o["data"]["columns"][0] == {"name": "id", "type": "string"} and len(o["data"]["rows"]) == 1
    body["options"]["$skipToken"] = o["$skipToken"]
    o2 = requests.post(s.url + RG, params=RG_API, json=body).json()
    assert o2["resultTruncated"] == "false" and o2["data"]["rows"][0] != o["data"]["rows"][0]
    assert all(r[2] == "u" for r in o["data"]["rows"] + o2["data"]["rows"])
    q = {"query": "securityresources | summarize count()", "subscriptions": ["t"]}
    t_only = requests.post(s.url + RG, params=RG_API, json=q).json()["data"][0]["count_"]
    assert t_only == 2 + 2 * images["t/app"]["counts"]["total"]


def test_errors_name_what_was_wrong(srv):
    s, _ = srv
    r = requests.post(s.url + "/api/v1/query", json={"query": "securityresources\n| where type = 'x'"})
    assert r.status_code == 400
    e = r.json()["errors"][0]
    assert e["code"] == "QUERY_INVALID" and e["detail"]["line"] == 2 and "line 2" in e["message"]
    r = requests.post(s.url + "/api/v1/query", json={"query": "nosuchtable | take 1"})
    assert r.status_code == 400 and "unknown table 'nosuchtable'" in r.text
    # each read of a table reads the store: a query may read them 16 times, not more
    many = "union " + ", ".join(["(securityresources | where type == 'x')"] * 17)
    r = requests.post(s.url + "/api/v1/query", json={"query": many})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "QUERY_LIMIT" and "16 times" in r.text
    for body in (b"not json", b"[1]", b'{"q": 1}', b'{"query": "x", "options": {"$top": 0}}',
                 b'{"query": "x", "options": {"$skip": -1}}', b'{"query": "x", "options": 3}'):
        r = requests.post(s.url + "/api/v1/query", data=body)
        assert r.status_code == 400 and r.json()["errors"][0]["message"], body
    r = requests.get(s.url + "/api/v1/query")
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    # Resource Graph's errors, in its shape
    r = requests.post(s.url + RG, json={"query": "securityresources"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "MissingApiVersionParameter"
    r = requests.post(s.url + RG, params={"api-version": "1999-01-01"}, json={"query": "securityresources"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidApiVersionParameter"
    r = requests.post(s.url + RG, params=RG_API, json={"query": "securityresources | where"})
    assert r.status_code == 400
    d = r.json()["error"]["details"][0]
    assert d["code"] == "InvalidQuery" and d["line"] == 1 and "expected" in d["message"]
    r = requests.post(s.url + RG, params=RG_API, json={"query": "x", "options": {"resultFormat": "csv"}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "BadRequest"
    r = requests.post(s.url + "/providers/Microsoft.ResourceGraph/other", params=RG_API, json={"query": "x"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceNotFound"


def test_cli_over_server_and_data_directory(srv):
    s, images = srv
    q = ("securityresources | where type == 'microsoft.security/assessments/subassessments'"
         " | summarize n = count() by sev = tostring(properties.status.severity) | order by sev asc")
    want = query(s.url, q)
    for where in (["--server", s.url], ["--data", s.data_dir]):
        p = subprocess.run([BIN, "query", *where, "--format", "json", q], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout) == {"columns": want["columns"], "rows": want["rows"]}
        p = subprocess.run([BIN, "query", *where, "--format", "csv", q], capture_output=True, text=True, timeout=60)
        got = list(csv.reader(io.StringIO(p.stdout)))
        assert got[0] == ["sev", "n"] and got[1:] == [[a, str(b)] for a, b in want["rows"]]
        p = subprocess.run([BIN, "query", *where, "--format", "table", q], capture_output=True, text=True, timeout=60)
        lines = p.stdout.splitlines()
        assert lines[0].split() == ["sev", "n"] and set(lines[1]) <= {"-", " "}
        assert lines[-1] == f"({len(want['rows'])} rows)"
    # the texts come from the database beside the data directory, as the server's do
    q = "securityresources | where properties.id == 'CVE-2023-4911' | project d = tostring(properties.description)"
    p = subprocess.run([BIN, "query", "--data", s.data_dir, "--format", "json", q], capture_output=True, text=True)
    assert json.loads(p.stdout)["rows"] == query(s.url, q)["rows"] and len(json.loads(p.stdout)["rows"][0][0]) > 40
    p = subprocess.run([BIN, "query", "--data", s.data_dir, "securityresources | where nope == 1"],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "line 1, column 27" in p.stderr and "nope" in p.stderr
    p = subprocess.run([BIN, "query", "--data", s.data_dir + "/missing", "resources"], capture_output=True, text=True)
    assert p.returncode == 1 and "no data directory" in p.stderr
    p = subprocess.run([BIN, "query", "--format", "xml", "resources"], capture_output=True, text=True)
    assert p.returncode == 2 and "--format" in p.stderr


def test_each_account_sees_what_its_roles_allow(full_db, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(full_db, data / "vulndb.ddb")
    s = Server(str(data), auth=True).start()
    try:
        admin = session(ADMIN)
        pusher = session(add_user(s, "pusher", "writer:*"))
        reader = session(add_user(s, "reader", "security-reader:team/*"))
        with authenticated(pusher.auth):
            distroless(s.url, "team/app")
            distroless(s.url, "other/app")
        for repo in ("team/app", "other/app"):
            wait(s.url, repo, "1", session=admin)
        count = "securityresources | summarize n = count() by subscriptionId | order by subscriptionId asc"
        everyone = query(s.url, count, session=admin)["rows"]
        assert [r[0] for r in everyone] == ["other", "team"]
        assert query(s.url, count, session=reader)["rows"] == [r for r in everyone if r[0] == "team"]
        names = [r[0] for r in query(s.url, "resources | project name", session=reader)["rows"]]
        assert names and all(n.startswith("team/") or n == "127.0.0.1" for n in names), names
        assert query(s.url, "resources | where name startswith 'other'", session=reader)["rows"] == []
        # Resource Graph, scoped to the other namespace: still nothing of it
        r = reader.post(s.url + RG, params=RG_API, json={"query": "securityresources | count", "subscriptions": ["other"]})
        assert r.status_code == 200 and r.json()["data"] == [{"Count": 0}]
        # no credentials: refused, with the challenge, in each endpoint's shape
        r = requests.post(s.url + "/api/v1/query", json={"query": "resources"})
        assert r.status_code == 401 and "WWW-Authenticate" in r.headers
        r = requests.post(s.url + RG, params=RG_API, json={"query": "resources"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "AuthenticationFailed"
        assert "WWW-Authenticate" in r.headers
    finally:
        s.stop()


_SESSION = requests.Session
ADMIN = ("admin", ADMIN_PASSWORD)


def add_user(server, name, role):
    password = f"pw-{name}-secret"
    p = subprocess.run([BIN, "user", "--data", server.data_dir, "add", name, "--password-stdin", "--role", role],
                       input=password + "\n", capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return (name, password)


def session(creds):
    sess = _SESSION()
    sess.auth = creds
    return sess


@contextlib.contextmanager
def authenticated(creds):
    """push_layers' sessions (test_scan_on_push) log in with creds."""
    requests.Session = lambda: session(creds)
    try:
        yield
    finally:
        requests.Session = _SESSION
