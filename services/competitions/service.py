"""The competitions service (职工之星): editions, nominations, rounds, judges and scores,
rankings, results and objections, awards and later honours.

Its RPC methods and what they take and answer are the contract in
``shared/api/competitions.py``: each entrypoint loads its arguments with the contract's
schemas (the one place input is checked), calls one use case (``operations``) or read
(``views``), and dumps the answer with the contract's schema.

Listens to the registry (organizations and enterprises: ``RegistryEventHandlers``),
membership (members) and disputes (cases graded major); see ``readmodel``.
"""

from pathlib import Path

from eventlet import tpool
from nameko.timer import timer
from sqlalchemy.exc import IntegrityError

from services.competitions import operations, policy, readmodel, sample, views
from shared import idempotency
from shared.api import competitions as contract
from shared.caller import Caller, signed_in
from shared.consumers import event_handler
from shared.dependencies import Database, Metrics
from shared.membership_events import MembershipEventHandlers
from shared.paging import CursorQuery
from shared.registry_events import RegistryEventHandlers
from shared.rpc import rpc
from shared.schemas import load
from shared.timeutil import now_utc
from shared.web import OpsEndpoints

MIGRATIONS = Path(__file__).parent / "migrations"
# Made once: saving a score is the hot path of a live final.
SCORE_IN = contract.ScoreInSchema()
SCORE_SAVED = contract.ScoreSavedSchema()
# The gateway adds the receipt code to its HTTP answer: it alone knows it.
OBJECTION_LODGED = contract.ObjectionLodgedSchema(exclude=("receipt_code",))
# How often ended public notices are looked for: an award is final within this much of
# the end of its objection period (the period itself is the rules' objection_days).
NOTICE_POLL_SECONDS = 60


def _caller(data) -> Caller:
    return signed_in(data)


def _ref(schema, **value):
    return load(schema(), value)[next(iter(value))]


class CompetitionsService(RegistryEventHandlers, MembershipEventHandlers, OpsEndpoints,
                          idempotency.IdempotencyKeys):
    name = "competitions"
    db = Database(MIGRATIONS)
    metrics = Metrics()
    registry_readmodel = readmodel.registry

    def _change(self, answer, operation, *args):
        """``operation(uow, *args, now)`` in a unit of work (``db.changes``), its result
        dumped by ``answer``, the contract's output schema."""
        with self.db.changes() as uow:
            return answer.dump(operation(uow, *args, now_utc()))

    def _read(self, answer, view, *args):
        """``view(session, *args)`` dumped by ``answer``."""
        with self.db.session() as session:
            return answer.dump(view(session, *args))

    # --- rules and editions -----------------------------------------------------------

    @rpc
    def publish_rules(self, data, caller):
        caller = _caller(caller)
        request = load(contract.RulesInSchema(), data, "rules rejected")
        body = load(policy.RulesSchema(), request["body"], "rules rejected")
        return self._change(contract.RulesSchema(), operations.publish_rules, body,
                            request["note"], caller)

    @rpc
    def rules(self, query=None):
        query = load(CursorQuery(), query or {}, "query parameters rejected")
        return self._read(contract.RulesPageSchema(), views.rules_page, query["cursor"],
                          query["limit"])

    @rpc
    def create_edition(self, data, caller):
        caller = _caller(caller)
        request = load(contract.EditionInSchema(), data, "edition rejected")
        with self.db.changes() as uow:
            created = operations.create_edition(uow, request, caller, now_utc())
        return self.edition(created["id"])

    @rpc
    def edition(self, edition_id):
        edition_id = _ref(contract.EditionRefSchema, edition_id=edition_id)
        return self._read(contract.EditionSchema(), views.edition_view, edition_id)

    @rpc
    def editions(self, query=None):
        query = load(CursorQuery(), query or {}, "query parameters rejected")
        return self._read(contract.EditionPageSchema(), views.editions_page, query["cursor"],
                          query["limit"])

    # --- rounds -----------------------------------------------------------------------

    @rpc
    def open_round(self, round_id, caller, data=None):
        caller = _caller(caller)
        round_id = _ref(contract.RoundRefSchema, round_id=round_id)
        options = load(contract.OpenRoundInSchema(), data or {}, "round rejected")
        with self.db.changes() as uow:
            opened = operations.open_round(uow, round_id, caller, now_utc(),
                                           options["objection_days"])
        return contract.RoundSchema().dump(opened)

    @rpc
    def close_round(self, round_id, caller):
        caller = _caller(caller)
        round_id = _ref(contract.RoundRefSchema, round_id=round_id)
        return self._change(contract.RoundSchema(), operations.close_round, round_id, caller)

    @rpc
    def round(self, round_id, caller):
        caller = _caller(caller)
        round_id = _ref(contract.RoundRefSchema, round_id=round_id)
        return self._read(contract.RoundDetailSchema(), views.round_view, round_id, caller)

    @rpc
    def ranking(self, round_id, caller):
        caller = _caller(caller)
        round_id = _ref(contract.RoundRefSchema, round_id=round_id)
        return self._read(contract.RankingSchema(), views.ranking_view, round_id, caller)

    @rpc
    def round_scores(self, round_id, caller):
        caller = _caller(caller)
        round_id = _ref(contract.RoundRefSchema, round_id=round_id)
        return self._read(contract.RoundScoresSchema(), views.round_scores, round_id, caller)

    # --- nominations ------------------------------------------------------------------

    @rpc
    def submit_nomination(self, data, caller):
        caller = _caller(caller)
        nomination = load(contract.NominationInSchema(), data, "nomination rejected")
        with self.db.changes() as uow:
            created = operations.submit_nomination(uow, nomination, caller, now_utc())
        return self._nomination(created["id"], caller)

    def _nomination(self, nomination_id, caller):
        return self._read(contract.NominationSchema(), views.nomination_view, nomination_id,
                          caller)

    @rpc
    def nomination(self, nomination_id, caller):
        caller = _caller(caller)
        nomination_id = _ref(contract.NominationRefSchema, nomination_id=nomination_id)
        return self._nomination(nomination_id, caller)

    @rpc
    def nominations(self, query, caller):
        caller = _caller(caller)
        query = load(contract.NominationQuerySchema(), query or {}, "query parameters rejected")
        return self._read(contract.NominationPageSchema(), views.nominations_page, caller,
                          query)

    @rpc
    def recheck_nomination(self, nomination_id, caller):
        caller = _caller(caller)
        nomination_id = _ref(contract.NominationRefSchema, nomination_id=nomination_id)
        with self.db.changes() as uow:
            operations.recheck_nomination(uow, nomination_id, caller, now_utc())
        return self._nomination(nomination_id, caller)

    @rpc
    def review_nomination(self, nomination_id, data, caller):
        caller = _caller(caller)
        nomination_id = _ref(contract.NominationRefSchema, nomination_id=nomination_id)
        review = load(contract.ReviewInSchema(), data, "review rejected")
        with self.db.changes() as uow:
            operations.review_nomination(uow, nomination_id, review, caller, now_utc())
        return self._nomination(nomination_id, caller)

    # --- judges and scores ------------------------------------------------------------

    @rpc
    def register_judge(self, round_id, data, caller):
        caller = _caller(caller)
        round_id = _ref(contract.RoundRefSchema, round_id=round_id)
        judge = load(contract.JudgeInSchema(), data, "judge rejected")
        with self.db.changes() as uow:
            registered = operations.register_judge(uow, round_id, judge, caller, now_utc())
        return self._read(contract.JudgeSchema(), views.round_judge, round_id,
                          registered["id"], caller)

    @rpc
    def judge_sheet(self, round_id, caller):
        caller = _caller(caller)
        round_id = _ref(contract.RoundRefSchema, round_id=round_id)
        return self._read(contract.JudgeSheetSchema(), views.judge_sheet, round_id, caller)

    @rpc
    def declare_conflict(self, round_id, data, caller):
        caller = _caller(caller)
        round_id = _ref(contract.RoundRefSchema, round_id=round_id)
        declared = load(contract.ConflictInSchema(), data, "declaration rejected")
        return self._change(contract.ConflictDeclaredSchema(), operations.declare_conflict,
                            round_id, declared, caller)

    @rpc
    def save_score(self, round_id, data, caller):
        """Saved once per ``score_id``: see ``operations.save_score``."""
        caller = _caller(caller)
        round_id = _ref(contract.RoundRefSchema, round_id=round_id)
        score = load(SCORE_IN, data, "score rejected")
        try:
            with self.db.unit_of_work() as uow:
                saved = operations.save_score(uow, round_id, score, caller, now_utc())
        except IntegrityError:
            # The same save racing itself (a resend while the first was in flight): the
            # first one won; answer with it.
            with self.db.unit_of_work() as uow:
                saved = operations.save_score(uow, round_id, score, caller, now_utc())
        return SCORE_SAVED.dump(saved)

    # --- results and objections -------------------------------------------------------

    @rpc
    def public_results(self, edition_id):
        edition_id = _ref(contract.EditionRefSchema, edition_id=edition_id)
        return self._read(contract.PublicResultsSchema(), views.public_results, edition_id,
                          now_utc())

    @rpc
    def lodge_objection(self, data, receipt_ref, source=None, idempotency=None):
        """Once per ``idempotency`` key (``shared.idempotency``). ``receipt_ref`` and
        ``source``: the gateway's keyed hashes of the receipt code it made and of the
        client's address (``ObjectionSubmissionSchema``); no answer holds a code."""
        objection = load(contract.ObjectionInSchema(), data, "objection rejected")
        how = load(contract.ObjectionSubmissionSchema(),
                   {"receipt_ref": receipt_ref, "source": source}, "objection rejected")
        with self.db.session() as session:
            hashed = operations.hash_receipt(session, how["receipt_ref"], tpool.execute)
        return self._once(idempotency, lambda uow: OBJECTION_LODGED.dump(
            operations.lodge_objection(uow, objection, hashed, how["source"], now_utc())))

    @rpc
    def objection_status(self, receipt_ref, source=None):
        lookup = load(contract.ObjectionLookupSchema(),
                      {"receipt_ref": receipt_ref, "source": source}, "lookup rejected")
        with self.db.changes() as uow:
            operations.count_lookup(uow, lookup["source"], now_utc())
        with self.db.session() as session:
            hashed = operations.hash_receipt(session, lookup["receipt_ref"], tpool.execute)
            return contract.ObjectionStatusSchema().dump(views.objection_status(session,
                                                                                hashed))

    @rpc
    def objections(self, edition_id, query, caller):
        caller = _caller(caller)
        edition_id = _ref(contract.EditionRefSchema, edition_id=edition_id)
        query = load(contract.ObjectionQuerySchema(), query or {}, "query parameters rejected")
        return self._read(contract.ObjectionPageSchema(), views.objections_page, edition_id,
                          caller, query)

    @rpc
    def decide_objection(self, objection_id, data, caller):
        caller = _caller(caller)
        objection_id = _ref(contract.ObjectionRefSchema, objection_id=objection_id)
        decision = load(contract.DecisionInSchema(), data, "decision rejected")
        return self._change(contract.ObjectionSchema(), operations.decide_objection,
                            objection_id, decision, caller)

    # --- honours, workers, statistics -------------------------------------------------

    @rpc
    def record_honour(self, data, caller):
        caller = _caller(caller)
        honour = load(contract.HonourInSchema(), data, "honour rejected")
        return self._change(contract.HonourRecordedSchema(), operations.record_honour, honour,
                            caller)

    @rpc
    def worker_record(self, worker_id, caller):
        caller = _caller(caller)
        worker_id = _ref(contract.WorkerRefSchema, worker_id=worker_id)
        return self._read(contract.WorkerRecordSchema(), views.worker_record, worker_id,
                          caller)

    @rpc
    def statistics(self, edition_id, caller, query=None):
        caller = _caller(caller)
        edition_id = _ref(contract.EditionRefSchema, edition_id=edition_id)
        query = load(contract.StatisticsQuerySchema(), query or {}, "query parameters rejected")
        return self._read(contract.EditionStatisticsSchema(), views.statistics, edition_id,
                          caller, query["code"])

    @timer(interval=NOTICE_POLL_SECONDS)
    def end_public_notices(self):
        """A public notice whose objection period has ended, with no objection left to
        decide, closes by itself and the awards are granted (``operations``)."""
        with self.db.unit_of_work() as uow:
            operations.end_public_notices(uow, now_utc())

    # --- first run --------------------------------------------------------------------

    @timer(interval=2)
    def load_sample_when_ready(self):
        """Loads the 2016 sample edition once asked (``gonghui up``) and the registry's
        district is in the read model."""
        sample.load_if_ready(self.db)

    # --- other services' events -------------------------------------------------------

    def on_registry_change(self, uow, kind, change):
        if kind == "enterprise":
            readmodel.enterprise_changed(uow, change, now_utc())

    def _apply(self, event, apply):
        with self.db.unit_of_work() as uow:
            if not uow.is_duplicate(event):
                apply(uow, event.data, readmodel.event_time(event), now_utc())

    def apply_membership_event(self, event, lapsed=False):
        """A nominee now at another union (a transfer), or who left or lapsed, is flagged:
        her nominating union may no longer be hers (``MembershipEventHandlers``)."""
        self._apply(event, readmodel.apply_memberships_lapsed if lapsed
                    else readmodel.apply_membership)

    @event_handler("disputes", "case_opened")
    def handle_case_opened(self, event):
        """A case graded major at a nominee's enterprise flags her nomination."""
        self._apply(event, readmodel.apply_case)

    @event_handler("disputes", "case_regraded")
    def handle_case_regraded(self, event):
        self._apply(event, readmodel.apply_case)

    @event_handler("disputes", "case_status_changed")
    def handle_case_status_changed(self, event):
        self._apply(event, readmodel.apply_case)

