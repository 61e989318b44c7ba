# eventlet must patch the standard library before anything else imports it.
import eventlet

eventlet.monkey_patch()

import pytest  # noqa: E402

from shared import pii, sealing  # noqa: E402

pytest_plugins = ["shared.testing"]


def gateway_tokens(database_url, people) -> dict:
    """{name: bearer token} for ``people`` ({name: (role, organization)}), made as users in
    the gateway database at ``database_url``."""
    from services.gateway import accounts
    from shared.db import open_database

    db = open_database(database_url, "gateway", run_migrations=False)
    try:
        with db.unit_of_work() as uow:
            return {name: accounts.create_user(uow.session, name, role, org)[1]
                    for name, (role, org) in people.items()}
    finally:
        db.engine.dispose()


# The identity key pair and the gateway's hashing key of every test (issue 12): set in
# the environment, so that no service started by a test writes development keys in var/.
IDENTITY_PRIVATE, IDENTITY_PUBLIC = sealing.new_pair()
GATEWAY_PII_KEY = "9a" * 32


@pytest.fixture(autouse=True)
def identity_keys(monkeypatch):
    monkeypatch.setenv(sealing.PUBLIC_SETTING, IDENTITY_PUBLIC)
    monkeypatch.setenv(sealing.PRIVATE_SETTING, IDENTITY_PRIVATE)
    monkeypatch.setenv(pii.setting_name("gateway"), GATEWAY_PII_KEY)
