"""Password sign-in for the gateway's pages: the session cookie (HttpOnly, SameSite,
expiry, Secure over HTTPS or behind a trusted proxy), the CSRF token a signed-in page
sends with every change, the failed sign-in limit (guesses sent at once included),
signing out, and where signing in may send the browser on."""

import re
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import eventlet
import pytest
import requests
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway import accounts, sessions
from services.gateway.auth import client_address, secure, trusted_proxies
from services.gateway.models import rate_hits
from services.gateway.service import MIGRATIONS, GatewayService
from shared.db import open_database
from shared.errors import TooManyRequests
from shared.timeutil import now_utc
from tests.gateway.conftest import Client

PASSWORD = "correct horse battery"


@pytest.fixture
def judge(gateway_config, tokens):
    db = open_database(gateway_config["DATABASE_URL"], "gateway", run_migrations=False)
    try:
        with db.unit_of_work() as uow:
            accounts.create_user(uow.session, "judge.chen", "judge", "longgang.construction")
            sessions.set_password(uow.session, "judge.chen", PASSWORD, now_utc())
    finally:
        db.engine.dispose()
    return "judge.chen"


def browser(client):
    return requests.Session(), client.base


def sign_in(session, base, name, password, next_="/competitions/judge/3"):
    form = session.get(f"{base}/signin")
    assert form.status_code == 200 and "登录" in form.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]
    return session.post(f"{base}/signin", data={"name": name, "password": password,
                                                "csrf_token": csrf, "next": next_},
                        allow_redirects=False)


def test_signing_in_sets_an_httponly_samesite_session_that_expires(client, judge):
    session, base = browser(client)
    answer = sign_in(session, base, judge, PASSWORD)
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/competitions/judge/3"
    cookies = answer.raw.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith(sessions.SESSION_COOKIE + "="))
    assert "HttpOnly" in session_cookie and "SameSite=Strict" in session_cookie
    assert f"Max-Age={sessions.SESSION_HOURS * 3600}" in session_cookie
    me = session.get(f"{base}/api/v1/session")
    assert me.status_code == 200
    assert me.json()["user"] == {"name": judge, "role": "judge",
                                 "org_code": "longgang.construction"}


def test_a_wrong_password_says_so_and_too_many_lock_the_name(client, judge):
    session, base = browser(client)
    for _ in range(sessions.FAILED_LIMITS["user"][0]):
        answer = sign_in(session, base, judge, "not the password")
        assert answer.status_code == 401 and "用户名或密码不正确" in answer.text
    locked = sign_in(session, base, judge, PASSWORD)  # even the right one, for a while
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    unknown = sign_in(session, base, "nobody", "whatever-password")
    assert unknown.status_code == 401


def test_the_form_needs_its_own_token_and_next_stays_on_this_site(client, judge):
    session, base = browser(client)
    forged = session.post(f"{base}/signin", data={"name": judge, "password": PASSWORD,
                                                  "csrf_token": "made-up"},
                          allow_redirects=False)
    assert forged.status_code == 400
    answer = sign_in(session, base, judge, PASSWORD, next_="//evil.example/x")
    assert answer.status_code == 303 and answer.headers["Location"] == "/signin/done"


def test_a_change_from_a_signed_in_page_needs_the_csrf_token(client, judge):
    session, base = browser(client)
    sign_in(session, base, judge, PASSWORD)
    csrf = session.get(f"{base}/api/v1/session").json()["csrf_token"]
    url = f"{base}/api/v1/competitions/rounds/1/scores"
    body = {"contestant_id": 1, "score_id": "abcdefgh-1", "values": {}}
    without = session.post(url, json=body)
    assert without.status_code == 401 and "X-CSRF-Token" in without.text
    with_token = session.post(url, json=body, headers={"X-CSRF-Token": csrf})
    assert with_token.status_code != 401  # through to the (absent) backend: 503


def test_signing_out_ends_the_session(client, judge):
    session, base = browser(client)
    sign_in(session, base, judge, PASSWORD)
    csrf = session.get(f"{base}/api/v1/session").json()["csrf_token"]
    out = session.post(f"{base}/signout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.status_code == 303
    assert session.get(f"{base}/api/v1/session").json() == {"user": None, "csrf_token": None}


def test_a_short_password_is_refused(gateway_config, judge):
    db = open_database(gateway_config["DATABASE_URL"], "gateway", run_migrations=False)
    try:
        with db.unit_of_work() as uow, pytest.raises(Exception, match="10 to 200"):
            sessions.set_password(uow.session, judge, "short", now_utc())
    finally:
        db.engine.dispose()


def session_cookie_of(answer) -> str:
    return next(c for c in answer.raw.headers.getlist("Set-Cookie")
                if c.startswith(sessions.SESSION_COOKIE + "="))


def request_from(address, scheme="http", **headers) -> Request:
    return Request(EnvironBuilder(base_url=f"{scheme}://gateway.example/", headers=headers,
                                  environ_base={"REMOTE_ADDR": address}).get_environ())


def test_x_forwarded_proto_counts_only_from_a_trusted_proxy():
    proxies = trusted_proxies({"GATEWAY_TRUSTED_PROXIES": " 10.0.0.5, 10.0.0.6 "})
    assert proxies == {"10.0.0.5", "10.0.0.6"}
    assert trusted_proxies({}) == frozenset()
    assert trusted_proxies({"GATEWAY_TRUSTED_PROXIES": ["10.0.0.7"]}) == {"10.0.0.7"}
    assert secure(request_from("10.9.9.9", "https"), frozenset())
    assert secure(request_from("10.0.0.5", X_Forwarded_Proto="https"), proxies)
    assert secure(request_from("10.0.0.5", X_Forwarded_Proto="HTTPS, http"), proxies)
    assert not secure(request_from("10.0.0.5", X_Forwarded_Proto="http"), proxies)
    assert not secure(request_from("10.0.0.5"), proxies)
    assert not secure(request_from("10.9.9.9", X_Forwarded_Proto="https"), proxies)


def test_the_client_address_is_the_peer_unless_the_peer_is_a_trusted_proxy():
    proxies = frozenset({"10.0.0.5", "10.0.0.6"})
    # a client that is no proxy of ours cannot pick its address with the header
    assert client_address(request_from("203.0.113.9", X_Forwarded_For="1.2.3.4"),
                          proxies) == "203.0.113.9"
    # behind our proxies: the nearest hop that is not one of them, read from the right,
    # so what the client put at the left of the header does not count
    behind = request_from("10.0.0.5", X_Forwarded_For="1.2.3.4, 198.51.100.7, 10.0.0.6")
    assert client_address(behind, proxies) == "198.51.100.7"
    assert client_address(request_from("10.0.0.5"), proxies) == "10.0.0.5"
    assert client_address(request_from("10.0.0.5", X_Forwarded_For="10.0.0.6"),
                          proxies) == "10.0.0.6"


def test_behind_a_trusted_proxy_the_sign_in_limit_counts_per_client_address(
        judge, container_factory, make_service_config, gateway_config):
    config = make_service_config(gateway_config["DATABASE_URL"],
                                 GATEWAY_TRUSTED_PROXIES="127.0.0.1")
    container_factory(GatewayService, config).start()
    base = Client(config["WEB_SERVER_ADDRESS"]).base
    limit = sessions.FAILED_LIMITS["source"][0]

    def attempt(address, name):
        session = requests.Session()
        form = session.get(f"{base}/signin")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]
        return session.post(f"{base}/signin", data={
            "name": name, "password": "not the password", "csrf_token": csrf},
            headers={"X-Forwarded-For": address}, allow_redirects=False).status_code

    # one client behind the proxy guessing many names: its own address is locked out ...
    answers = [attempt("198.51.100.7", f"guess.{number}") for number in range(limit + 1)]
    assert answers == [401] * limit + [429]
    # ... and another client behind the same proxy is not
    assert attempt("198.51.100.8", "someone.else") == 401


def test_behind_a_trusted_proxy_saying_https_the_session_cookie_is_secure(
        client, judge, container_factory, make_service_config, gateway_config):
    # the gateway as deployed behind a TLS proxy: requests come from 127.0.0.1
    config = make_service_config(gateway_config["DATABASE_URL"],
                                 GATEWAY_TRUSTED_PROXIES="127.0.0.1")
    container_factory(GatewayService, config).start()
    behind = Client(config["WEB_SERVER_ADDRESS"])
    https = {"X-Forwarded-Proto": "https"}

    def signed_in(base, headers):
        session = requests.Session()
        form = session.get(f"{base}/signin")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]
        return session.post(f"{base}/signin", data={"name": judge, "password": PASSWORD,
                                                    "csrf_token": csrf},
                            headers=headers, allow_redirects=False)

    assert "Secure" in session_cookie_of(signed_in(behind.base, https))
    assert "Secure" not in session_cookie_of(signed_in(behind.base, {}))
    # the default gateway trusts nobody's header
    assert "Secure" not in session_cookie_of(signed_in(client.base, https))


def test_wrong_guesses_sent_at_once_cannot_get_past_the_limit(client, judge):
    limit = sessions.FAILED_LIMITS["user"][0]
    attempts = limit * 3
    ready = [requests.Session() for _ in range(attempts)]
    forms = [re.search(r'name="csrf_token" value="([^"]+)"',
                       browser_.get(f"{client.base}/signin").text)[1] for browser_ in ready]
    start = Barrier(attempts)

    def guess(number):
        start.wait()
        return ready[number].post(f"{client.base}/signin", data={
            "name": judge, "password": f"guess number {number}",
            "csrf_token": forms[number]}, allow_redirects=False).status_code

    with ThreadPoolExecutor(attempts) as pool:
        answers = list(pool.map(guess, range(attempts)))
    assert answers.count(401) == limit and answers.count(429) == attempts - limit
    assert sign_in(requests.Session(), client.base, judge, PASSWORD).status_code == 429


def test_a_right_password_is_no_failure_and_the_check_and_count_are_one_transaction(
        db_url, database_factory):
    db = database_factory(db_url, "gateway", MIGRATIONS)
    limit = sessions.FAILED_LIMITS["user"][0]
    now = now_utc()

    def attempt(right=False, hold=0.0):
        with db.unit_of_work() as uow:
            hits = sessions.begin_attempt(uow.session, "judge.li", "10.1.1.1", now)
            eventlet.sleep(hold)  # the password being checked
        if right:
            with db.unit_of_work() as uow:
                sessions.attempt_succeeded(uow.session, hits)

    for _ in range(limit - 1):
        attempt()
    attempt(right=True)  # taken back: still one try left
    attempt()
    with pytest.raises(TooManyRequests):
        attempt()
    with db.session() as session:
        counted = session.execute(select(func.count()).select_from(rate_hits)).scalar()
    assert counted == 2 * limit  # the name's and the address's, the refused one not

    if db.engine.dialect.name == "sqlite":
        return  # one writer: the HTTP test above sends guesses at once
    pool = eventlet.GreenPool()
    outcomes = []

    def racing(number):
        try:
            with db.unit_of_work() as uow:
                sessions.begin_attempt(uow.session, "judge.wang", f"10.2.2.{number}", now)
                eventlet.sleep(0.05)
            outcomes.append("counted")
        except TooManyRequests:
            outcomes.append("refused")

    for number in range(3 * limit):
        pool.spawn(racing, number)
    pool.waitall()
    assert outcomes.count("counted") == limit


def set_password_by_link(session, base, url, password, confirm=None):
    page = session.get(f"{base}/password")
    assert page.status_code == 200 and "设置密码" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    return session.post(f"{base}/password", data={
        "link": url.partition("#")[2], "password": password,
        "password_confirm": password if confirm is None else confirm, "csrf_token": csrf})


def test_a_one_time_link_sets_a_password_once(client, tokens, gateway_config):
    session, base = browser(client)
    made = client.post("/api/v1/users/nankeng_staff/password-link",
                       token=tokens["nankeng_admin"]).json()
    url = made["url"]
    mismatch = set_password_by_link(session, base, url, PASSWORD, "another one entirely")
    assert mismatch.status_code == 400 and "两次输入的密码不一致" in mismatch.text
    short = set_password_by_link(session, base, url, "short")
    assert short.status_code == 400 and "密码长度为10至200个字符" in short.text
    done = set_password_by_link(session, base, url, PASSWORD)
    assert done.status_code == 200 and 'id="password-set"' in done.text
    assert sign_in(session, base, "nankeng_staff", PASSWORD).status_code == 303
    again = set_password_by_link(requests.Session(), base, url, "a third password here")
    assert again.status_code == 404 and "已使用或已过期" in again.text
    forged = session.post(f"{base}/password", data={
        "link": url.partition("#")[2], "password": PASSWORD, "password_confirm": PASSWORD,
        "csrf_token": "not the cookie's"})
    assert forged.status_code == 400
    db = open_database(gateway_config["DATABASE_URL"], "gateway", run_migrations=False)
    try:
        with db.unit_of_work() as uow:  # a newer link ends the older; an old one expires
            user = accounts.find_user(uow.session, "nankeng_viewer")
            older, _ = sessions.issue_password_link(uow.session, user, "t", now_utc())
            newer, _ = sessions.issue_password_link(uow.session, user, "t", now_utc())
            stale, _ = sessions.issue_password_link(uow.session, accounts.find_user(
                uow.session, "zhangbei_staff"), "t", now_utc(), hours=-1)
    finally:
        db.engine.dispose()
    for secret in (older, stale):
        assert set_password_by_link(session, base, f"#{secret}", PASSWORD).status_code == 404
    assert set_password_by_link(session, base, f"#{newer}", PASSWORD).status_code == 200


def test_a_password_set_by_link_ends_the_users_open_sessions(client, tokens, gateway_config):
    db = open_database(gateway_config["DATABASE_URL"], "gateway", run_migrations=False)
    try:
        with db.unit_of_work() as uow:
            sessions.set_password(uow.session, "nankeng_staff", PASSWORD, now_utc())
    finally:
        db.engine.dispose()
    stolen, base = browser(client)  # whoever signed in with the old password
    assert sign_in(stolen, base, "nankeng_staff", PASSWORD).status_code == 303
    assert stolen.get(f"{base}/api/v1/session").json()["user"]["name"] == "nankeng_staff"
    url = client.post("/api/v1/users/nankeng_staff/password-link",
                      token=tokens["nankeng_admin"]).json()["url"]
    owner, _ = browser(client)
    assert set_password_by_link(owner, base, url, "a brand new password").status_code == 200
    assert stolen.get(f"{base}/api/v1/session").json()["user"] is None
    assert sign_in(owner, base, "nankeng_staff", "a brand new password").status_code == 303
