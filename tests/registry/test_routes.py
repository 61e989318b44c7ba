"""The registry's gateway routes in front of the real registry (both on the broker, each
with its own SQLite database, the sample district loaded): the cursor lists over HTTP."""

import pytest

from services.gateway.service import GatewayService
from services.registry import sample
from services.registry.service import MIGRATIONS, RegistryService
from tests.conftest import gateway_tokens
from tests.gateway.conftest import Client

V1 = "/api/v1"
BANTIAN = "longgang.bantian"


@pytest.fixture
def system(container_factory, make_service_config, database_factory, tmp_path):
    registry_config = make_service_config(f"sqlite:///{tmp_path}/registry.db")
    sample.load_sample(database_factory(registry_config["DATABASE_URL"], "registry",
                                        MIGRATIONS), enterprises=400)
    gateway_config = make_service_config(f"sqlite:///{tmp_path}/gateway.db")
    container_factory(RegistryService, registry_config).start()
    container_factory(GatewayService, gateway_config).start()
    tokens = gateway_tokens(gateway_config["DATABASE_URL"], {
        "admin": ("admin", sample.DISTRICT), "nankeng": ("viewer", sample.NANKENG)})
    return Client(gateway_config["WEB_SERVER_ADDRESS"]), tokens


def walk(client, path, limit, token=None):
    """Every page of a list over HTTP, following next_cursor."""
    pages, query = [], f"limit={limit}"
    while True:
        response = client.get(f"{path}?{query}", token=token)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"} and len(body["items"]) <= limit
        pages.append(body["items"])
        if body["next_cursor"] is None:
            return pages
        query = f"limit={limit}&cursor={body['next_cursor']}"


def test_every_page_of_the_children_and_of_the_enterprises_over_http(system):
    client, tokens = system
    children = walk(client, f"{V1}/organizations/{sample.DISTRICT}/children", limit=4)
    codes = [org["code"] for page in children for org in page]
    assert len(children) == 4 and codes == sorted(codes) and len(codes) == 15  # 11 + 4
    assert all("contacts" not in org for page in children for org in page)  # public cards

    pages = walk(client, f"{V1}/organizations/{sample.NANKENG}/enterprises", limit=50,
                 token=tokens["nankeng"])
    assert [len(page) for page in pages] == [50, 50, 50, 50, 27]  # 南坑's 227
    keys = [(e["community_code"], e["credit_code"]) for page in pages for e in page]
    assert keys == sorted(set(keys))
    district = walk(client, f"{V1}/organizations/{sample.DISTRICT}/enterprises", limit=500,
                    token=tokens["admin"])
    assert sum(len(page) for page in district) == 400


def test_a_bad_cursor_or_limit_is_a_400_and_offsets_are_gone(system):
    client, tokens = system
    for path, token in ((f"{V1}/organizations/{BANTIAN}/children", None),
                        (f"{V1}/organizations/{BANTIAN}/enterprises", tokens["admin"])):
        for query in ("cursor=bm90LWEtY3Vyc29y", "cursor=%%%", "limit=0", "limit=501",
                      "offset=50"):
            response = client.get(f"{path}?{query}", token=token)
            assert response.status_code == 400, (path, query, response.text)
