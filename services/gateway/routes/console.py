"""The staff console (issue 11): pages for union staff, in Chinese, server-rendered from
the same backends the JSON API calls, with the same caller (role and organization scope:
each backend checks it again).

    GET  /                              what waits for my organization (签收 first)
    GET  /cases                         my subtree's cases, filtered, 20 a page
    GET  /cases/<case_id>               a case: reports, grade and its rule, timeline, the
                                        next steps of the standard process, a visit form
    POST /cases/<case_id>/acknowledge   签收 for my organization, then back (``next``)
    POST /cases/<case_id>/steps         the next step (status and its fields)
    POST /cases/<case_id>/visits        an enterprise visit about the case

Needs ``self.notifications_rpc``, ``self.disputes_rpc`` and ``self.auth``; pages are
``pages.signed_in_page`` methods (sign-in, CSRF, errors as pages), their words come from
``messages``.
"""

from urllib.parse import urlencode

from services.gateway import messages, pages
from services.gateway.api import PUBLIC, route
from services.gateway.auth import READ, WRITE, organization_account, require_permission
from services.gateway.dependencies import at_once
from services.gateway.routes.disputes import case_id_of
from shared.api import disputes as contract
from shared.errors import InvalidInput, NotFound

CONSOLE = "console"
HOME_CASES = 20  # waiting cases on the home page, soonest deadline first
HOME_REMINDERS = 10  # the newest reminders that are not about a case
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


# What of the notifications' audit the case page shows beside disputes' own timeline
# (which has the case's opening, merges, regrading, steps, visits and acknowledgements).
AUDIT_SHOWN = ("notified", "reminded", "escalated", "delivery_failed", "escalation_stopped")


def timeline(case: dict, audit: list[dict]) -> list[dict]:
    """The case's story in order: disputes' lines and the notifications' audit merged."""
    lines = [dict(line, source="case") for line in case["timeline"]]
    lines += [{"at": entry["at"], "kind": entry["action"], "actor": None, "source": "audit",
               "detail": dict(entry["detail"] or {}, tier=entry["tier"],
                              organization_code=entry["organization_code"],
                              recipient_kind=entry["recipient_kind"])}
              for entry in audit if entry["action"] in AUDIT_SHOWN]
    return sorted(lines, key=lambda line: line["at"])


def grading_rule(policies: list[dict], rule_id: str | None) -> str | None:
    """The label of the grading rule that set the grade, from the versions published."""
    for version in policies:
        for rule in version["body"].get("rules", ()):
            if rule.get("id") == rule_id:
                return rule.get("label")
    return None


CASE_FILTERS = ("status", "grade", "category", "street_code", "community_code",
                "opened_from", "opened_to")
CASES_PAGE = 20
PLACE_FILTERS = {"street": "street_code", "community": "community_code"}


VISIT_FIELDS = ("kind", "at", "irregular_practice", "workers_affected", "amount_owed",
                "findings")


class ConsoleRoutes:
    api_tags = [{"name": CONSOLE, "description": "The staff console's pages (zh-CN): what "
                                                 "waits for an organization, cases, "
                                                 "acknowledging (签收)."}]

    def _acknowledge(self, user, case_id: str, acknowledgement: dict) -> dict:
        """签收 on behalf of a notified organization: the API's route and the page's."""
        self._recipient_for(user, acknowledgement["organization_code"],
                            acknowledgement["recipient_kind"])
        return self.notifications_rpc.acknowledge(case_id, acknowledgement, user.caller())

    def _home_organization(self, user) -> dict | None:
        """The user's organization for the page's header; none for an account the
        registry does not hold (a social organization's own, ``so:17``)."""
        if organization_account(user.organization_code) is not None:
            return None
        return self._organization_for(user, user.organization_code)

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
            "recipient_kind": "union", "subject_kind": "case", "unacknowledged": True,
            "limit": 200})
        waiting = waiting_cases(inbox["items"])
        # not cases: nothing to 签收, only to read (the hub's incubation reminders)
        reminders = self.notifications_rpc.inbox(organization, caller, {
            "recipient_kind": "union", "subject_kind": "incubation", "newest_first": True,
            "limit": HOME_REMINDERS})["items"]
        def state_of(entry):  # its escalation and who else was told
            return (self.notifications_rpc.case_escalation(entry["case_id"], caller),
                    self.notifications_rpc.case_notifications(entry["case_id"], caller,
                                                              {"limit": 50})["items"])

        # Every case's two calls at once, so the request's one deadline bounds the slowest
        # rather than the sum of up to 2 x HOME_CASES (a failure still fails the page).
        first = waiting[:HOME_CASES]
        for entry, (escalation, told) in zip(first, at_once(state_of, first, HOME_CASES),
                                             strict=True):
            entry["due_at"] = escalation_due(escalation, entry["message"])
            entry["acknowledged_by"] = escalation.get("acknowledged_by")
            entry["others"] = [n for n in told if (n["organization_code"], n["recipient_kind"])
                               != (organization, "union")]
        shown = sorted(waiting[:HOME_CASES],
                       key=lambda entry: (entry["due_at"] is None, entry["due_at"] or ""))
        recent = self.disputes_rpc.list_cases(caller, {"limit": RECENT_CASES})["items"]
        return visitor.render("home.html", waiting=shown, more=len(waiting) - len(shown),
                              reminders=reminders, recent=recent,
                              acknowledged=request.args.get("acknowledged"),
                              organization=self._home_organization(user))

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

    # --- cases --------------------------------------------------------------------------

    @route("GET", "/cases", tag=CONSOLE, access=PUBLIC,
           summary="The cases of my subtree, newest first, 20 a page; filters: status, "
                   "grade, category, street or community, the days opened between",
           extra=pages.page_doc("the cases list", errors=(400, 403, 404, 429, 503)))
    @pages.signed_in_page
    def cases_page(self, request, visitor):
        user = visitor.user
        sent = {name: request.args.get(name, "").strip()[:100]
                for name in (*CASE_FILTERS, "cursor")}
        query = dict({name: value for name, value in sent.items() if value},
                     limit=CASES_PAGE)
        # the places one level down, to filter by: a district's streets, a street's
        # communities
        places = [place for place in self.registry_rpc.list_children(
            user.organization_code, limit=500)["items"] if place["tier"] in PLACE_FILTERS]
        shown = {"places": places, "place_filter": PLACE_FILTERS.get(
            places[0]["tier"]) if places else None, "sent": sent}
        try:
            found = self.disputes_rpc.list_cases(user.caller(), query)
        except InvalidInput as error:
            explained = messages.explain(error)
            return visitor.render("cases.html", status=400, cases=[], next_query=None,
                                  explained=explained, errors=explained.fields, **shown)
        filters = {name: sent[name] for name in CASE_FILTERS if sent[name]}
        next_query = urlencode(dict(filters, cursor=found["next_cursor"])) \
            if found["next_cursor"] else None
        return visitor.render("cases.html", cases=found["items"], next_query=next_query,
                              first_query=urlencode(filters), explained=None, errors={},
                              **shown)

    # --- a case -------------------------------------------------------------------------

    def _case_page(self, visitor, case_id: str, status: int = 200, **form) -> object:
        """The case page; ``form``: the step or visit form shown again with its errors
        (``failed``: "step" or "visit", ``explained``, ``sent``: the input)."""
        caller = visitor.user.caller()
        case = self.disputes_rpc.get_case(case_id, caller)  # 404 outside the subtree
        try:
            told = self.notifications_rpc.case_notifications(case_id, caller,
                                                             {"limit": 100})["items"]
            audit = self.notifications_rpc.case_audit(case_id, caller,
                                                      {"limit": 500})["items"]
        except NotFound:  # not arrived there yet, or nobody in this subtree was told
            told, audit = [], []
        names = {(n["organization_code"], n["recipient_kind"]): n["name"] for n in told}
        mine = [n for n in told if (n["organization_code"], n["recipient_kind"]) == (
            visitor.user.organization_code, "union")]
        policies = self.disputes_rpc.get_policies("grading", {"limit": 100})["items"]
        return visitor.render(
            "case.html", status=status, case=case, told=told, names=names,
            timeline=timeline(case, audit),
            rule_label=grading_rule(policies, case["grade_rule"]),
            to_acknowledge=any(n["acknowledged_at"] is None for n in mine),
            next_steps=contract.TRANSITIONS.get(case["status"], ()),
            visit_kinds=contract.VISIT_KINDS, handling_tiers=contract.HANDLING_TIERS,
            done=visitor.request.args.get("done") or (
                "acknowledged" if visitor.request.args.get("acknowledged") else None),
            failed=form.get("failed"), explained=form.get("explained"),
            errors=form["explained"].fields if form.get("explained") else {},
            sent=form.get("sent") or {})

    @route("GET", "/cases/<case_id>", tag=CONSOLE, access=PUBLIC,
           summary="A case: its reports (pseudonyms only), grade and the rule that set it, "
                   "timeline, who was told; 签收, the next step, a visit",
           extra=pages.page_doc("the case page"))
    @pages.signed_in_page
    def case_page(self, request, visitor, case_id):
        return self._case_page(visitor, case_id_of(case_id))

    @route("POST", "/cases/<case_id>/steps", tag=CONSOLE, access=PUBLIC, status=303,
           summary="Move a case one step from its page (the API's transition, as a form)",
           extra=pages.page_doc("back to the case", status=303, form={
               "status": {"type": "string", "enum": list(contract.NEXT_STATUSES)},
               **{name: {"type": "string"} for name in (
                   "note", "reason", "workers_affected", "amount_owed", "handled_by_tier",
                   "joint", "departments", "wages_recovered", "workers_covered")}}))
    @pages.signed_in_page
    def step_page(self, request, visitor, case_id):
        user = require_permission(visitor.user, WRITE)
        case_id = case_id_of(case_id)
        target = request.form.get("status", "")
        step = contract.TRANSITION_SCHEMAS.get(target, contract.StepTargetSchema)()
        try:
            self.disputes_rpc.change_status(case_id, target, pages.form_data(
                step, request.form) if target in contract.TRANSITION_SCHEMAS else {},
                user.caller())
        except InvalidInput as error:
            return self._case_page(visitor, case_id, 400, failed=f"step-{target}",
                                   explained=messages.explain(error),
                                   sent=request.form.to_dict())
        return pages.redirect(f"/cases/{case_id}?done={target}")

    @route("POST", "/cases/<case_id>/visits", tag=CONSOLE, access=PUBLIC, status=303,
           summary="Record an enterprise visit about a case from its page (the API's visit, "
                   "as a form)",
           extra=pages.page_doc("back to the case", status=303, form={
               name: {"type": "string"} for name in VISIT_FIELDS}))
    @pages.signed_in_page
    def visit_page(self, request, visitor, case_id):
        user = require_permission(visitor.user, WRITE)
        case_id = case_id_of(case_id)
        enterprise = self.disputes_rpc.get_case(case_id, user.caller())["enterprise"]
        named = ({"credit_code": enterprise["credit_code"]} if enterprise["credit_code"]
                 else {key: enterprise[key] for key in ("name", "address", "community_code")})
        visit = {name: value for name, value in pages.form_data(
            contract.VisitSchema(), request.form).items() if name in VISIT_FIELDS}
        try:
            self.disputes_rpc.record_visit(dict(visit, case_id=case_id, **named),
                                           user.caller())
        except InvalidInput as error:
            return self._case_page(visitor, case_id, 400, failed="visit",
                                   explained=messages.explain(error),
                                   sent=request.form.to_dict())
        return pages.redirect(f"/cases/{case_id}?done=visit")
