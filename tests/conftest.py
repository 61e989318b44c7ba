# eventlet must patch the standard library before anything else imports it.
import eventlet

eventlet.monkey_patch()

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
