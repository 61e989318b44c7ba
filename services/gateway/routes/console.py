"""The staff console (issue 11): pages for union staff, in Chinese, server-rendered from
the same backends the JSON API calls, with the same caller (role and organization scope:
each backend checks it again).

    GET  /                              what waits for my organization (签收 first)
    POST /cases/<case_id>/acknowledge   签收 for my organization, then back (``next``)

Needs ``self.notifications_rpc``, ``self.disputes_rpc`` and ``self.auth``; pages are
``pages.signed_in_page`` methods (sign-in, CSRF, errors as pages), their words come from
``messages``.
"""

from services.gateway import pages
from services.gateway.api import PUBLIC, route
from services.gateway.auth import READ, WRITE, require_permission
from services.gateway.routes.disputes import case_id_of

CONSOLE = "console"
HOME_CASES = 20  # waiting cases on the home page, soonest deadline first
RECENT_CASES = 10


def local_next(target: str | None, default: str = "/") -> str:
    """Where a form goes back to: a path on this site only."""
    if not target or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or len(target) > 300:
        return default
    return target


def waiting_cases(inbox_items: list[dict]) -> list[dict]:
    """An inbox's unacknowledged messages as one entry per case: its first notice, and
    how many reminders followed."""
    found: dict[str, dict] = {}
    for item in inbox_items:
        entry = found.setdefault(item["case_id"], {
            "case_id": item["case_id"], "message": item["message"],
            "received_at": item["received_at"], "reminders": 0})
        if item["kind"] == "reminder":
            entry["reminders"] += 1
    return list(found.values())


def escalation_due(escalation: dict, message: dict) -> str | None:
    """When the case climbs to the next tier unless acknowledged: its open escalation
    deadline; none once someone on the chain has acknowledged it."""
    for deadline in escalation.get("open_deadlines") or ():
        if deadline["kind"] == "escalate":
            return deadline["due_at"]
    return None if escalation.get("acknowledged_at") else message.get("acknowledge_by")


class ConsoleRoutes:
    api_tags = [{"name": CONSOLE, "description": "The staff console's pages (zh-CN): what "
                                                 "waits for an organization, cases, "
                                                 "acknowledging (签收)."}]

    def _acknowledge(self, user, case_id: str, acknowledgement: dict) -> dict:
        """签收 on behalf of a notified organization: the API's route and the page's."""
        self._recipient_for(user, acknowledgement["organization_code"],
                            acknowledgement["recipient_kind"])
        return self.notifications_rpc.acknowledge(case_id, acknowledgement, user.caller())

    @route("GET", "/", tag=CONSOLE, access=PUBLIC,
           summary="The staff home: the cases waiting for my organization's 签收, soonest "
                   "escalation first, then the latest cases of my subtree",
           extra=pages.page_doc("the home page"))
    @pages.signed_in_page
    def staff_home(self, request, visitor):
        user = visitor.user
        if not user.can(READ):  # a judge: nothing waits here
            return visitor.render("home.html", waiting=[], recent=[], acknowledged=None)
        caller, organization = user.caller(), user.organization_code
        inbox = self.notifications_rpc.inbox(organization, caller, {
            "recipient_kind": "union", "unacknowledged": True, "limit": 200})
        waiting = waiting_cases(inbox["items"])
        for entry in waiting[:HOME_CASES]:
            escalation = self.notifications_rpc.case_escalation(entry["case_id"], caller)
            told = self.notifications_rpc.case_notifications(entry["case_id"], caller,
                                                             {"limit": 50})["items"]
            entry["due_at"] = escalation_due(escalation, entry["message"])
            entry["acknowledged_by"] = escalation.get("acknowledged_by")
            entry["others"] = [n for n in told if (n["organization_code"], n["recipient_kind"])
                               != (organization, "union")]
        shown = sorted(waiting[:HOME_CASES],
                       key=lambda entry: (entry["due_at"] is None, entry["due_at"] or ""))
        recent = self.disputes_rpc.list_cases(caller, {"limit": RECENT_CASES})["items"]
        return visitor.render("home.html", waiting=shown, more=len(waiting) - len(shown),
                              recent=recent, acknowledged=request.args.get("acknowledged"),
                              organization=self._organization_for(user, organization))

    @route("POST", "/cases/<case_id>/acknowledge", tag=CONSOLE, access=PUBLIC, status=303,
           summary="签收 a case for my organization from a page, then back to `next`",
           extra=pages.page_doc("back to next", status=303,
                                form={"next": {"type": "string"}}))
    @pages.signed_in_page
    def acknowledge_page(self, request, visitor, case_id):
        user = require_permission(visitor.user, WRITE)
        case_id = case_id_of(case_id)
        self._acknowledge(user, case_id, {"organization_code": user.organization_code,
                                          "recipient_kind": "union"})
        back = local_next(request.form.get("next"))
        return pages.redirect(f"{back}{'&' if '?' in back else '?'}acknowledged={case_id}")
