"""Filing a report, once per request: the caller's ids checked, the receipt hashed, the
rate limits counted, then ``domain.submit_report`` in one unit of work.

No nameko here: the service passes its database access (``db``: sessions and units of
work), its rate limits and keys, and how to run a slow hash off the event loop.
"""

import logging

from sqlalchemy.exc import IntegrityError

from services.disputes import domain, identity, schemas
from shared.errors import Conflict, InvalidInput

log = logging.getLogger(__name__)


def file_report(db, data, *, officer_token=None, source=None, request_id=None,
                receipt_code=None, limits: dict, keys, run_slow=None) -> dict:
    """``request_id``: the caller's id for this submission; sent again (a retry, or the
    broker delivering the request twice, even after a restart or to another replica) it
    answers with the report already filed. ``receipt_code``: for an anonymous report, a
    fresh code the caller made, so that such an answer can carry it again (without one,
    a code is made here and a repeated answer cannot show it). ``limits``: scope ->
    (hits, window seconds). ``run_slow(fn, *args)`` runs the Argon2 hash."""
    report = schemas.load(schemas.ReportSchema(), data, "report rejected")
    now = domain.now_utc()
    receipt = receipt_hash = None
    if officer_token and report.get("identity"):
        raise InvalidInput("an officer's identity is on file; send no identity",
                           {"identity": ["only for anonymous reports"]})
    if request_id is not None and not (isinstance(request_id, str)
                                       and 8 <= len(request_id) <= 64):
        raise InvalidInput("a request id is a string of 8 to 64 characters",
                           {"request_id": ["8 to 64 characters"]})
    if officer_token and receipt_code:
        raise InvalidInput("an officer's report has no receipt code",
                           {"receipt_code": ["only for anonymous reports"]})
    if not officer_token:
        receipt = (identity.normalize_receipt(receipt_code) if receipt_code
                   else identity.new_receipt_code())
        # The slow hash runs outside the write transaction (the service runs it in a real
        # thread: Argon2 releases the GIL, and green threads keep running meanwhile).
        with db.session() as session:
            receipt_hash = identity.receipt_hash(session, receipt, run_slow)
    for attempt in (1, 2):
        try:
            with db.unit_of_work() as uow:
                filed = domain.filed_by_request(uow.session, request_id)
                if filed is None:
                    filed = (_file(uow, report, officer_token, source, now, receipt_hash,
                                   request_id, limits, keys), receipt_hash)
            result, filed_hash = filed
            break
        except IntegrityError:
            # Another replica opened a case for the same risk at the same moment (the
            # second try merges into it), or filed this very request (the second try
            # answers with that report).
            if attempt == 2:
                raise Conflict("the report collided with another; send it again") from None
            log.info("a report collided with another on the same risk; merging")
    if receipt and filed_hash == receipt_hash:  # not a code this report was not filed with
        result["receipt_code"] = identity.format_receipt(receipt)
    return result


def _file(uow, report, officer_token, source, now, receipt_hash, request_id, limits, keys):
    session = uow.session
    counted = []
    if officer_token:
        officer = identity.authenticate_officer(session, officer_token)
        counted.append(("officer", f"officer:{officer.id}", *limits["officer"]))
    source_key = identity.source_hash(session, source)
    if source_key:
        counted.append(("source", f"source:{source_key}", *limits["source"]))
    domain.check_rate(session, counted, now)
    if officer_token:
        informant = officer.id
    else:
        informant, _ = identity.register_informant(session, "anonymous", now,
                                                   identity=report.get("identity"), keys=keys)
    return domain.submit_report(uow, report, informant, now, receipt_hash, request_id)
