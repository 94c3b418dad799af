"""Runs a command with a real S3 service up for it: DRYDOCK_TEST_S3 names its endpoint, so every
drydock server the tests start keeps its blobs in a bucket of its own there (tests/lib/drydock.py).
With --pg, a real PostgreSQL too: DRYDOCK_TEST_PG names it, and every server keeps its metadata in
a database of its own there. `make check` runs the HTTP and client suites again this way, as a
node of a cluster keeps its data:

    /usr/bin/python3 tests/store/with_s3.py --pg /usr/bin/python3 -m pytest tests/http tests/clients
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pgserver  # noqa: E402
import s3server  # noqa: E402


def main():
    if s3server.missing():
        print(f"with_s3: Ceph is missing ({', '.join(s3server.missing())}): run scripts/deps.sh", file=sys.stderr)
        return 1
    args = sys.argv[1:]
    pg = None
    if args[:1] == ["--pg"]:
        args = args[1:]
        if pgserver.missing():
            print("with_s3: PostgreSQL is missing: run scripts/deps.sh", file=sys.stderr)
            return 1
        pg = pgserver.PgServer(tempfile.mkdtemp(prefix="drydock-test-pg-"))
    root = tempfile.mkdtemp(prefix="drydock-test-ceph-")
    s3 = s3server.S3Server(root)
    try:
        s3.start()
        env = dict(os.environ, DRYDOCK_TEST_S3=s3.endpoint, AWS_ACCESS_KEY_ID=s3server.ACCESS_KEY,
                   AWS_SECRET_ACCESS_KEY=s3server.SECRET_KEY)
        if pg:
            pg.start()
            env["DRYDOCK_TEST_PG"] = pg.url()
        return subprocess.run(args, env=env).returncode
    finally:
        s3.stop()
        shutil.rmtree(root, ignore_errors=True)
        if pg:
            pg.stop()
            shutil.rmtree(pg.root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
