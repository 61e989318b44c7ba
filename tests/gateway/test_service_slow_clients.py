"""Slow and greedy clients cost a connection each, never a worker; the probes notice a
gateway that cannot serve (issue 12, item 1)."""

import socket
import time

import eventlet
import requests
from eventlet.event import Event
from nameko.testing.services import replace_dependencies

from services.gateway.service import GatewayService
from shared import web
from tests.conftest import gateway_tokens
from tests.gateway.conftest import PEOPLE, Client
from tests.gateway.fakes import NANKENG, FakeRegistry
from tests.membership.fakes import FakeMembership

READ_TIMEOUT = 1.0
REPORTS = "/api/v1/disputes/reports"


def start_gateway(container_factory, make_service_config, sqlite_url, registry=None,
                  **config):
    config = make_service_config(sqlite_url, HTTP_READ_TIMEOUT=READ_TIMEOUT, **config)
    container = container_factory(GatewayService, config)
    replace_dependencies(container, registry_rpc=registry or FakeRegistry(),
                         membership_rpc=FakeMembership())
    container.start()
    return config


def address_of(config):
    host, port = config["WEB_SERVER_ADDRESS"].rsplit(":", 1)
    return host, int(port)


def slow_body(address, forwarded_for=None):
    """A connection that declares a 1,000-byte body and sends 5 bytes of it."""
    sock = socket.create_connection(address)
    forwarded = f"X-Forwarded-For: {forwarded_for}\r\n" if forwarded_for else ""
    sock.sendall(f"POST {REPORTS} HTTP/1.1\r\nHost: gateway\r\n{forwarded}"
                 "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":"
                 .encode())
    return sock


def answer(sock, within):
    """Everything the server sent until it closed the connection (None if it did not
    close it within ``within`` seconds)."""
    sock.settimeout(within)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        return None
    finally:
        sock.close()
    return received


def test_slow_bodies_hold_no_worker_and_are_cut_at_the_deadline(
        container_factory, make_service_config, sqlite_url):
    config = start_gateway(container_factory, make_service_config, sqlite_url)
    token = gateway_tokens(config['DATABASE_URL'], PEOPLE)["nankeng_staff"]
    started = time.monotonic()
    slow = [slow_body(address_of(config)) for _ in range(2 * config["max_workers"])]
    eventlet.sleep(0.2)  # every one accepted and waiting for the rest of its body

    response = requests.get(f"http://{config['WEB_SERVER_ADDRESS']}/api/v1/organizations/"
                            f"{NANKENG}", headers={"Authorization": f"Bearer {token}"},
                            timeout=READ_TIMEOUT / 2)
    assert response.status_code == 200  # served while 20 bodies trickle in
    assert time.monotonic() - started < READ_TIMEOUT

    answers = [eventlet.spawn(answer, sock, READ_TIMEOUT + 2) for sock in slow]
    for thread in answers:
        received = thread.wait()
        assert received is not None, "a slow body was not cut"
        assert received.startswith(b"HTTP/1.1 408"), received[:100]
        assert b'"code": "REQUEST_TIMEOUT"' in received
    assert READ_TIMEOUT <= time.monotonic() - started < READ_TIMEOUT + 2


def test_a_slow_head_is_cut_with_a_408_and_an_idle_connection_closed(
        container_factory, make_service_config, sqlite_url):
    config = start_gateway(container_factory, make_service_config, sqlite_url)
    address = address_of(config)
    head = socket.create_connection(address)
    head.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n")  # and never the blank line
    idle = socket.create_connection(address)
    started = time.monotonic()
    assert answer(head, READ_TIMEOUT + 2).startswith(b"HTTP/1.1 408")
    assert answer(idle, READ_TIMEOUT + 2) == b""
    assert time.monotonic() - started < READ_TIMEOUT + 2


def test_a_whole_request_on_a_kept_alive_connection_is_answered(
        container_factory, make_service_config, sqlite_url):
    config = start_gateway(container_factory, make_service_config, sqlite_url)
    client = Client(config["WEB_SERVER_ADDRESS"])
    for _ in range(2):  # one connection: the deadline starts again for each request
        response = client.post(REPORTS, json={"not": "a report"})
        assert response.status_code == 400, response.text
        eventlet.sleep(READ_TIMEOUT / 2)


def test_one_address_cannot_open_more_than_its_connections(
        container_factory, make_service_config, sqlite_url):
    config = start_gateway(container_factory, make_service_config, sqlite_url,
                           HTTP_CONNECTIONS_PER_CLIENT=3)
    held = [slow_body(address_of(config)) for _ in range(3)]
    eventlet.sleep(0.1)
    refused = socket.create_connection(address_of(config))
    received = answer(refused, 2)
    assert received.startswith(b"HTTP/1.1 429"), received
    for sock in held:
        answer(sock, READ_TIMEOUT + 2)  # cut at the deadline: the slots come back
    assert Client(config["WEB_SERVER_ADDRESS"]).get("/healthz").status_code == 200


def test_behind_a_trusted_proxy_the_limit_counts_each_forwarded_client(
        container_factory, make_service_config, sqlite_url):
    config = start_gateway(container_factory, make_service_config, sqlite_url,
                           HTTP_CONNECTIONS_PER_CLIENT=3, GATEWAY_TRUSTED_PROXIES="127.0.0.1")
    held = [slow_body(address_of(config), "203.0.113.7") for _ in range(3)]
    eventlet.sleep(0.1)
    client = Client(config["WEB_SERVER_ADDRESS"])
    greedy = client.post(REPORTS, json={}, headers={"X-Forwarded-For": "203.0.113.7"})
    assert greedy.status_code == 429, greedy.text
    # A forwarded-for written by the client itself, before the proxy's, is not believed.
    spoofed = client.post(REPORTS, json={}, headers={
        "X-Forwarded-For": "198.51.100.9, 203.0.113.7"})
    assert spoofed.status_code == 429, spoofed.text
    other = client.post(REPORTS, json={}, headers={"X-Forwarded-For": "198.51.100.2"})
    assert other.status_code == 400, other.text  # served (and refused as no report)
    for sock in held:
        answer(sock, READ_TIMEOUT + 2)


class BlockingRegistry(FakeRegistry):
    """Holds every get_organization until released: workers busy in a handler."""

    def __init__(self):
        super().__init__()
        self.release = Event()
        self.waiting = 0

    def get_organization(self, code):
        self.waiting += 1
        self.release.wait()
        return super().get_organization(code)


def test_the_probes_fail_while_every_worker_is_stuck_and_pass_otherwise(
        container_factory, make_service_config, sqlite_url, monkeypatch):
    monkeypatch.setattr(web, "PROBE_WORKER_SECONDS", 0.3)
    registry = BlockingRegistry()
    config = start_gateway(container_factory, make_service_config, sqlite_url, registry,
                           max_workers=2, GATEWAY_STALL_SECONDS=0.5)
    token = gateway_tokens(config['DATABASE_URL'], PEOPLE)["nankeng_staff"]
    client = Client(config["WEB_SERVER_ADDRESS"])
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["workers"] is True

    stuck = [eventlet.spawn(client.get, f"/api/v1/organizations/{NANKENG}", token)
             for _ in range(2)]
    while registry.waiting < 2:
        eventlet.sleep(0.01)
    ready = client.get("/readyz")
    assert ready.status_code == 503, ready.text
    assert ready.json()["checks"]["workers"] is False
    eventlet.sleep(0.6)  # past GATEWAY_STALL_SECONDS with none finished: wedged
    alive = client.get("/healthz")
    assert alive.status_code == 503 and "wedged" in alive.json()["detail"]

    registry.release.send()
    assert [thread.wait().status_code for thread in stuck] == [200, 200]
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
