"""The gateway's HTML pages: Jinja2 templates in ``templates/``, autoescaped, served with
headers that keep them to themselves (no scripts or styles from elsewhere, no framing,
no referrer).

Every page extends ``base.html``: zh-CN, a skip link, the navigation (``NAV``: each entry
shown to the roles that may use it), focus styles, one column on a phone and a wider one
on a desktop. A page for signed-in people is a route method wrapped in ``@signed_in_page``
(below ``@route``)::

    @route("GET", "/cases", tag=CONSOLE, access=PUBLIC, extra=pages.page_doc("..."))
    @pages.signed_in_page
    def cases_page(self, request, visitor):
        return visitor.render("cases.html", cases=...)

which sends a browser that is not signed in to ``/signin?next=...``, checks the CSRF token
of a form post (``csrf_token`` field), and shows any ``ServiceError`` the method lets out
as an error page in Chinese with the error's status (``messages.explain``). A form that
should be shown again with its errors beside the fields catches ``InvalidInput`` itself and
renders with ``errors=messages.explain(error).fields`` and the input it was given (the
``field_error`` macro in ``_form.html``).
"""

import re
from datetime import datetime, timedelta, timezone
from functools import cache, wraps
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from marshmallow import fields
from werkzeug.wrappers import Response

from services.figures import DISTRICT
from services.gateway import messages, sessions
from shared.caller import MANAGE_USERS, READ, WRITE
from shared.errors import ServiceError, Unauthorized
from shared.timeutil import now_utc

TEMPLATES = Path(__file__).parent / "templates"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                               "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
                               "form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}



def district_reader(user) -> bool:
    """May read, as the district federation itself (the root of the tree): the figures
    page (``routes/figures_pages.py``) checks the same."""
    return user.can(READ) and user.organization_code == DISTRICT


# The navigation: (path, label, who sees it: a permission the role must have, a tuple of
# roles, or a test of the user). The first entry whose path starts the page's path is
# marked current.
NAV = [
    ("/", "待办", READ),
    ("/cases", "案件", READ),
    ("/statistics", "统计", READ),
    ("/figures", "数据核对", district_reader),
    ("/officers/new", "登记信息员", WRITE),
    ("/admin/users", "用户管理", MANAGE_USERS),
    ("/disputes/report", "报告隐患", ("officer",)),
    ("/my/reports", "我的报告", ("officer",)),
    ("/my/rewards", "我的奖励", ("officer",)),
]


BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def _moment(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def local_time(value) -> str:
    """An RFC 3339 time as people in the district read it: ``2016年5月10日 09:00``."""
    if not value:
        return ""
    moment = _moment(value).astimezone(BEIJING)
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"


def time_left(value, now: datetime | None = None) -> str:
    """How long until ``value``: ``还剩 2小时5分``, or ``已超时 3分`` once past."""
    if not value:
        return ""
    seconds = int((_moment(value) - (now or now_utc())).total_seconds())
    minutes = abs(seconds) // 60
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    span = (f"{days}天" if days else "") + (f"{hours}小时" if hours else "") + \
        (f"{minutes}分" if minutes or not (days or hours) else "")
    if seconds < 60 and seconds >= 0:
        span = "不到1分钟"
    return f"还剩 {span}" if seconds >= 0 else f"已超时 {span}"


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["date"] = local_time
    env.filters["time_left"] = time_left
    env.filters["value"] = messages.value
    env.filters["label"] = messages.label
    env.filters["field_message"] = messages.field_message
    env.globals["catalogue"] = messages.catalogue
    return env


def render(template: str, status: int = 200, headers: dict | None = None,
           **context) -> Response:
    page = environment().get_template(template).render(**context)
    return Response(page, status=status, mimetype="text/html",
                    headers={**PAGE_HEADERS, **(headers or {})})


def redirect(location: str, headers: list | None = None) -> Response:
    """303 See Other: after a form, the browser GETs ``location``."""
    response = Response("", status=303, headers={"Location": location, **PAGE_HEADERS})
    for name, value in headers or []:
        response.headers.add(name, value)
    return response


def navigation(user, here: str) -> list[dict]:
    """The entries of ``NAV`` the user may use, the one for ``here`` marked current."""
    def allowed(who):
        if callable(who):
            return who(user)
        return user.can(who) if isinstance(who, str) else user.role in who
    shown = [{"path": path, "label": label} for path, label, who in NAV
             if user is not None and allowed(who)]
    matches = [entry for entry in shown if entry["path"] == here or (
        entry["path"] != "/" and here.startswith(entry["path"]))]
    if matches:
        max(matches, key=lambda entry: len(entry["path"]))["current"] = True
    return shown


class Visitor:
    """A signed-in browser on a page: its user, CSRF token and where it is."""

    def __init__(self, user, csrf_token: str, request):
        self.user = user
        self.csrf_token = csrf_token
        self.request = request

    def may(self, action: str) -> bool:
        return self.user.can(action)

    def render(self, template: str, status: int = 200, **context) -> Response:
        return render(template, status=status, user=self.user, csrf_token=self.csrf_token,
                      nav=navigation(self.user, self.request.path), here=self.request.path,
                      may_write=self.user.can(WRITE), **context)

    def error_page(self, error: ServiceError) -> Response:
        explained = messages.explain(error)
        return self.render("error.html", status=explained.status, explained=explained)


def signin_redirect(request) -> Response:
    target = request.full_path.rstrip("?") if request.query_string else request.path
    return redirect(f"/signin?next={quote(target, safe='/')}")


def signed_in_page(method):
    """A page for signed-in people (see the module's docstring)."""
    @wraps(method)
    def page(self, request, *args, **kwargs):
        signed = self.auth.session(request)
        if signed is None:
            if request.method in sessions.SAFE_METHODS:
                return signin_redirect(request)
            return render("error.html", status=401, user=None, nav=[], explained=(
                messages.explain(Unauthorized("not signed in"))))
        visitor = Visitor(*signed, request)
        try:
            sessions.require_csrf(request, visitor.csrf_token)
        except Unauthorized:
            return visitor.render("error.html", status=403, explained=messages.Explained(
                messages.problem_sentence("CSRF"), status=403))
        try:
            return method(self, request, visitor, *args, **kwargs)
        except ServiceError as error:
            return visitor.error_page(error)
    return page


LIST_SEPARATORS = re.compile(r"[\n、，,；;]+")


def form_data(schema, form) -> dict:
    """A form post as ``schema`` (a contract's) takes it: a blank field is left out (the
    schema's defaults, or its "required", then speak), a checkbox is true or false, a list
    is one item a line (or separated by 、，,；;). Nothing else is changed: the service
    checks the values."""
    data = {}
    for name, declared in schema._declared_fields.items():
        if isinstance(declared, fields.Boolean):
            data[name] = form.get(name) in ("on", "true", "1")
        elif isinstance(declared, fields.List):
            items = [item.strip() for item in LIST_SEPARATORS.split(form.get(name, ""))]
            data[name] = [item for item in items if item]
        elif form.get(name, "").strip():
            data[name] = form[name].strip()
    return data


def html_doc(description: str, example: str = "<!DOCTYPE html>...") -> dict:
    """OpenAPI ``extra`` for a route answering a page."""
    return {"responses": {"200": {"description": description, "content": {
        "text/html": {"schema": {"type": "string"}, "example": example}}}}}


PAGE_ERRORS = {
    400: "the form again, each field's error beside it (Chinese)",
    401: "not signed in (a form post): a page saying so",
    403: "the role may not do it, or the form had no valid CSRF token: a page saying so",
    404: "nothing of that id within the signed-in user's subtree: a page saying so",
    409: "not possible in the case's present state: a page saying so",
    429: "too many requests: a page saying so",
    503: "a backend did not answer in time: a page saying so",
    504: "a change was sent but its answer came too late: a page saying it may or may not "
         "have been made, to look before sending it again",
}


def page_doc(description: str, status: int = 200, form: dict | None = None,
             errors=(400, 403, 404, 409, 429, 503)) -> dict:
    """OpenAPI ``extra`` for a signed-in page (``signed_in_page``): its answer, the 303 to
    /signin (or, after a form, to the next page), and each error as a page. ``form``:
    the properties of an ``application/x-www-form-urlencoded`` body."""
    html = {"text/html": {"schema": {"type": "string"}, "example": "<!DOCTYPE html>..."}}
    # A form's change can be sent and its answer lost (shared.deadlines): 504 as well.
    late = (504,) if form is not None else ()
    responses = {str(code): {"description": PAGE_ERRORS[code], "content": html}
                 for code in (*errors, 401, *late)}
    responses["303"] = {"description": "not signed in: to /signin?next=...; after a form: "
                                       "to the page that shows its result"}
    if status != 303:
        responses[str(status)] = {"description": description, "content": html}
    doc = {"responses": responses}
    if form is not None:
        doc["requestBody"] = {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": {
                "type": "object", "required": ["csrf_token"],
                "properties": {"csrf_token": {"type": "string"}, **form}}}}}
    return doc
