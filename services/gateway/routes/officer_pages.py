"""The console's pages for information officers (信息员) signed in to their account
(role ``officer``, made with their registration): what became of their reports, and
their rewards with the rule that produced each. The report form itself is
``/disputes/report``, which knows a signed-in officer (``routes/disputes.py``).

    GET /my/reports     each report and how far its case has come
    GET /my/rewards     each reward: stage, amount, status, the rules behind the amount

and, for staff, registering an officer with their account:

    GET  /officers/new  the form
    POST /officers/new  organization_code, real_name, phone, user_name: the account's
                        one-time password link, shown once

Disputes is asked with the officer token hash the gateway keeps for the account
(``DisputesRoutes.officer_token_hash``): nothing else stands for the officer.
"""

from services.gateway import accounts, messages, pages
from services.gateway.api import PUBLIC, route
from services.gateway.auth import WRITE, require_permission
from services.gateway.schemas import OfficerRegistrationSchema
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.paging import CursorQuery
from shared.schemas import load
from shared.web import read_query

OFFICER_FIELDS = ("organization_code", "real_name", "phone", "user_name")

CONSOLE = "console"


def officer_only(visitor) -> None:
    if visitor.user.role != accounts.OFFICER:
        raise Forbidden("only an information officer's account has reports of its own",
                        {"role": visitor.user.role})


class OfficerPages:
    @route("GET", "/my/reports", tag=CONSOLE, access=PUBLIC,
           summary="An information officer's own reports and each one's status (zh-CN)",
           query=CursorQuery,
           extra=pages.page_doc("the officer's reports", errors=(400, 403, 503)))
    @pages.signed_in_page
    def my_reports_page(self, request, visitor):
        officer_only(visitor)
        page = self.disputes_rpc.my_reports(self.officer_token_hash(request),
                                            read_query(request, CursorQuery()))
        return visitor.render("my_reports.html", reports=page["items"],
                              next_cursor=page["next_cursor"])

    @route("GET", "/my/rewards", tag=CONSOLE, access=PUBLIC,
           summary="An information officer's own rewards, each with the rules that "
                   "produced it (zh-CN)", query=CursorQuery,
           extra=pages.page_doc("the officer's rewards", errors=(400, 403, 503)))
    @pages.signed_in_page
    def my_rewards_page(self, request, visitor):
        officer_only(visitor)
        page = self.disputes_rpc.my_rewards(
            officer_token_hash=self.officer_token_hash(request),
            query=read_query(request, CursorQuery()))
        rewards = [{**reward, "rules": [messages.reward_rule(line)
                                        for line in reward["explanation"]]}
                   for reward in page["items"]]
        return visitor.render("my_rewards.html", rewards=rewards,
                              next_cursor=page["next_cursor"])

    @route("GET", "/officers/new", tag=CONSOLE, access=PUBLIC,
           summary="Staff: the form registering an information officer with their account "
                   "(zh-CN)", extra=pages.page_doc("the form", errors=(403,)))
    @pages.signed_in_page
    def new_officer_page(self, request, visitor):
        require_permission(visitor.user, WRITE)
        return visitor.render("officer_new.html", given={
            "organization_code": visitor.user.organization_code})

    @route("POST", "/officers/new", tag=CONSOLE, access=PUBLIC,
           summary="Staff: register an information officer with their account; the page "
                   "shows the account's one-time password link",
           extra=pages.page_doc("the form again, the link shown once", status=201,
                                form={name: {"type": "string"} for name in OFFICER_FIELDS},
                                errors=(400, 403, 404, 409, 503)))
    @pages.signed_in_page
    def register_officer_page(self, request, visitor):
        user = require_permission(visitor.user, WRITE)
        given = {name: request.form.get(name, "").strip() for name in OFFICER_FIELDS}
        try:
            officer = load(OfficerRegistrationSchema(), {
                **given, "phone": given["phone"] or None}, "officer rejected")
            registered = self.registered_officer(request, user, officer)
        except InvalidInput as error:  # each message beside its field
            explained = messages.explain(error)
            errors, status = explained.fields or {"real_name": [explained.summary]}, 400
        except Conflict as error:  # the account's name is taken
            errors, status = {"user_name": [messages.explain(error).summary]}, error.status
        except (Forbidden, NotFound) as error:  # no such organization in the subtree
            errors = {"organization_code": [messages.explain(error).summary]}
            status = error.status
        else:
            return visitor.render("officer_new.html", status=201, registered=registered,
                                  given={"organization_code": given["organization_code"]})
        return visitor.render("officer_new.html", status=status, given=given, errors=errors)
