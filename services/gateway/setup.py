"""First run of the gateway (``gonghui up``): migrate, and make sure someone can log in.

On a database with no users yet, creates a district admin and writes their token to
``var/admin-token`` (mode 600: only this account can read it), since a token is shown
once and ``gonghui up`` prints to a terminal others may see. Later runs change nothing.
"""

import os

from services.gateway import accounts
from shared.config import var_dir
from shared.db import open_database

ADMIN_NAME = "district-admin"
# The registry's sample district is rooted here (see services/registry/sample.py).
DEFAULT_ADMIN_ORG = "longgang"


def write_secret(path, text: str):
    """Write ``text`` to ``path`` readable by its owner only, replacing any old file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
        os.write(fd, (text + "\n").encode())
    finally:
        os.close(fd)


def prepare(database_url, migrations_dir, env=os.environ):
    db = open_database(database_url, "gateway", migrations_dir)
    try:
        token_file = var_dir(env) / "admin-token"
        with db.unit_of_work() as uow:
            if accounts.has_users(uow.session):
                yield f"users exist; `gonghui gateway create-user` adds more ({token_file} " \
                      "holds the first admin's token if it was kept)"
                return
            org = env.get("GATEWAY_ADMIN_ORG", DEFAULT_ADMIN_ORG)
            user, token = accounts.create_user(uow.session, ADMIN_NAME, "admin", org,
                                               accounts.token_lifetime(env))
            write_secret(token_file, token)
        yield f"created admin {user.name!r} for {org}; token in {token_file} (mode 600)"
    finally:
        db.engine.dispose()
