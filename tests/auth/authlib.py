"""Helpers for the authentication tests: accounts made with the real `drydock user`, sessions
that log in with Basic or with a token from the server's own token endpoint."""
import subprocess

import requests

from drydock import ADMIN_PASSWORD, BIN


def user(server, *args, password=None):
    p = subprocess.run([BIN, "user", "--data", server.data_dir, *args], input=password and password + "\n",
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p


def add_user(server, name, *roles, password=None):
    password = password or f"pw-{name}-secret"
    args = ["add", name, "--password-stdin"]
    for r in roles:
        args += ["--role", r]
    user(server, *args, password=password)
    return (name, password)


ADMIN = ("admin", ADMIN_PASSWORD)


def basic(creds):
    s = requests.Session()
    if creds:
        s.auth = creds
    return s


def token(server, creds, *scopes, offline=False):
    params = [("service", "drydock")] + [("scope", s) for s in scopes]
    if offline:
        params.append(("offline_token", "true"))
    r = requests.get(f"{server.url}/auth/token", params=params, auth=creds)
    assert r.status_code == 200, r.text
    return r.json()


def bearer(tok):
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {tok}"
    return s
