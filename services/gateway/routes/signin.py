"""Signing in with a name and a password, for the gateway's pages (``sessions``): the
judges' tablet page today, the staff console (issue 11) next.

    GET  /signin?next=/competitions/judge/3    the form (zh-CN)
    POST /signin                               name, password, csrf_token, next: 303
    POST /signout                              csrf_token: the session ends
    GET  /api/v1/session                       who is signed in, and the CSRF token
    GET  /password#<link>                      set a password through a one-time link
    POST /password                             link, password, password_confirm, csrf_token

Needs ``self.db``, ``self.auth`` and ``self.config``. Cookies are ``Secure`` when the
request came over HTTPS, to the gateway or to a proxy in ``GATEWAY_TRUSTED_PROXIES``
that says so in ``X-Forwarded-Proto``.
"""

import secrets

from eventlet import tpool
from marshmallow import Schema, fields

from services.gateway import pages, sessions
from services.gateway.api import PUBLIC, route
from services.gateway.auth import secure, trusted_proxies
from services.gateway.routes.registry import V1
from services.gateway.schemas import UserSchema
from shared.errors import InvalidInput, NotFound, TooManyRequests, Unauthorized
from shared.timeutil import now_utc
from shared.web import json_response

SIGN_IN = "sign-in"
FORM = "application/x-www-form-urlencoded"
FORM_DOC = {"requestBody": {"required": True, "content": {FORM: {
    "schema": {"type": "object", "required": ["name", "password", "csrf_token"],
               "properties": {"name": {"type": "string"}, "password": {"type": "string"},
                              "csrf_token": {"type": "string"},
                              "next": {"type": "string"}}},
    "example": {"name": "judge.chen", "password": "••••••••••", "csrf_token": "…",
                "next": "/competitions/judge/3"}}}},
    "responses": {"303": {"description": "signed in: on to `next`, the session cookie set"},
                  # The form again, saying what went wrong: a page, not a problem.
                  **{str(status): {"description": description, "content": {"text/html": {
                      "schema": {"type": "string"}, "example": "<!doctype html>..."}}}
                     for status, description in (
                         (400, "the form had expired (no or another CSRF token): the form "
                               "again"),
                         (401, "wrong name or password: the form again, saying so"),
                         (429, "too many failures: the form again, with Retry-After"))}}}


# A form body is capped and needs a Content-Length, as every route's (api.ApiEntrypoint).
FORM_ERRORS = (411, 413)


class SessionSchema(Schema):
    user = fields.Nested(UserSchema, required=True, allow_none=True)
    csrf_token = fields.String(required=True, allow_none=True, metadata={
        "description": f"send it as {sessions.CSRF_HEADER} with every change",
        "example": "q8Jm2vT0aX6cZ1rN4pL7sW9e"})


class SignInRoutes:
    api_tags = [{"name": SIGN_IN, "description": "Name and password sign-in for the "
                                                 "gateway's pages: a session cookie with a "
                                                 "CSRF token."}]

    def _secure(self, request) -> bool:
        return secure(request, trusted_proxies(self.config))

    def _form(self, request, status=200, error=None, name=""):
        value = secrets.token_urlsafe(24)
        signed = self.auth.session(request)
        return pages.render(
            "signin.html", status=status, error=error, name=name, csrf_token=value,
            next=sessions.safe_next(request.values.get("next")),
            signed_in=signed[0].name if signed else None,
            headers={"Set-Cookie": sessions.signin_cookie(value, self._secure(request))})

    @route("GET", "/signin", tag=SIGN_IN, access=PUBLIC, backend=False,
           summary="The sign-in form (zh-CN)",
           extra=pages.html_doc("the sign-in form"))
    def signin_form(self, request):
        return self._form(request)

    @route("POST", "/signin", tag=SIGN_IN, access=PUBLIC, backend=False, status=303,
           errors=FORM_ERRORS,
           summary="Sign in with name and password: a session cookie (HttpOnly, "
                   "SameSite=Strict, 8 hours)",
           description="A form post from the page at /signin, not a JSON call: a wrong name "
                       "or password answers the form again (status 401) saying so; after "
                       "5 failures for a name (20 for an address: behind a proxy in "
                       "GATEWAY_TRUSTED_PROXIES, the client's address from its "
                       "X-Forwarded-For) in 15 minutes the form answers 429 with "
                       "Retry-After, whatever the password.",
           extra=FORM_DOC)
    def signin(self, request):
        form = request.form
        name = form.get("name", "").strip()[:100]
        if not sessions.form_expected(request, form.get("csrf_token", "")):
            return self._form(request, 400, "表单已过期，请重新登录。", name)
        now = now_utc()
        source = self.auth.client_address(request)
        try:
            with self.db.unit_of_work() as uow:  # checked and counted in one go
                hits = sessions.begin_attempt(uow.session, name, source, now)
                user, hashed = sessions.password_hash_of(uow.session, name)
            good = tpool.execute(sessions.verify, hashed, form.get("password", ""))
            if not good or user is None:
                raise Unauthorized("wrong name or password")  # counted already
            with self.db.unit_of_work() as uow:
                sessions.attempt_succeeded(uow.session, hits)
                signed_in = sessions.open_session(uow.session, user, now)
        except TooManyRequests as refused:
            response = self._form(request, 429, "登录失败次数过多，请稍后再试。", name)
            response.headers["Retry-After"] = str(refused.details["retry_after"])
            return response
        except Unauthorized:
            return self._form(request, 401, "用户名或密码不正确。", name)
        return pages.redirect(sessions.safe_next(form.get("next")), headers=[
            ("Set-Cookie", sessions.session_cookie(signed_in, self._secure(request))),
            ("Set-Cookie", sessions.signin_cookie(None, self._secure(request)))])

    def _password_form(self, request, status=200, error=None, errors=None, link="",
                       done=None):
        value = secrets.token_urlsafe(24)
        return pages.render(
            "password.html", status=status, error=error, errors=errors or {}, link=link,
            csrf_token=value, done=done, headers={"Set-Cookie": sessions.signin_cookie(
                value, self._secure(request), sessions.LINK_PATH)})

    @route("GET", sessions.LINK_PATH, tag=SIGN_IN, access=PUBLIC, backend=False,
           summary="Set a password through a one-time link (the link's secret after `#`, "
                   "read by the page: never sent in a URL)",
           extra=pages.html_doc("the form (zh-CN)"))
    def password_form(self, request):
        return self._password_form(request)

    @route("POST", sessions.LINK_PATH, tag=SIGN_IN, access=PUBLIC, backend=False,
           errors=FORM_ERRORS,
           summary="Set the password of a one-time link's user; the link is spent",
           description="A form post from /password. A link unknown, used, expired or of a "
                       "disabled user answers the form again (404); a password of the "
                       "wrong length or not typed the same twice, 400 with the error "
                       "beside the field.",
           extra={"requestBody": {"required": True, "content": {FORM: {
               "schema": {"type": "object",
                          "required": ["link", "password", "password_confirm",
                                       "csrf_token"],
                          "properties": {name: {"type": "string"} for name in (
                              "link", "password", "password_confirm", "csrf_token")}},
               "example": {"link": "q8Jm2vT0aX6cZ1rN4pL7sW9eq8Jm2vT0aX6cZ1",
                           "password": "••••••••••", "password_confirm": "••••••••••",
                           "csrf_token": "…"}}}},
               "responses": {str(status): {"description": description, "content": {
                   "text/html": {"schema": {"type": "string"},
                                 "example": "<!doctype html>..."}}}
                   for status, description in (
                       (200, "the password is set: a page saying so, on to /signin"),
                       (400, "the form had expired, or a field is wrong: the form again"),
                       (404, "the link is unknown, used or expired: the form, saying so"))}})
    def set_password_by_link(self, request):
        form = request.form
        link = form.get("link", "").strip()[:100]
        if not sessions.form_expected(request, form.get("csrf_token", "")):
            return self._password_form(request, 400, "表单已过期，请重新提交。", link=link)
        password = form.get("password", "")
        if password != form.get("password_confirm", ""):
            return self._password_form(request, 400, errors={
                "password_confirm": ["两次输入的密码不一致。"]}, link=link)
        try:
            with self.db.unit_of_work() as uow:
                user = sessions.use_password_link(uow.session, link, password, now_utc())
        except NotFound:
            return self._password_form(request, 404, "此链接无效、已使用或已过期，请联系管理员"
                                                     "重新生成。")
        except InvalidInput:
            low, high = sessions.PASSWORD_LENGTH
            return self._password_form(request, 400, errors={
                "password": [f"密码长度为{low}至{high}个字符。"]}, link=link)
        response = self._password_form(request, done=user.name)
        response.headers["Set-Cookie"] = sessions.signin_cookie(
            None, self._secure(request), sessions.LINK_PATH)
        return response

    @route("GET", "/signin/done", tag=SIGN_IN, access=PUBLIC, backend=False,
           summary="Where signing in lands without a `next`",
           extra=pages.html_doc("the form, saying who is signed in"))
    def signed_in(self, request):
        return self._form(request)

    @route("POST", "/signout", tag=SIGN_IN, access=PUBLIC, backend=False, status=303,
           errors=FORM_ERRORS,
           summary="End the browser's session (its CSRF token in the form or header)",
           extra={"responses": {"303": {"description": "signed out: on to /signin"}}})
    def signout(self, request):
        cookie = request.cookies.get(sessions.SESSION_COOKIE)
        if cookie:
            self.auth.user(request)  # a live session, and its CSRF token sent along
            with self.db.unit_of_work() as uow:
                sessions.close_session(uow.session, cookie, now_utc())
        return pages.redirect("/signin", headers=[
            ("Set-Cookie", sessions.session_cookie(None, self._secure(request)))])

    @route("GET", f"{V1}/session", tag=SIGN_IN, access=PUBLIC, backend=False,
           summary="The signed-in browser's user and its CSRF token (both null when the "
                   "browser is not signed in)", response=SessionSchema)
    def current_session(self, request):
        signed = self.auth.session(request)
        if signed is None:
            return json_response(SessionSchema().dump({"user": None, "csrf_token": None}))
        user, csrf_token = signed
        return json_response(SessionSchema().dump({"user": user.profile(),
                                                   "csrf_token": csrf_token}))
