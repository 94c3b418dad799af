"""Runs a command with a real S3 service up for it: DRYDOCK_TEST_S3 names its endpoint, so every
drydock server the tests start keeps its blobs in a bucket of its own there (tests/lib/drydock.py).
`make check` runs the HTTP and client suites again this way:

    /usr/bin/python3 tests/store/with_s3.py /usr/bin/python3 -m pytest tests/http tests/clients
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import s3server  # noqa: E402


def main():
    if s3server.missing():
        print(f"with_s3: Ceph is missing ({', '.join(s3server.missing())}): run scripts/deps.sh", file=sys.stderr)
        return 1
    root = tempfile.mkdtemp(prefix="drydock-test-ceph-")
    s3 = s3server.S3Server(root)
    try:
        s3.start()
        env = dict(os.environ, DRYDOCK_TEST_S3=s3.endpoint, AWS_ACCESS_KEY_ID=s3server.ACCESS_KEY,
                   AWS_SECRET_ACCESS_KEY=s3server.SECRET_KEY)
        return subprocess.run(sys.argv[1:], env=env).returncode
    finally:
        s3.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
