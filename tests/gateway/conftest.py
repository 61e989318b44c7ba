"""Fixtures: a running gateway (fake registry inside), users of each role, an HTTP client."""

import pytest
import requests
from nameko.testing.services import replace_dependencies

from services.gateway import accounts
from services.gateway.service import GatewayService
from shared.db import open_database
from tests.conftest import gateway_tokens
from tests.gateway.fakes import BANTIAN, DISTRICT, NANKENG, ZHANGBEI, FakeRegistry
from tests.membership.fakes import FakeMembership


class Client:
    """requests against one gateway; ``token`` per call, JSON bodies by default."""

    def __init__(self, address):
        self.base = f"http://{address}"
        self.session = requests.Session()

    def request(self, method, path, token=None, json=None, data=None, headers=None):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, self.base + path, json=json, data=data,
                                    headers=headers, timeout=30)

    def get(self, path, token=None, **kwargs):
        return self.request("GET", path, token, **kwargs)

    def post(self, path, json=None, token=None, **kwargs):
        return self.request("POST", path, token, json=json, **kwargs)

    def patch(self, path, json=None, token=None, **kwargs):
        return self.request("PATCH", path, token, json=json, **kwargs)

    def put(self, path, json=None, token=None, **kwargs):
        return self.request("PUT", path, token, json=json, **kwargs)

    def delete(self, path, token=None, **kwargs):
        return self.request("DELETE", path, token, **kwargs)


# name -> (role, organization): the people the scope tests act as
PEOPLE = {
    "district_admin": ("admin", DISTRICT),
    "bantian_staff": ("staff", BANTIAN),
    "nankeng_staff": ("staff", NANKENG),
    "nankeng_viewer": ("viewer", NANKENG),
    "nankeng_admin": ("admin", NANKENG),
    "zhangbei_staff": ("staff", ZHANGBEI),
}


@pytest.fixture
def env(tmp_path):
    """The environment of a ``gonghui`` command: the gateway's database and var/."""
    return {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/gateway.db",
            "GONGHUI_VAR_DIR": str(tmp_path / "var")}


def authenticate(env, token):
    """The user holding ``token`` in the database of ``env``."""
    db = open_database(env["GATEWAY_DATABASE_URL"], "gateway", run_migrations=False)
    try:
        with db.session() as session:
            return accounts.authenticate(session, token)
    finally:
        db.engine.dispose()


@pytest.fixture
def registry():
    return FakeRegistry()


@pytest.fixture
def gateway_config(make_service_config, sqlite_url):
    return make_service_config(sqlite_url)


@pytest.fixture
def membership():
    return FakeMembership()


@pytest.fixture
def gateway(container_factory, gateway_config, registry, membership):
    container = container_factory(GatewayService, gateway_config)
    replace_dependencies(container, registry_rpc=registry, membership_rpc=membership)
    container.start()
    return container


@pytest.fixture
def client(gateway, gateway_config):
    return Client(gateway_config["WEB_SERVER_ADDRESS"])


@pytest.fixture
def tokens(gateway, gateway_config):
    """name -> bearer token for each of PEOPLE, created in the gateway's database."""
    return gateway_tokens(gateway_config["DATABASE_URL"], PEOPLE)
