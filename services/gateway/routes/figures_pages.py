"""The figures page of the console: the seeds' figures (``services.figures``, what
``gonghui figures`` prints) beside what the running services count, for the district
federation's own staff.

    GET /figures

One row per figure: where, what, the seed's value, the system's value, and whether they
agree; a row whose service did not answer says 暂不可得 rather than failing the page.
Asked as the signed-in user (disputes, competitions and incubation check their scope
again), every call at once, so the request's one deadline (``GATEWAY_RPC_TIMEOUT``)
bounds the slowest call rather than the sum of a dozen.

Needs ``self.registry_rpc``, ``self.membership_rpc``, ``self.disputes_rpc``,
``self.competitions_rpc``, ``self.incubation_rpc``.
"""

from types import SimpleNamespace

from services import figures
from services.gateway import pages
from services.gateway.api import PUBLIC, route
from services.gateway.auth import READ, require_permission, require_scope
from services.gateway.dependencies import at_once

CONSOLE = "console"


def all_at_once(calls: dict) -> dict:
    """name -> (answer, error) of every call, each in its own green thread."""
    return dict(zip(calls, at_once(figures.attempt, calls.values(), len(calls)),
                    strict=True))


def summary(rows: list[dict]) -> dict:
    """How many rows were checked (not skipped): agree, disagree, could not be had."""
    checked = [row for row in rows if row["agrees"] is not None]
    agree = sum(row["agrees"] for row in checked)
    unavailable = sum(not row["available"] for row in checked)
    return {"checked": len(checked), "agree": agree, "unavailable": unavailable,
            "disagree": len(checked) - agree - unavailable,
            "skipped": len(rows) - len(checked)}


class FiguresPages:
    @route("GET", "/figures", tag=CONSOLE, access=PUBLIC, backend=True,
           summary="The seeds' figures beside the running services' own (the table of "
                   "`gonghui figures`), for the district federation's staff (zh-CN)",
           extra=pages.page_doc("the figures page", errors=(403,)))
    @pages.signed_in_page
    def figures_page(self, request, visitor):
        user = require_permission(visitor.user, READ)
        require_scope(user, [figures.DISTRICT], "the seeds' figures")
        services = SimpleNamespace(
            registry=self.registry_rpc, membership=self.membership_rpc,
            disputes=self.disputes_rpc, competitions=self.competitions_rpc,
            incubation=self.incubation_rpc)
        rows = figures.report(services, caller=user, gather=all_at_once)
        # report() gives the rows in FIGURES' order: each row's figure says which
        # service it was asked of.
        shown = [dict(row, service=figure.service,
                      system_text=figures.shown_value(row["system"]))
                 for figure, row in zip(figures.FIGURES, rows, strict=True)]
        return visitor.render("figures.html", rows=shown, **summary(rows))
