"""The database's checksum is checked after the server has started (by a thread of its own,
so the port opens without reading the whole file): a damaged file is refused whole, and pushed
images stay queued (not Failed) until a good one is put in place, which assesses them; a
damaged file put over one in use is refused whole and the one in use goes on answering."""
import os
import time

import requests

from drydock import Server, wait_assessed
from test_totals import distroless


def test_damaged_database_answers_nothing(full_db, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    bad = bytearray(open(full_db, "rb").read())
    bad[len(bad) // 2] ^= 0x01  # in the body: the header and every section still look right
    (data / "vulndb.ddb").write_bytes(bytes(bad))
    srv = Server(str(data)).start()
    s = requests.Session()
    try:
        url = srv.url
        distroless(s, url, "t/app", "1")
        deadline = time.time() + 30
        while "checksum mismatch" not in open(srv.log_path).read() and time.time() < deadline:
            time.sleep(0.1)
        assert "checksum mismatch" in open(srv.log_path).read()
        time.sleep(1)  # a worker would have had the image by now
        a = s.get(f"{url}/api/v1/images", params={"repository": "t/app", "reference": "1"}).json()
        assert a["status"] not in ("Healthy", "Unhealthy", "NotApplicable", "Failed"), a

        def put(content, name="vulndb.ddb.new"):
            with open(data / name, "wb") as f:
                f.write(content)
            os.rename(data / name, data / "vulndb.ddb")

        # the good file in place (the same build): taken, and the failed image assessed again
        put(open(full_db, "rb").read())
        a = wait_assessed(url, "t/app", "1", want="Unhealthy")
        assert a["total_findings"] > 0
        # a damaged file over it: refused at once, the good one answers on (the first file's
        # damage may be logged once or twice at start: the check at open and the one in the
        # background can both see it; a new line is what tells the replacement was checked)
        seen = open(srv.log_path).read().count("checksum mismatch")
        put(bytes(bad))
        deadline = time.time() + 30  # the watcher looks every second
        while open(srv.log_path).read().count("checksum mismatch") <= seen and time.time() < deadline:
            time.sleep(0.1)
        assert open(srv.log_path).read().count("checksum mismatch") > seen
        distroless(s, url, "t/other", "1")
        b = wait_assessed(url, "t/other", "1")
        assert b["status"] == "Unhealthy" and b["total_findings"] == a["total_findings"]
        assert b["database_generation"] == a["database_generation"]
    finally:
        srv.stop()
