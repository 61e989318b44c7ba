"""The gateway's HTML pages: Jinja2 templates in ``templates/``, autoescaped, served with
headers that keep them to themselves (no scripts or styles from elsewhere, no framing,
no referrer)."""

from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.wrappers import Response

TEMPLATES = Path(__file__).parent / "templates"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                               "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
                               "form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def local_time(value) -> str:
    """An RFC 3339 time as people in the district read it: ``2016年5月10日 09:00``."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment.astimezone(BEIJING)
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["date"] = local_time
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


def html_doc(description: str, example: str = "<!DOCTYPE html>...") -> dict:
    """OpenAPI ``extra`` for a route answering a page."""
    return {"responses": {"200": {"description": description, "content": {
        "text/html": {"schema": {"type": "string"}, "example": example}}}}}
