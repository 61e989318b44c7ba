"""Password sign-in for the gateway's pages: the session cookie (HttpOnly, SameSite,
expiry), the CSRF token a signed-in page sends with every change, the failed sign-in
limit, signing out, and where signing in may send the browser on."""

import re

import pytest
import requests

from services.gateway import sessions
from shared.db import open_database
from shared.timeutil import now_utc

PASSWORD = "correct horse battery"


@pytest.fixture
def judge(gateway_config, tokens):
    db = open_database(gateway_config["DATABASE_URL"], "gateway", run_migrations=False)
    try:
        with db.unit_of_work() as uow:
            from services.gateway import accounts

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
