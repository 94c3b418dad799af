"""The Microsoft.Security shape, field by field against the published schema: Azure's REST API
specification for Microsoft.Security (subAssessments.json of 2019-01-01-preview; assessments.json
and assessmentMetadata.json of 2021-06-01; common/v1/types.json for ResourceDetails and
CloudError) and Defender for Cloud's documentation of the container registry sub-assessments
(the AzureContainerRegistryVulnerability additionalData). Real images pushed to a live server,
assessed by its workers, read back with the paths, parameters and queries that Azure scripts use."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from drydock import Server
from drydock import wait_assessed as wait
from test_scan_on_push import distroless, server_with_db

QUALYS = "dbd0cb49-b563-45e7-9724-889e799fa648"
MDVM = "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"
SUB_API = {"api-version": "2019-01-01-preview"}
API = {"api-version": "2021-06-01"}
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

# The published schema's required fields, enums and types, transcribed (a small subset of JSON
# Schema: type, required, properties, enum, items, additionalProperties; "nullable" marks a
# value the service writes as null, as the documented example does for cvss "2.0").
STR, NUM, BOOL = {"type": "string"}, {"type": "number"}, {"type": "boolean"}
SEVERITY = {"type": "string", "enum": ["Low", "Medium", "High"]}
RESOURCE_DETAILS = {"type": "object", "required": ["source"],
                    "properties": {"source": {"type": "string", "enum": ["Azure", "OnPremise", "OnPremiseSql"]},
                                   "id": STR}}
RESOURCE = {"id": STR, "name": STR, "type": STR}
LINK = {"type": "object", "properties": {"title": STR, "link": STR}}
CVSS = {"type": "object", "additionalProperties": {"type": "object", "nullable": True,
                                                   "properties": {"base": NUM, "cvssVectorString": STR}}}
SUB_STATUS = {"type": "object", "properties": {
    "code": {"type": "string", "enum": ["Healthy", "Unhealthy", "NotApplicable"]},
    "cause": STR, "description": STR, "severity": SEVERITY}}
QUALYS_DATA = {"type": "object", "required": ["assessedResourceType"], "properties": {
    "assessedResourceType": {"type": "string", "enum": ["ContainerRegistryVulnerability"]},
    "type": STR, "cvss": CVSS, "patchable": BOOL, "cve": {"type": "array", "items": LINK},
    "publishedTime": {"type": "string", "nullable": True}, "vendorReferences": {"type": "array", "items": LINK},
    "repositoryName": STR, "imageDigest": STR, "imageName": STR, "registryHost": STR}}
MDVM_DATA = {"type": "object", "required": ["assessedResourceType"], "properties": {
    "assessedResourceType": {"type": "string", "enum": ["AzureContainerRegistryVulnerability"]},
    "cvssV30Score": NUM,
    "vulnerabilityDetails": {"type": "object", "properties": {
        "severity": STR, "cveId": STR, "cvss": CVSS, "publishedDate": STR, "lastModifiedDate": STR,
        "references": {"type": "array", "items": LINK}, "workarounds": {"type": "array"}}},
    "artifactDetails": {"type": "object", "properties": {
        "repositoryName": STR, "registryHost": STR, "artifactType": {"type": "string", "enum": ["ContainerImage"]},
        "mediaType": STR, "digest": STR, "tags": {"type": "array", "items": STR}, "lastPushedToRegistryUTC": STR}},
    "softwareDetails": {"type": "object", "properties": {
        "fixedVersion": STR, "category": STR, "language": STR, "version": STR, "vendor": STR, "packageName": STR,
        "osDetails": {"type": "object", "properties": {"osPlatform": STR, "osName": STR, "osVersion": STR}},
        "fixStatus": {"type": "string", "enum": ["Unknown", "FixAvailable", "NoFixAvailable", "Scheduled", "WontFix"]},
        "evidence": {"type": "array"}}}}}


def sub_schema(data):
    return {"type": "object", "properties": dict(RESOURCE, properties={"type": "object", "properties": {
        "id": STR, "displayName": STR, "status": SUB_STATUS, "remediation": STR, "impact": STR, "category": STR,
        "description": STR, "timeGenerated": STR, "resourceDetails": RESOURCE_DETAILS, "additionalData": data}})}


ASSESSMENT = {"type": "object", "properties": dict(RESOURCE, properties={
    "type": "object", "required": ["resourceDetails", "status"], "properties": {
        "resourceDetails": RESOURCE_DETAILS, "displayName": STR,
        "additionalData": {"type": "object", "additionalProperties": STR},
        "status": {"type": "object", "required": ["code"], "properties": {
            "code": {"type": "string", "enum": ["Healthy", "Unhealthy", "NotApplicable"]},
            "cause": STR, "description": STR, "firstEvaluationDate": STR, "statusChangeDate": STR}},
        "metadata": {"type": "object", "required": ["displayName", "severity", "assessmentType"], "properties": {
            "displayName": STR, "policyDefinitionId": STR, "description": STR, "remediationDescription": STR,
            "categories": {"type": "array", "items": {"type": "string", "enum": [
                "Compute", "Networking", "Data", "IdentityAndAccess", "IoT"]}},
            "severity": SEVERITY, "userImpact": {"type": "string", "enum": ["Low", "Moderate", "High"]},
            "implementationEffort": {"type": "string", "enum": ["Low", "Moderate", "High"]},
            "preview": BOOL,
            "assessmentType": {"type": "string", "enum": [
                "BuiltIn", "CustomPolicy", "CustomerManaged", "VerifiedPartner"]}}}}})}
CLOUD_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"], "properties": {"code": STR, "message": STR}}}}
TYPES = {"string": str, "number": (int, float), "boolean": bool, "object": dict, "array": list}


def check(schema, v, where="$"):
    """Asserts that v follows schema (the subset above)."""
    if v is None and schema.get("nullable"):
        return
    t = schema.get("type")
    assert t is None or (isinstance(v, TYPES[t]) and not (t == "number" and isinstance(v, bool))), \
        f"{where}: {v!r} is not a {t}"
    if "enum" in schema:
        assert v in schema["enum"], f"{where}: {v!r} not in {schema['enum']}"
    if isinstance(v, dict):
        for k in schema.get("required", ()):
            assert k in v, f"{where}: required '{k}' missing"
        for k, sub in schema.get("properties", {}).items():
            if k in v:
                check(sub, v[k], f"{where}.{k}")
        if "additionalProperties" in schema:
            for k, x in v.items():
                check(schema["additionalProperties"], x, f"{where}.{k}")
    if isinstance(v, list) and "items" in schema:
        for i, x in enumerate(v):
            check(schema["items"], x, f"{where}[{i}]")


def azure_error(r, status):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    check(CLOUD_ERROR, r.json())
    assert "errors" not in r.json()  # not OCI's shape
    return r.json()["error"]


NAMES = ["--azure-subscription", "0b06d9ea-afe6-4779-bd59-30e5c2d9d13f", "--azure-resource-group", "rg-ci",
         "--azure-registry", "acme"]
REGISTRY_ID = ("/subscriptions/0b06d9ea-afe6-4779-bd59-30e5c2d9d13f/resourceGroups/rg-ci/providers/"
               "Microsoft.ContainerRegistry/registries/acme")


@pytest.fixture(scope="module")
def named(full_db, tmp_path_factory):
    """A server with the Azure names configured, holding two assessed images (t/app, u/app)."""
    srv = server_with_db(tmp_path_factory.mktemp("named"), full_db, *NAMES)
    distroless(srv.url, "t/app")
    distroless(srv.url, "u/app")
    a = wait(srv.url, "t/app", "1")
    wait(srv.url, "u/app", "1")
    yield srv, a
    srv.stop()


@pytest.fixture(scope="module")
def plain(full_db, tmp_path_factory):
    """A server with the default names, holding the same two images."""
    srv = server_with_db(tmp_path_factory.mktemp("plain"), full_db)
    distroless(srv.url, "t/app")
    distroless(srv.url, "u/app")
    a = wait(srv.url, "t/app", "1")
    wait(srv.url, "u/app", "1")
    yield srv, a
    srv.stop()


def subs_of(url, key, scope="", **params):
    r = requests.get(f"{url}{scope}/providers/Microsoft.Security/assessments/{key}/subAssessments",
                     params=dict(SUB_API, **params))
    assert r.status_code == 200, r.text
    return r.json()


def test_subassessments_follow_both_schemas(plain):
    srv, a = plain
    for key, data in ((QUALYS, QUALYS_DATA), (MDVM, MDVM_DATA)):
        subs = subs_of(srv.url, key)["value"]
        assert len(subs) == 2 * a["counts"]["total"]
        for s in subs:
            check(sub_schema(data), s)
            assert s["type"] == "Microsoft.Security/assessments/subAssessments"
            assert GUID.match(s["name"]) and s["id"].endswith(f"/assessments/{key}/subAssessments/{s['name']}")
            p = s["properties"]
            # the schema's enum: "drydock" was not one of its values
            ad = p["additionalData"]
            repo = ad.get("repositoryName") or ad["artifactDetails"]["repositoryName"]
            # "Azure" from the schema's enum (it was "drydock", which is none of its values)
            assert p["resourceDetails"] == {"source": "Azure", "id": f"/repositories/{repo}/images/{a['digest']}"}
            # a string, never null: "" as the documented example, "Exempt" when suppressed
            assert p["status"]["code"] == "Unhealthy" and p["status"]["cause"] == ""
            assert p["status"]["description"] and ISO.match(p["timeGenerated"])
    # the same findings under both keys, under the same names
    names = lambda key: sorted(s["name"] for s in subs_of(srv.url, key)["value"])  # noqa: E731
    assert names(QUALYS) == names(MDVM) and len(set(names(QUALYS))) == len(names(QUALYS))


def test_qualys_additional_data(plain):
    srv, a = plain
    subs = subs_of(srv.url, QUALYS)["value"]
    for s in subs:
        ad = s["properties"]["additionalData"]
        assert ad["assessedResourceType"] == "ContainerRegistryVulnerability" and ad["type"] == "Vulnerability"
        assert ad["imageName"] == ad["repositoryName"] in ("t/app", "u/app")
        assert ad["imageDigest"] == a["digest"] and ad["registryHost"] == srv.url.split("://")[1]
        # a dictionary from version to details: both versions, null where there is no score
        assert isinstance(ad["cvss"], dict) and set(ad["cvss"]) == {"2.0", "3.0"}
    looney = [s for s in subs if s["properties"]["id"] == "CVE-2023-4911"][0]["properties"]
    assert looney["status"]["severity"] == "High" and looney["additionalData"]["patchable"] is True
    assert looney["additionalData"]["cve"][0] == {"title": "CVE-2023-4911",
                                                  "link": "https://nvd.nist.gov/vuln/detail/CVE-2023-4911"}
    assert looney["additionalData"]["cvss"]["3.0"]["base"] == 7.8
    assert looney["additionalData"]["cvss"]["3.0"]["cvssVectorString"].startswith("CVSS:3")
    assert looney["additionalData"]["cvss"]["2.0"] is None


def test_mdvm_additional_data(plain):
    srv, a = plain
    subs = subs_of(srv.url, MDVM)["value"]
    for s in subs:
        p = s["properties"]
        ad = p["additionalData"]
        assert p["displayName"] == p["id"]
        assert ad["assessedResourceType"] == "AzureContainerRegistryVulnerability"
        art, soft, vuln = ad["artifactDetails"], ad["softwareDetails"], ad["vulnerabilityDetails"]
        assert art["repositoryName"] in ("t/app", "u/app") and art["digest"] == a["digest"]
        assert art["registryHost"] == srv.url.split("://")[1] and art["artifactType"] == "ContainerImage"
        assert art["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
        assert ISO.match(art["lastPushedToRegistryUTC"]) and art["tags"] == ["1"]
        assert soft["osDetails"] == {"osPlatform": "linux", "osName": "Debian", "osVersion": "12"}
        assert soft["category"] == "OS" and soft["packageName"] and soft["version"]
        assert (soft["fixStatus"] == "FixAvailable") == bool(soft["fixedVersion"])
        assert vuln["severity"] == p["status"]["severity"] and set(vuln["cvss"]) == {"2.0", "3.0"}
    looney = [s for s in subs if s["properties"]["id"] == "CVE-2023-4911"][0]["properties"]["additionalData"]
    assert looney["vulnerabilityDetails"]["cveId"] == "CVE-2023-4911"
    assert looney["vulnerabilityDetails"]["references"][0]["link"].endswith("CVE-2023-4911")
    assert looney["cvssV30Score"] == 7.8
    assert looney["softwareDetails"]["packageName"] == "libc6" and looney["softwareDetails"]["fixStatus"] == "FixAvailable"


def kql_extract_registry(id_):
    """extract("(.+)/providers/Microsoft.Security", 1, id): greedy, as Kusto's RE2 is."""
    m = re.search(r"(.+)/providers/Microsoft.Security", id_)
    return m.group(1) if m else ""


def test_ids_begin_with_the_registry_resource(named):
    srv, a = named
    for key in (QUALYS, MDVM):
        for s in subs_of(srv.url, key)["value"]:
            assert re.match(rf"^{re.escape(REGISTRY_ID)}/providers/Microsoft.Security/assessments/{key}/"
                            rf"subAssessments/{s['name']}$", s["id"]), s["id"]
            assert kql_extract_registry(s["id"]) == REGISTRY_ID
            # parse id with registryResourceId '/providers/Microsoft.Security/assessments/' *
            assert s["id"].split("/providers/Microsoft.Security/assessments/")[0] == REGISTRY_ID
            # split(id, '/providers/Microsoft.ContainerRegistry/registries/')[1]
            assert s["id"].split("/providers/Microsoft.ContainerRegistry/registries/")[1].startswith("acme/")
    # Azure reads paths without regard to case (Resource Graph writes ids in lowercase)
    s = subs_of(srv.url, MDVM)["value"][0]
    r = requests.get(srv.url + s["id"].lower(), params=SUB_API)
    assert r.status_code == 200 and r.json() == s
    # the registry's own scope, and the subscription's, serve the same; another registry nothing
    everything = subs_of(srv.url, QUALYS)["value"]
    assert subs_of(srv.url, QUALYS, REGISTRY_ID)["value"] == everything
    assert subs_of(srv.url, QUALYS, REGISTRY_ID.split("/resourceGroups")[0])["value"] == everything
    assert subs_of(srv.url, QUALYS, REGISTRY_ID.replace("acme", "other"))["value"] == []
    assert subs_of(srv.url, QUALYS, "/subscriptions/11111111-1111-1111-1111-111111111111")["value"] == []
    r = requests.get(f"{srv.url}{REGISTRY_ID}/providers/Microsoft.Security/assessments/{QUALYS}", params=API)
    assert r.status_code == 200 and r.json()["id"] == f"{REGISTRY_ID}/providers/Microsoft.Security/assessments/{QUALYS}"
    assert r.json()["properties"]["resourceDetails"] == {"source": "Azure", "id": REGISTRY_ID}


def test_default_names_from_namespace_and_host(plain):
    srv, a = plain
    host = srv.url.split("://")[1].split(":")[0]
    only_t = subs_of(srv.url, QUALYS, "/subscriptions/t")["value"]
    assert len(only_t) == a["counts"]["total"]
    for s in only_t:
        assert s["properties"]["additionalData"]["repositoryName"] == "t/app"
        assert kql_extract_registry(s["id"]) == \
            f"/subscriptions/t/resourceGroups/drydock/providers/Microsoft.ContainerRegistry/registries/{host}"
    # a namespace is a subscription: one registry, so one assessment per key, per namespace
    lst = requests.get(f"{srv.url}/providers/Microsoft.Security/assessments", params=API).json()["value"]
    assert sorted((x["name"], x["properties"]["resourceDetails"]["id"].split("/")[2]) for x in lst) == \
        sorted((k, ns) for k in (QUALYS, MDVM) for ns in ("t", "u"))


def test_assessment_objects(named):
    srv, a = named
    base = f"{srv.url}/providers/Microsoft.Security/assessments"
    lst = requests.get(base, params=API).json()["value"]
    assert [x["name"] for x in lst] == [QUALYS, MDVM]
    want = {QUALYS: "Container registry images should have vulnerability findings resolved (powered by Qualys)",
            MDVM: "Azure registry container images should have vulnerabilities resolved (powered by Microsoft "
                  "Defender Vulnerability Management)"}
    for x in lst:
        check(ASSESSMENT, x)
        p = x["properties"]
        assert x["type"] == "Microsoft.Security/assessments"
        assert x["id"] == f"{REGISTRY_ID}/providers/Microsoft.Security/assessments/{x['name']}"
        assert p["displayName"] == p["metadata"]["displayName"] == want[x["name"]]
        assert p["status"]["code"] == "Unhealthy" and isinstance(p["status"]["cause"], str)
        assert p["status"]["description"]
        assert ISO.match(p["status"]["firstEvaluationDate"]) and ISO.match(p["status"]["statusChangeDate"])
        assert p["status"]["firstEvaluationDate"] <= p["status"]["statusChangeDate"]
        md = p["metadata"]
        assert md["severity"] == "High" and md["assessmentType"] == "BuiltIn" and md["description"]
        assert md["policyDefinitionId"].startswith("/providers/Microsoft.Authorization/policyDefinitions/")
        assert md["remediationDescription"] and md["categories"] == ["Compute"]
        one = requests.get(f"{base}/{x['name']}", params=API)
        assert one.status_code == 200 and one.json() == x
    # every version of the assessments API that has this shape; $expand as documented
    for v in ("2019-01-01-preview", "2020-01-01", "2021-06-01"):
        assert requests.get(f"{base}/{MDVM}", params={"api-version": v}).status_code == 200
    for e in ("links", "metadata"):
        assert requests.get(f"{base}/{MDVM}", params=dict(API, **{"$expand": e})).status_code == 200
    assert "$expand" in azure_error(requests.get(f"{base}/{MDVM}", params=dict(API, **{"$expand": "x"})), 400)["message"]


def test_api_version_required_and_checked(named):
    srv, _ = named
    base = f"{srv.url}/providers/Microsoft.Security/assessments"
    for url in (base, f"{base}/{QUALYS}", f"{base}/{QUALYS}/subAssessments",
                f"{srv.url}/subscriptions/x/providers/Microsoft.Security/subAssessments"):
        assert azure_error(requests.get(url), 400)["code"] == "MissingApiVersionParameter"
        assert azure_error(requests.get(url, params={"api-version": ""}), 400)["code"] == "MissingApiVersionParameter"
        e = azure_error(requests.get(url, params={"api-version": "2099-13-01"}), 400)
        assert e["code"] == "InvalidApiVersionParameter" and "2099-13-01" in e["message"]
    # sub-assessments have one version only
    e = azure_error(requests.get(f"{base}/{QUALYS}/subAssessments", params=API), 400)
    assert "2019-01-01-preview" in e["message"]


def test_paging_with_an_absolute_next_link(plain):
    srv, a = plain
    everything = subs_of(srv.url, QUALYS)["value"]
    page = subs_of(srv.url, QUALYS, **{"$top": 3})
    assert [s["name"] for s in page["value"]] == [s["name"] for s in everything[:3]]
    link = page["nextLink"]
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == srv.url
    assert parts.path == f"/providers/Microsoft.Security/assessments/{QUALYS}/subAssessments"
    q = parse_qs(parts.query)
    assert q["api-version"] == ["2019-01-01-preview"] and "$skipToken" in q and "$skip" not in q
    got = page["value"]
    while "nextLink" in page:  # a client follows the link as it is
        r = requests.get(page["nextLink"])
        assert r.status_code == 200, r.text
        page = r.json()
        got += page["value"]
    assert [s["name"] for s in got] == [s["name"] for s in everything]
    e = azure_error(requests.get(f"{srv.url}/providers/Microsoft.Security/assessments/{QUALYS}/subAssessments",
                                 params=dict(SUB_API, **{"$skip": 3})), 400)
    assert "$skip" in e["message"]
    for bad in ("-1", "x", ""):
        azure_error(requests.get(f"{srv.url}/providers/Microsoft.Security/assessments/{QUALYS}/subAssessments",
                                 params=dict(SUB_API, **{"$skipToken": bad})), 400)


def test_one_subassessment_by_name(plain):
    srv, a = plain
    for key in (QUALYS, MDVM):
        for s in subs_of(srv.url, key)["value"][:3]:
            r = requests.get(f"{srv.url}/providers/Microsoft.Security/assessments/{key}/subAssessments/{s['name']}",
                             params=SUB_API)
            assert r.status_code == 200, r.text
            assert r.json() == s
            # by its full id, as Azure's clients build the URL
            r = requests.get(srv.url + s["id"], params=SUB_API)
            assert r.status_code == 200 and r.json() == s
    r = requests.get(f"{srv.url}/providers/Microsoft.Security/assessments/{QUALYS}/subAssessments/"
                     "00000000-0000-5000-8000-000000000000", params=SUB_API)
    assert azure_error(r, 404)["code"] == "ResourceNotFound"
    # out of scope: u's name asked under t's subscription
    u_name = next(s["name"] for s in subs_of(srv.url, QUALYS)["value"]
                  if s["properties"]["additionalData"]["repositoryName"] == "u/app")
    azure_error(requests.get(f"{srv.url}/subscriptions/t/providers/Microsoft.Security/assessments/{QUALYS}/"
                             f"subAssessments/{u_name}", params=SUB_API), 404)


def test_subscription_wide_subassessments(plain):
    srv, a = plain
    r = requests.get(f"{srv.url}/subscriptions/t/providers/Microsoft.Security/subAssessments", params=SUB_API)
    assert r.status_code == 200, r.text
    got = r.json()["value"]
    assert len(got) == 2 * a["counts"]["total"]  # every assessment's: both keys
    keys = {s["id"].split("/providers/Microsoft.Security/assessments/")[1].split("/")[0] for s in got}
    assert keys == {QUALYS, MDVM}
    by_key = lambda k: sorted(s["id"] for s in got if f"/assessments/{k}/" in s["id"])  # noqa: E731
    assert by_key(QUALYS) == sorted(s["id"] for s in subs_of(srv.url, QUALYS, "/subscriptions/t")["value"])
    assert by_key(MDVM) == sorted(s["id"] for s in subs_of(srv.url, MDVM, "/subscriptions/t")["value"])
    r = requests.get(f"{srv.url}/providers/Microsoft.Security/subAssessments", params=SUB_API)
    assert r.status_code == 200 and len(r.json()["value"]) == 4 * a["counts"]["total"]


def test_unsupported_odata_options_are_refused(plain):
    srv, _ = plain
    for path in (f"/providers/Microsoft.Security/assessments/{QUALYS}/subAssessments",
                 "/subscriptions/t/providers/Microsoft.Security/subAssessments"):
        for opt, val in (("$filter", "properties/status/severity eq 'High'"), ("$select", "name"),
                         ("$orderby", "name")):
            e = azure_error(requests.get(srv.url + path, params=dict(SUB_API, **{opt: val})), 400)
            assert opt in e["message"] and "not supported" in e["message"]
    e = azure_error(requests.get(f"{srv.url}/providers/Microsoft.Security/assessments",
                                 params=dict(API, **{"$filter": "name eq 'x'"})), 400)
    assert "$filter" in e["message"]
    # paging options only where there are pages
    for path, opt in (("/providers/Microsoft.Security/assessments", "$top"),
                      (f"/providers/Microsoft.Security/assessments/{QUALYS}/subAssessments/x", "$skipToken")):
        e = azure_error(requests.get(srv.url + path, params=dict(API if "sub" not in path else SUB_API, **{opt: "1"})),
                        400)
        assert opt in e["message"]


def test_errors_in_azure_shape(plain):
    srv, _ = plain
    base = f"{srv.url}/providers/Microsoft.Security"
    assert azure_error(requests.get(f"{base}/assessments/nope", params=API), 404)["code"] == "ResourceNotFound"
    azure_error(requests.get(f"{base}/alerts", params=API), 404)
    azure_error(requests.get(f"{base}/assessments/{QUALYS}/subAssessments/a/b", params=SUB_API), 404)
    azure_error(requests.get(f"{srv.url}/subscriptions/t/resourceGroups/", params=API), 404)
    r = requests.put(f"{base}/assessments/{QUALYS}", params=API, json={})
    assert azure_error(r, 405)["code"] == "MethodNotAllowed" and r.headers["Allow"] == "GET"


def test_refusals_in_azure_shape(tmp_path):
    srv = Server(str(tmp_path / "data"), auth=True).start()
    try:
        r = requests.get(f"{srv.url}/providers/Microsoft.Security/assessments", params=API)
        assert azure_error(r, 401)["code"] == "AuthenticationFailed"
        assert "WWW-Authenticate" in r.headers
    finally:
        srv.stop()
