"""The first run (setup.py, from ``gonghui up``): a district admin, its token in var/."""

import os
import stat

from services.gateway import setup
from services.gateway.service import MIGRATIONS
from tests.gateway.conftest import authenticate


def test_the_first_run_creates_a_district_admin_with_a_private_token_file(env):
    lines = list(setup.prepare(env["GATEWAY_DATABASE_URL"], MIGRATIONS, env=env))
    token_file = os.path.join(env["GONGHUI_VAR_DIR"], "admin-token")
    assert token_file in lines[0]
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    with open(token_file) as file:
        admin = authenticate(env, file.read().strip())
    assert (admin.role, admin.organization_code) == ("admin", setup.DEFAULT_ADMIN_ORG)

    again = list(setup.prepare(env["GATEWAY_DATABASE_URL"], MIGRATIONS, env=env))
    assert "users exist" in again[0]
    with open(token_file) as file:
        assert authenticate(env, file.read().strip()) == admin
