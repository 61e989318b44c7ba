"""Routes backed by the competitions service (职工之星): rules, editions and rounds,
nominations, judges and scores, rankings, results and objections, honours, statistics.

Needs ``self.competitions_rpc`` (a ``BackendRpc("competitions")``) and ``self.auth``.
Request and answer schemas are the service's RPC contract
(``shared/api/competitions.py``); its answers arrive dumped by it and are sent on as
they are. The competitions service checks scope itself (it knows every round's and
nomination's place in the tree), so these routes check only the role:

- the public: an edition, its published results, and objections (anonymous, with a
  receipt code shown once, like a dispute report's). As for reports, the code and the
  client's address never cross the broker: only their keyed hashes
  (``dependencies.receipt_ref``, ``address_ref``) do, and the code is added to the
  HTTP answer here;
- staff: nominations through their union, the rounds of their organization (a street's
  staff manage their street's final), judges, reviews, decisions, honours;
- judges (gateway users with the role ``judge``): their round's sheet, their scores and
  declared conflicts; the service lets them score only the rounds it has registered
  them on.
"""

import re

from services.gateway import pages
from services.gateway.api import PUBLIC, TOKEN, route
from services.gateway.auth import READ, WRITE
from services.gateway.dependencies import address_ref, receipt_code, receipt_ref
from services.gateway.routes.disputes import positive
from services.gateway.routes.registry import V1
from shared import idempotency, receipts
from shared.api.competitions import (
    EDITION_ID,
    ConflictDeclaredSchema,
    ConflictInSchema,
    DecisionInSchema,
    EditionInSchema,
    EditionPageSchema,
    EditionSchema,
    EditionStatisticsSchema,
    HonourInSchema,
    HonourRecordedSchema,
    JudgeInSchema,
    JudgeSchema,
    JudgeSheetSchema,
    NominationInSchema,
    NominationPageSchema,
    NominationQuerySchema,
    NominationSchema,
    ObjectionInSchema,
    ObjectionLodgedSchema,
    ObjectionPageSchema,
    ObjectionQuerySchema,
    ObjectionSchema,
    ObjectionStatusSchema,
    OpenRoundInSchema,
    PublicResultsSchema,
    RankingSchema,
    ReceiptInSchema,
    ReviewInSchema,
    RoundDetailSchema,
    RoundSchema,
    RoundScoresSchema,
    RulesInSchema,
    RulesPageSchema,
    RulesSchema,
    ScoreInSchema,
    ScoreSavedSchema,
    StatisticsQuerySchema,
    WorkerRecordSchema,
)
from shared.errors import NotFound
from shared.paging import CursorQuery
from shared.web import json_response, read_json, read_query

COMPETITIONS = "competitions"
BASE = f"{V1}/competitions"
EDITION = f"{BASE}/editions/<edition_id>"
ROUND = f"{BASE}/rounds/<int:round_id>"
NOMINATION = f"{BASE}/nominations/<int:nomination_id>"
RATE_LIMITED = (429,)
EDITION_SHAPE = re.compile(EDITION_ID)


def edition_of(value: str) -> str:
    """An edition id names an edition only in its shape: anything else is a 404 without
    asking the service."""
    if not EDITION_SHAPE.match(value):
        raise NotFound(f"no edition {value[:40]}")
    return value


JUDGE_PAGE = "/competitions/judge/<int:round_id>"
RESULTS_PAGE = "/competitions/results/<edition_id>"


class CompetitionsRoutes:
    api_tags = [
        {"name": COMPETITIONS, "description": "Worker-star competitions (职工之星): rules, "
                                              "editions, rounds, nominations, judges and "
                                              "scores, rankings, results, objections, "
                                              "honours, statistics."},
    ]

    # --- the pages (zh-CN) ---------------------------------------------------------------

    @route("GET", JUDGE_PAGE, tag=COMPETITIONS, access=PUBLIC, backend=False,
           summary="A judge's scoring page for a tablet at a live final (signed in: /signin)",
           extra={**pages.html_doc("the scoring page; one contestant per screen"),
                  "responses": {**pages.html_doc("the scoring page")["responses"],
                                "303": {"description": "not signed in: to /signin"}}})
    def judge_page(self, request, round_id):
        round_id = positive(round_id, "round")
        signed = self.auth.session(request)
        if signed is None:
            return pages.redirect(f"/signin?next=/competitions/judge/{round_id}")
        user, csrf_token = signed
        return pages.render("competitions_judge.html", round_id=round_id,
                            csrf_token=csrf_token, judge_name=user.name,
                            judge_user=user.name)

    @route("GET", RESULTS_PAGE, tag=COMPETITIONS, access=PUBLIC, errors=(404,),
           summary="An edition's public results page: the winners, the public notice, "
                   "objections with a receipt",
           extra=pages.html_doc("the results and objection page"))
    def results_page(self, request, edition_id):
        edition_id = edition_of(edition_id)
        results = self.competitions_rpc.public_results(edition_id)
        return pages.render("competitions_results.html", results=results)

    # --- the public -------------------------------------------------------------------

    @route("GET", f"{BASE}/rules", tag=COMPETITIONS, access=PUBLIC,
           summary="Every version of the competition rules (published, public)",
           query=CursorQuery, response=RulesPageSchema)
    def competition_rules(self, request):
        query = read_query(request, CursorQuery())
        return json_response(self.competitions_rpc.rules(query))

    @route("GET", f"{BASE}/editions", tag=COMPETITIONS, access=PUBLIC,
           summary="The editions, newest first", query=CursorQuery,
           response=EditionPageSchema)
    def list_editions(self, request):
        query = read_query(request, CursorQuery())
        return json_response(self.competitions_rpc.editions(query))

    @route("GET", EDITION, tag=COMPETITIONS, access=PUBLIC, errors=(404,),
           summary="An edition: its groups and criteria, its rounds and where each stands",
           response=EditionSchema)
    def get_edition(self, request, edition_id):
        edition_id = edition_of(edition_id)
        return json_response(self.competitions_rpc.edition(edition_id))

    @route("GET", f"{EDITION}/results", tag=COMPETITIONS, access=PUBLIC, errors=(404,),
           summary="The published winners of each group and the public notice (公示)",
           response=PublicResultsSchema)
    def edition_results(self, request, edition_id):
        edition_id = edition_of(edition_id)
        return json_response(self.competitions_rpc.public_results(edition_id))

    @route("POST", f"{BASE}/objections", tag=COMPETITIONS, access=PUBLIC, status=201,
           summary="Object to an award during the public notice; the receipt code is "
                   "shown once", body=ObjectionInSchema, response=ObjectionLodgedSchema,
           errors=(404, 409, *RATE_LIMITED), idempotent=True)
    def lodge_objection(self, request):
        data = read_json(request, ObjectionInSchema())
        # The code is made here, once per HTTP request (or from its Idempotency-Key): run
        # twice (a broker restart mid-call), the service answers with the objection
        # already lodged. Only its keyed hash goes to competitions.
        ref = self.auth.idempotency(request, idempotency.ANONYMOUS)
        code = receipt_code(self.config, ref, "competitions.objection")
        lodged = self.competitions_rpc.lodge_objection(
            data, receipt_ref=receipt_ref(self.config, code),
            source=address_ref(self.config, self.auth.client_address(request)),
            idempotency=ref)
        return json_response(dict(lodged, receipt_code=receipts.format_code(code)),
                             status=201)

    @route("POST", f"{BASE}/objections/status", tag=COMPETITIONS, access=PUBLIC,
           summary="Follow an objection by its receipt code (in the body, out of URLs "
                   "and logs)", body=ReceiptInSchema, response=ObjectionStatusSchema,
           errors=(404, *RATE_LIMITED))
    def objection_status(self, request):
        data = read_json(request, ReceiptInSchema())
        return json_response(self.competitions_rpc.objection_status(
            receipt_ref(self.config, receipts.normalise(data["receipt_code"])),
            source=address_ref(self.config, self.auth.client_address(request))))

    # --- rules, editions, rounds --------------------------------------------------------

    @route("POST", f"{BASE}/rules", tag=COMPETITIONS, access=WRITE, status=201,
           summary="Publish a new version of the rules (the district federation's admins)",
           body=RulesInSchema, response=RulesSchema)
    def publish_competition_rules(self, request):
        user = self.auth.user(request, WRITE)
        data = read_json(request, RulesInSchema())
        return json_response(self.competitions_rpc.publish_rules(data, user.caller()),
                             status=201)

    @route("POST", f"{BASE}/editions", tag=COMPETITIONS, access=WRITE, status=201,
           summary="Open an edition (a year) with every round, under the rules in force",
           body=EditionInSchema, response=EditionSchema, errors=(404, 409))
    def create_edition(self, request):
        user = self.auth.user(request, WRITE)
        data = read_json(request, EditionInSchema())
        return json_response(self.competitions_rpc.create_edition(data, user.caller()),
                             status=201)

    @route("POST", f"{ROUND}/open", tag=COMPETITIONS, access=WRITE,
           summary="Open a round (once, after the earlier ones closed); opening the public "
                   "notice publishes the results (body {} or {\"objection_days\": 7})",
           body=OpenRoundInSchema,
           response=RoundSchema, errors=(404, 409))
    def open_round(self, request, round_id):
        user = self.auth.user(request, WRITE)
        data = read_json(request, OpenRoundInSchema())
        round_id = positive(round_id, "round")
        return json_response(self.competitions_rpc.open_round(round_id, user.caller(), data))

    @route("POST", f"{ROUND}/close", tag=COMPETITIONS, access=WRITE,
           summary="Close a round: its scores freeze and each group is ranked",
           response=RoundSchema, errors=(404, 409))
    def close_round(self, request, round_id):
        user = self.auth.user(request, WRITE)
        round_id = positive(round_id, "round")
        return json_response(self.competitions_rpc.close_round(round_id, user.caller()))

    @route("GET", ROUND, tag=COMPETITIONS, access=READ, errors=(404,),
           summary="A round for its staff: contestants in running order, judges and their "
                   "exclusions, marks received (never the marks before it closes)",
           response=RoundDetailSchema)
    def get_round(self, request, round_id):
        user = self.auth.user(request, READ)
        round_id = positive(round_id, "round")
        return json_response(self.competitions_rpc.round(round_id, user.caller()))

    @route("GET", f"{ROUND}/ranking", tag=COMPETITIONS, access=READ, errors=(404, 409),
           summary="A closed final's ranking per group, with how each total was computed",
           response=RankingSchema)
    def round_ranking(self, request, round_id):
        user = self.auth.user(request, READ)
        round_id = positive(round_id, "round")
        return json_response(self.competitions_rpc.ranking(round_id, user.caller()))

    @route("GET", f"{ROUND}/scores", tag=COMPETITIONS, access=READ, errors=(404, 409),
           summary="Every judge's marks in a closed round, with every change to them",
           response=RoundScoresSchema)
    def round_scores(self, request, round_id):
        user = self.auth.user(request, READ)
        round_id = positive(round_id, "round")
        return json_response(self.competitions_rpc.round_scores(round_id, user.caller()))

    @route("POST", f"{ROUND}/judges", tag=COMPETITIONS, access=WRITE, status=201,
           summary="Register a judge of a final; conflicts of interest with its contestants "
                   "are excluded at once", body=JudgeInSchema, response=JudgeSchema,
           errors=(404, 409))
    def register_judge(self, request, round_id):
        user = self.auth.user(request, WRITE)
        data = read_json(request, JudgeInSchema())
        round_id = positive(round_id, "round")
        return json_response(self.competitions_rpc.register_judge(round_id, data,
                                                                  user.caller()), status=201)

    # --- judges -------------------------------------------------------------------------

    @route("GET", f"{ROUND}/sheet", tag=COMPETITIONS, access=TOKEN, errors=(403, 404),
           summary="A judge's sheet: the contestants in running order, the criteria, the "
                   "judge's own marks so far", response=JudgeSheetSchema)
    def judge_sheet(self, request, round_id):
        user = self.auth.user(request)
        round_id = positive(round_id, "round")
        return json_response(self.competitions_rpc.judge_sheet(round_id, user.caller()))

    @route("POST", f"{ROUND}/scores", tag=COMPETITIONS, access=TOKEN,
           summary="A judge saves marks for a contestant (once per score_id: a resend "
                   "changes nothing and answers what was saved)",
           description="Editable until the round closes; every change is kept. `duplicate` "
                       "says the score_id had been saved before.",
           body=ScoreInSchema, response=ScoreSavedSchema, errors=(403, 404, 409))
    def save_score(self, request, round_id):
        user = self.auth.user(request)
        data = read_json(request, ScoreInSchema())
        round_id = positive(round_id, "round")
        return json_response(self.competitions_rpc.save_score(round_id, data, user.caller()))

    @route("POST", f"{ROUND}/conflicts", tag=COMPETITIONS, access=TOKEN, status=201,
           summary="A judge declares a conflict of interest with a contestant",
           body=ConflictInSchema, response=ConflictDeclaredSchema, errors=(403, 404, 409))
    def declare_conflict(self, request, round_id):
        user = self.auth.user(request)
        data = read_json(request, ConflictInSchema())
        round_id = positive(round_id, "round")
        return json_response(self.competitions_rpc.declare_conflict(round_id, data,
                                                                    user.caller()),
                             status=201)

    # --- nominations --------------------------------------------------------------------

    @route("POST", f"{BASE}/nominations", tag=COMPETITIONS, access=WRITE, status=201,
           summary="Nominate a member (her enterprise's union or its community's); the "
                   "answer says qualified, or refused naming each failed rule",
           body=NominationInSchema, response=NominationSchema, errors=(404, 409))
    def submit_nomination(self, request):
        user = self.auth.user(request, WRITE)
        data = read_json(request, NominationInSchema())
        return json_response(self.competitions_rpc.submit_nomination(data, user.caller()),
                             status=201)

    @route("GET", f"{BASE}/nominations", tag=COMPETITIONS, access=READ,
           summary="An edition's nominations within the caller's subtree",
           query=NominationQuerySchema, response=NominationPageSchema)
    def list_nominations(self, request):
        user = self.auth.user(request, READ)
        query = read_query(request, NominationQuerySchema())
        return json_response(self.competitions_rpc.nominations(query, user.caller()))

    @route("GET", NOMINATION, tag=COMPETITIONS, access=READ, errors=(404,),
           summary="A nomination with its eligibility and its flags for review",
           response=NominationSchema)
    def get_nomination(self, request, nomination_id):
        user = self.auth.user(request, READ)
        nomination_id = positive(nomination_id, "nomination")
        return json_response(self.competitions_rpc.nomination(nomination_id, user.caller()))

    @route("POST", f"{NOMINATION}/recheck", tag=COMPETITIONS, access=WRITE,
           summary="Check a refused nomination again", response=NominationSchema,
           errors=(404, 409))
    def recheck_nomination(self, request, nomination_id):
        user = self.auth.user(request, WRITE)
        nomination_id = positive(nomination_id, "nomination")
        return json_response(self.competitions_rpc.recheck_nomination(nomination_id,
                                                                      user.caller()))

    @route("POST", f"{NOMINATION}/review", tag=COMPETITIONS, access=WRITE,
           summary="Review a flagged nomination: keep it or disqualify it",
           body=ReviewInSchema, response=NominationSchema, errors=(404, 409))
    def review_nomination(self, request, nomination_id):
        user = self.auth.user(request, WRITE)
        data = read_json(request, ReviewInSchema())
        nomination_id = positive(nomination_id, "nomination")
        return json_response(self.competitions_rpc.review_nomination(nomination_id, data,
                                                                     user.caller()))

    # --- objections, honours, statistics -----------------------------------------------

    @route("GET", f"{EDITION}/objections", tag=COMPETITIONS, access=READ, errors=(404,),
           summary="The objections to an edition's awards", query=ObjectionQuerySchema,
           response=ObjectionPageSchema)
    def list_objections(self, request, edition_id):
        user = self.auth.user(request, READ)
        query = read_query(request, ObjectionQuerySchema())
        edition_id = edition_of(edition_id)
        return json_response(self.competitions_rpc.objections(edition_id, query,
                                                              user.caller()))

    @route("POST", f"{BASE}/objections/<int:objection_id>/decision", tag=COMPETITIONS,
           access=WRITE, summary="Uphold an objection (the award is revoked, the next in "
                                 "rank moves up) or dismiss it",
           body=DecisionInSchema, response=ObjectionSchema, errors=(404, 409))
    def decide_objection(self, request, objection_id):
        user = self.auth.user(request, WRITE)
        data = read_json(request, DecisionInSchema())
        objection_id = positive(objection_id, "objection")
        return json_response(self.competitions_rpc.decide_objection(objection_id, data,
                                                                    user.caller()))

    @route("POST", f"{BASE}/honours", tag=COMPETITIONS, access=WRITE, status=201,
           summary="Record a later honour of a worker (model worker, May-Day medal, "
                   "deputy...)", body=HonourInSchema, response=HonourRecordedSchema,
           errors=(404,))
    def record_honour(self, request):
        user = self.auth.user(request, WRITE)
        data = read_json(request, HonourInSchema())
        return json_response(self.competitions_rpc.record_honour(data, user.caller()),
                             status=201)

    @route("GET", f"{BASE}/workers/<int:worker_id>", tag=COMPETITIONS, access=READ,
           summary="A worker's nominations, star awards and later honours",
           response=WorkerRecordSchema, errors=(404,))
    def worker_record(self, request, worker_id):
        user = self.auth.user(request, READ)
        worker_id = positive(worker_id, "worker")
        return json_response(self.competitions_rpc.worker_record(worker_id, user.caller()))

    @route("GET", f"{EDITION}/statistics", tag=COMPETITIONS, access=READ, errors=(404,),
           summary="Nominations, finalists and winners by group, street and enterprise; "
                   "stars later honoured", query=StatisticsQuerySchema,
           response=EditionStatisticsSchema)
    def competition_statistics(self, request, edition_id):
        user = self.auth.user(request, READ)
        query = read_query(request, StatisticsQuerySchema())
        edition_id = edition_of(edition_id)
        return json_response(self.competitions_rpc.statistics(edition_id, user.caller(),
                                                              query))
