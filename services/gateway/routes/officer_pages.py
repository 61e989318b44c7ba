"""The console's pages for information officers (信息员) signed in to their account
(role ``officer``, made with their registration): what became of their reports, and
their rewards with the rule that produced each. The report form itself is
``/disputes/report``, which knows a signed-in officer (``routes/disputes.py``).

    GET /my/reports     each report and how far its case has come
    GET /my/rewards     each reward: stage, amount, status, the rules behind the amount

Disputes is asked with the officer token hash the gateway keeps for the account
(``DisputesRoutes.officer_token_hash``): nothing else stands for the officer.
"""

from services.gateway import accounts, messages, pages
from services.gateway.api import PUBLIC, route
from shared.errors import Forbidden
from shared.paging import CursorQuery
from shared.web import read_query

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
