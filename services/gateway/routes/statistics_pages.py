"""The statistics page of the console: the signed-in user's subtree (or an organization
inside it) in figures and charts drawn on the server (``templates/_chart.html``, SVG: no
script, nothing from another host).

    GET /statistics?code=longgang.bantian&year=2015

- establishment rate (建会率) of the organization and of each organization directly below
  it, from the registry's counters;
- join rate (入会率) of the same, from membership's;
- disputes (劳资纠纷) by year, by tier and by category, from disputes, which scopes them to
  the caller itself.

Needs ``self.registry_rpc``, ``self.membership_rpc``, ``self.disputes_rpc``.
"""

from marshmallow import Schema, fields, validate

from services.gateway import messages, pages
from services.gateway.api import PUBLIC, route
from services.gateway.auth import READ, require_permission, require_scope
from services.gateway.routes.registry import known_code
from shared.errors import InvalidInput
from shared.web import read_query

CONSOLE = "console"
MAX_CHILDREN = 100  # a street has a few dozen communities; the chart shows them all


class StatisticsPageQuery(Schema):
    code = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100))


def percent(rate) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def rate_rows(items, rate_of) -> list[dict]:
    return [{"label": item["name"], "value": rate_of(item) or 0,
             "text": percent(rate_of(item))} for item in items]


def count_rows(counts: dict, kind: str) -> list[dict]:
    """Bars of ``{key: count}``, largest first, each key as the catalogue names it."""
    return [{"label": messages.value(key, kind), "value": count, "text": f"{count} 件"}
            for key, count in sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))]


def year_rows(years: list[dict]) -> list[dict]:
    return [{"label": f"{row['year']}年", "value": row["disputes"],
             "text": f"{row['disputes']} 件"} for row in years]


class StatisticsPages:
    def subtree_figures(self, user, code: str, year: int | None) -> dict:
        """Everything the page shows for ``code`` (inside ``user``'s subtree: 403)."""
        organization = self.registry_rpc.get_organization(known_code(code, "organization"))
        require_scope(user, organization["path"], f"organization {organization['code']}")
        children = self.registry_rpc.list_children(code, limit=MAX_CHILDREN)["items"]
        names = {child["code"]: child["name"] for child in children}
        established = [{**self.registry_rpc.statistics(child["code"]), "name": child["name"]}
                       for child in children]
        joined = [{**rate, "name": names.get(rate["code"], rate["code"])} for rate in
                  self.membership_rpc.join_rates_below(code, {"limit": MAX_CHILDREN})["items"]]
        disputes = self.disputes_rpc.statistics(user.caller(), code=code, year=year)
        return {
            "organization": organization,
            "registry": self.registry_rpc.statistics(code),
            "membership": self.membership_rpc.join_rate(code),
            "disputes": disputes,
            "by_year": year_rows(disputes["by_year"]),
            "by_tier": count_rows(disputes["by_tier"], "tier"),
            "by_category": count_rows(disputes["by_category"], "category"),
            "established": rate_rows(established, lambda item: item["establishment_rate"]),
            "joined": rate_rows(joined, lambda item: item["join_rate"]),
            "children": children,
        }

    @route("GET", "/statistics", tag=CONSOLE, access=PUBLIC, backend=True,
           summary="Statistics of the signed-in user's subtree: establishment and join "
                   "rates, disputes by year, tier and category, with charts (zh-CN)",
           extra=pages.page_doc("the statistics page", errors=(400, 403, 404, 503)))
    @pages.signed_in_page
    def statistics_page(self, request, visitor):
        require_permission(visitor.user, READ)
        try:
            query, errors = read_query(request, StatisticsPageQuery()), {}
        except InvalidInput as error:  # said beside the field; the subtree shown meanwhile
            query, errors = {"code": None, "year": None}, messages.explain(error).fields
        code = query["code"] or visitor.user.organization_code
        figures = self.subtree_figures(visitor.user, code, query["year"])
        return visitor.render("statistics.html", status=400 if errors else 200,
                              year=query["year"], percent=percent, errors=errors,
                              given=request.args, **figures)
