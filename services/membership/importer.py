"""Bulk import of members (paper records, another system's export) from CSV.

    gonghui membership import members.csv --report errors.csv

Columns (header row, any order, extra columns ignored): ``name``, ``id_number``,
``phone`` (may be empty), ``enterprise_credit_code``. Each good row becomes a worker with
an active membership (channel ``import``) at the union of its enterprise. A bad row is
skipped and reported as ``line,field,message``; the report never repeats ID numbers or
phones. Imported members get no card: cards are issued on request (in the 南坑 pilot 500
cards went to 9,525 members).

Speed: rows are checked in Python and written in batches, each its own transaction with
one ``members_imported`` event (counts per union) and one ``member_batch_imported`` (each
membership's ids under its enterprise and place, for other services' read models); no
personal data in either. PostgreSQL
gets ``COPY``; SQLite gets ``executemany`` on the raw connection. The enterprises of the
read model are held in memory for the run.
"""

import csv
import json
import queue
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import String, any_, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError

from services.membership import domain, readmodel
from services.membership.models import enterprises, imports, memberships, workers
from shared.db import can_copy, copy_text
from shared.errors import InvalidInput
from shared.timeutil import now_utc

REQUIRED = ("name", "id_number", "phone", "enterprise_credit_code")
WORKER_ID_HASH_KEY = "workers_id_hash_key"  # PostgreSQL's name for UNIQUE (id_hash)
BATCH = 20_000


@dataclass
class ImportResult:
    import_id: int
    rows: int = 0
    imported: int = 0
    rejected: int = 0
    batches: int = 0
    errors: list = field(default_factory=list)  # first few (line, field, message)
    seconds: dict = field(default_factory=dict)  # phase -> wall seconds

    def as_dict(self):
        return {"import_id": self.import_id, "rows": self.rows, "imported": self.imported,
                "rejected": self.rejected, "batches": self.batches}


class Importer:
    def __init__(self, database, keys, report=None, batch_size=BATCH, progress=None,
                 checker_process=False, writers=1, initial_load=False):
        self.db = database
        self.keys = keys
        self.report = report  # a csv.writer, or None
        self.batch_size = batch_size
        self.progress = progress  # a tqdm-like object with update(n), or None
        # Check rows in a forked process while this one writes: two cores, both busy.
        # Not inside an eventlet service (forking a green process is asking for trouble).
        self.checker_process = checker_process
        # PostgreSQL: batches written on this many connections at once (each batch is
        # still its own transaction). SQLite has one writer, so 1 there.
        self.writers = writers
        # Into an empty PostgreSQL database: one transaction that builds the indexes
        # after the rows are in (see ``_initial_load``).
        self.initial_load = initial_load
        self._lock = threading.Lock()  # result, report and timings, shared by writers
        self.enterprises = {}  # credit code -> (status, union code)
        self.targets = {}  # credit code -> organizations counting its members
        self.paths = {}  # credit code -> its path (district .. community)
        self.seen = {}  # id hash -> line, over the whole file
        self.seconds = Counter()  # phase -> wall seconds: where an import spends its time

    def run(self, rows, source: str) -> ImportResult:
        """``rows``: an iterator of lists, the first being the header."""
        header = next(rows, None)
        columns = self._columns(header)
        self._load_enterprises()
        with self.db.unit_of_work() as uow:
            import_id = uow.session.execute(insert(imports).values(source=source[:300])
                                            .returning(imports.c.id)).scalar()
        result = ImportResult(import_id)
        state = (self.keys, self.enterprises, columns)
        checked = (_checked_in_process(rows, self.batch_size, state) if self.checker_process
                   else (_check_rows(batch, state) for batch in _batches(rows,
                                                                        self.batch_size)))
        writers = self.writers if self.db.engine.dialect.name == "postgresql" else 1
        if self.initial_load and self._empty_postgres():
            self._initial_load(checked, result)
        elif writers == 1:
            started = time.perf_counter()
            for size, good, rejects in checked:
                started = self._lap("check rows, hash and seal (waiting for them)", started)
                self._commit(size, self._screen(size, good, rejects, result), result)
                started = time.perf_counter()
        else:
            self._write_in_threads(checked, writers, result)
        result.seconds = {phase: round(t, 2) for phase, t in self.seconds.items()}
        with self.db.unit_of_work() as uow:
            uow.session.execute(update(imports).where(imports.c.id == import_id).values(
                rows=result.rows, imported=result.imported, rejected=result.rejected,
                finished_at=now_utc()))
        return result

    def _write_in_threads(self, checked, writers, result):
        with ThreadPoolExecutor(writers, thread_name_prefix="import-writer") as pool:
            pending = deque()
            started = time.perf_counter()
            for size, good, rejects in checked:
                started = self._lap("check rows, hash and seal (waiting for them)", started)
                unique = self._screen(size, good, rejects, result)
                pending.append(pool.submit(self._commit, size, unique, result))
                while len(pending) >= writers:  # bounded: at most one batch per writer
                    pending.popleft().result()
                started = time.perf_counter()
            for future in pending:
                future.result()

    @staticmethod
    def _columns(header):
        if not header:
            raise InvalidInput("the file is empty; it needs a header row: " + ",".join(REQUIRED))
        names = [name.strip().lstrip("\ufeff").lower() for name in header]
        missing = [name for name in REQUIRED if name not in names]
        if missing:
            raise InvalidInput(f"the header lacks column(s): {', '.join(missing)}",
                               {"missing": missing, "found": names[:20]})
        return [names.index(name) for name in REQUIRED]

    def _load_enterprises(self):
        with self.db.session() as session:
            for row in session.execute(select(
                    enterprises.c.credit_code, enterprises.c.status, enterprises.c.union_code,
                    enterprises.c.community_code, enterprises.c.path)):
                self.enterprises[row.credit_code] = (
                    row.status, row.union_code or row.community_code)
                self.targets[row.credit_code] = domain.stats_targets(
                    {"path": row.path, "union_code": row.union_code})
                self.paths[row.credit_code] = list(row.path)

    def _reject(self, result, line, field_, message):
        result.rejected += 1
        if len(result.errors) < 100:
            result.errors.append((line, field_, message))
        if self.report is not None:
            self.report.writerow((line, field_, message))

    def _lap(self, phase, started):
        now = time.perf_counter()
        with self._lock:
            self.seconds[phase] += now - started
        return now

    def _empty_postgres(self) -> bool:
        if self.db.engine.dialect.name != "postgresql" or not can_copy():
            return False
        with self.db.session() as session:
            return not any(session.execute(select(table.c.id).limit(1)).first()
                           for table in (workers, memberships))

    def _initial_load(self, checked, result):
        """The first import into an empty database: lock both tables, drop their secondary
        indexes, COPY every batch, then build the indexes (a sort, far cheaper than 2M
        random index inserts) and apply the counters once.

        Workers and memberships go in on two connections at once, so that PostgreSQL
        works on both cores; each connection is one transaction, committed together at the
        end (memberships first; if the workers' commit then fails, the memberships table,
        empty before, is emptied again). Requests touching members wait until it commits:
        meant for the first load of a district's records."""
        line = _MembershipLine(self.db)
        line.start()
        try:
            with self.db.unit_of_work() as uow:
                session = uow.session
                _take_empty(session, workers)
                session.execute(text(f"ALTER TABLE workers DROP CONSTRAINT "
                                     f"{WORKER_ID_HASH_KEY}"))
                line.ready.wait()
                if line.failure:
                    raise line.failure
                counts = Counter()
                started = time.perf_counter()
                for size, good, rejects in checked:
                    started = self._lap("check rows, hash and seal (waiting for them)",
                                        started)
                    fresh = self._screen(size, good, rejects, result)
                    made = self._store(session, fresh, [], True, members_later=line.put)
                    started = self._lap("write workers and memberships", started)
                    counts.update(row[4] for row in fresh)
                    batch = Counter(row[5] for row in fresh)
                    result.imported += len(fresh)
                    result.batches += 1
                    uow.publish("members_imported", {
                        "import_id": result.import_id, "batch": result.batches,
                        "imported": len(fresh), "rejected": result.rejected,
                        "counts": dict(sorted(batch.items()))},
                        subject=str(result.import_id))
                    self._publish_members(uow, result.import_id, result.batches, made)
                    started = self._lap("publish the batch event", started)
                    if self.progress is not None:
                        self.progress.update(size)
                line.put(None)  # no more: it builds its indexes meanwhile
                session.execute(text(f"ALTER TABLE workers ADD CONSTRAINT "
                                     f"{WORKER_ID_HASH_KEY} UNIQUE (id_hash)"))
                readmodel.add_members_bulk(session, counts, self.targets)
                line.commit()  # waits for its COPYs and indexes, then commits
                started = self._lap("build the indexes, commit the memberships", started)
        except BaseException:
            line.abort()
            if line.committed:  # the workers' side failed after memberships committed
                with self.db.unit_of_work() as uow:
                    uow.session.execute(text("TRUNCATE memberships"))
            raise
        self._lap("commit the workers", started)

    def _screen(self, size, good, rejects, result):
        """Report a batch's bad rows, in line order; its good rows minus people already
        seen earlier in the file (the check runs batch by batch, so this is done here)."""
        result.rows += size
        rejects = list(rejects)
        unique = []
        for row in good:
            first = self.seen.setdefault(row[2], row[0])
            if first != row[0]:
                rejects.append((row[0], "id_number", f"same ID number as line {first}"))
            else:
                unique.append(row)
        with self._lock:
            for line, field_, message in sorted(rejects):
                self._reject(result, line, field_, message)
        return unique

    def _commit(self, size, unique, result):
        if unique:
            with self.db.unit_of_work() as uow:
                self._write(uow, unique, result)
                started = time.perf_counter()
            self._lap("commit", started)
        if self.progress is not None:
            with self._lock:
                self.progress.update(size)

    def _write(self, uow, good, result):
        session = uow.session
        postgres = session.get_bind().dialect.name == "postgresql"
        started = time.perf_counter()
        fresh, again = None, []
        if postgres and can_copy():
            # Optimistic: most imported people are new, and the unique index on id_hash
            # says so for free. Only a batch holding a known worker pays for the lookup.
            try:
                with session.begin_nested():
                    made = self._store(session, good, [], postgres)
                fresh = good
            except (IntegrityError, psycopg2_errors().UniqueViolation):
                fresh = None
        if fresh is None:
            fresh, again = self._split_known(session, good, result)
            started = self._lap("look up known workers", started)
            made = self._store(session, fresh, again, postgres)
        started = self._lap("write workers and memberships", started)
        counts = Counter(row[4] for row in fresh)
        counts.update(row[4] for _, row in again)
        readmodel.add_members_bulk(session, counts, self.targets)
        unions = Counter(row[5] for row in fresh)
        unions.update(row[5] for _, row in again)
        started = self._lap("update join-rate counters", started)
        imported = len(fresh) + len(again)
        with self._lock:
            result.imported += imported
            result.batches += 1
            batch, rejected = result.batches, result.rejected
        uow.publish("members_imported", {
            "import_id": result.import_id, "batch": batch, "imported": imported,
            "rejected": rejected, "counts": dict(sorted(unions.items()))},
            subject=str(result.import_id))
        self._publish_members(uow, result.import_id, batch, made)
        self._lap("publish the batch event", started)

    def _publish_members(self, uow, import_id, batch, member_rows):
        """``member_batch_imported``: the batch's memberships (``_store``'s rows) by
        enterprise, ids and places only, for other services' member read models."""
        if not member_rows:
            return
        by_enterprise = {}
        for membership_id, worker_id, union_code, credit_code, *_ in member_rows:
            found = by_enterprise.get(credit_code)
            if found is None:
                found = by_enterprise[credit_code] = {
                    "union_code": union_code, "organization_path": self.paths[credit_code],
                    "members": []}
            found["members"].append([worker_id, membership_id])
        uow.publish("member_batch_imported", {"import_id": import_id, "batch": batch,
                                              "enterprises": by_enterprise},
                    subject=str(import_id))

    def _split_known(self, session, good, result):
        """Workers already known (an earlier import, an application) are fine unless they
        hold a current membership, which would make two unions at once."""
        existing = self._existing(session, [row[2] for row in good])
        fresh, again = [], []
        for row in good:
            found = existing.get(row[2])
            if found is None:
                fresh.append(row)
            elif found[1]:
                with self._lock:
                    self._reject(result, row[0], "id_number",
                                 f"already a member (membership {found[1]}); transfer "
                                 "instead")
            else:
                again.append((found[0], row))
        return fresh, again

    def _store(self, session, fresh, again, postgres, members_later=None):
        """New workers plus an active membership for each of ``fresh`` and ``again``;
        returns the memberships' rows (id, worker id, union, credit code, ...)."""
        worker_ids = self._ids(session, "workers", len(fresh), postgres)
        membership_ids = self._ids(session, "memberships", len(fresh) + len(again), postgres)
        now = now_utc()
        worker_rows = [(wid, row[1], row[2], row[3]) for wid, row in zip(worker_ids, fresh,
                                                                           strict=True)]
        member_rows = [
            (mid, wid, row[5], row[4], "active", "import", now)
            for mid, (wid, row) in zip(membership_ids,
                                       [*zip(worker_ids, fresh, strict=True), *again],
                                       strict=True)]
        if postgres and can_copy():
            worker_text, member_text = _copy_texts(worker_rows, member_rows)
            if members_later is not None:  # the initial load copies them on its own line
                copy_text(session, WORKER_COLUMNS, worker_text)
                members_later(member_text)
                return member_rows
            copy_text(session, WORKER_COLUMNS, worker_text)
            copy_text(session, MEMBERSHIP_COLUMNS, member_text)
        elif postgres:  # inside an eventlet process: psycogreen forbids COPY
            session.execute(insert(workers), [dict(zip(("id", "name", "id_hash", "sealed"),
                                                       row, strict=True))
                                              for row in worker_rows])
            session.execute(insert(memberships), [dict(zip(
                ("id", "worker_id", "union_code", "enterprise_credit_code", "status",
                 "channel", "decided_at"), row, strict=True)) for row in member_rows])
        else:
            raw = session.connection().connection.dbapi_connection
            raw.executemany("INSERT INTO workers (id, name, id_hash, sealed) VALUES "
                            "(?, ?, ?, ?)", worker_rows)
            raw.executemany("INSERT INTO memberships (id, worker_id, union_code, "
                            "enterprise_credit_code, status, channel, decided_at) VALUES "
                            "(?, ?, ?, ?, ?, ?, ?)",
                            [(*row[:6], row[6].isoformat(sep=" ")) for row in member_rows])
        return member_rows

    @staticmethod
    def _existing(session, hashes):
        """id hash -> (worker id, current membership id or None) for known workers."""
        current = (memberships.c.worker_id == workers.c.id) & memberships.c.status.in_(
            domain.CURRENT)
        query = select(workers.c.id_hash, workers.c.id, memberships.c.id).join(
            memberships, current, isouter=True)
        if session.get_bind().dialect.name == "postgresql":
            # one array parameter: an IN list of 20,000 would be compiled bind by bind
            chunks = [query.where(workers.c.id_hash == any_(
                bindparam("hashes", hashes, type_=ARRAY(String))))]
        else:
            chunks = [query.where(workers.c.id_hash.in_(hashes[start:start + 5000]))
                      for start in range(0, len(hashes), 5000)]
        found = {}
        for chunk in chunks:
            for id_hash, worker_id, membership_id in session.execute(chunk):
                found[id_hash] = (worker_id, membership_id)
        return found

    @staticmethod
    def _ids(session, table, count, postgres):
        if not count:
            return []
        if postgres:  # the raw cursor: SQLAlchemy's row objects cost more than the query
            cursor = session.connection().connection.dbapi_connection.cursor()
            cursor.execute(f"SELECT nextval('{table}_id_seq') FROM generate_series(1, %s)",
                           (count,))
            ids = [row[0] for row in cursor.fetchall()]
            cursor.close()
            return ids
        # SQLite: this transaction already holds the write lock (the outbox or a previous
        # statement wrote), so nobody else can take these numbers meanwhile.
        session.execute(text("UPDATE imports SET rows = rows WHERE 0"))
        start = session.execute(select(func.coalesce(func.max(text("id")), 0))
                                .select_from(text(table))).scalar()
        return range(start + 1, start + count + 1)


def _take_empty(session, table):
    session.execute(text(f"LOCK TABLE {table.name} IN ACCESS EXCLUSIVE MODE"))
    if session.execute(select(table.c.id).limit(1)).first():
        raise InvalidInput(f"{table.name} is not empty: an initial load needs an empty "
                           "database; import without it")
    session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))


class _MembershipLine(threading.Thread):
    """The memberships half of an initial load, on its own connection and transaction."""

    def __init__(self, database):
        super().__init__(name="initial-load-memberships", daemon=True)
        self.db = database
        self.queue = queue.Queue(maxsize=3)
        self.ready = threading.Event()
        self.done = threading.Event()
        self.go = threading.Event()
        self.failure = None
        self.aborted = False
        self.committed = False

    def put(self, text_rows):
        if self.failure:
            raise self.failure
        self.queue.put(text_rows)

    def run(self):
        try:
            with self.db.session() as session:
                _take_empty(session, memberships)
                bind = session.connection()
                for index in memberships.indexes:
                    index.drop(bind)
                self.ready.set()
                while (text_rows := self.queue.get()) is not None:
                    copy_text(session, MEMBERSHIP_COLUMNS, text_rows)
                for index in memberships.indexes:
                    index.create(bind)
                self.done.set()
                self.go.wait()
                if self.aborted:
                    session.rollback()
                    return
                session.commit()
                self.committed = True
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self.failure = exc
        finally:
            self.ready.set()
            self.done.set()

    def commit(self):
        self.done.wait()
        if self.failure:
            raise self.failure
        self.go.set()
        self.join()
        if self.failure:
            raise self.failure

    def abort(self):
        self.aborted = True
        while self.is_alive():
            try:
                self.queue.put_nowait(None)
            except queue.Full:
                pass
            self.go.set()
            self.join(timeout=0.1)


def _batches(rows, size):
    batch = []
    for line, row in enumerate(rows, start=2):
        batch.append((line, row))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _check_rows(batch, state):
    """(rows read, good rows, rejects) for one batch. Good rows are (line, name, id_hash,
    sealed, credit_code, union_code); rejects (line, field, message)."""
    keys, known, columns = state
    i_name, i_id, i_phone, i_credit = columns
    width = max(columns) + 1
    id_problem, phone_problem = domain.id_number_problem, domain.phone_problem
    good, rejects = [], []
    for line, row in batch:
        if len(row) < width:
            rejects.append((line, "row", f"has {len(row)} columns, needs {width}"))
            continue
        name = row[i_name].strip()
        if not name or len(name) > 100 or not name.isprintable():
            rejects.append((line, "name", "required, printable, at most 100 characters"))
            continue
        id_number = row[i_id].strip().upper()
        problem = id_problem(id_number)
        if problem:
            rejects.append((line, "id_number", problem))
            continue
        phone = row[i_phone].strip() or None
        if phone is not None and phone_problem(phone):
            rejects.append((line, "phone", phone_problem(phone)))
            continue
        credit = row[i_credit].strip()
        enterprise = known.get(credit)
        if enterprise is None:
            rejects.append((line, "enterprise_credit_code",
                            "enterprise not known to the registry"))
            continue
        if enterprise[0] != "active":
            rejects.append((line, "enterprise_credit_code", "enterprise is closed"))
            continue
        good.append((line, name, keys.lookup_hash(id_number), keys.seal(id_number, phone),
                     credit, enterprise[1]))
    return len(batch), good, rejects


def _checked_in_process(rows, size, state, depth=3):
    """``_check_rows`` over the batches, in a forked child that reads ``rows`` itself;
    at most ``depth`` checked batches wait in the pipe (bounded memory)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue(maxsize=depth)

    def produce():
        try:
            for batch in _batches(rows, size):
                queue.put(_check_rows(batch, state))
            queue.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the parent to raise
            queue.put(("failed", repr(exc)))

    child = context.Process(target=produce, daemon=True)
    child.start()
    try:
        while True:
            item = queue.get()
            if item is None:
                break
            if item[0] == "failed":
                raise RuntimeError(f"checking rows failed: {item[1]}")
            yield item
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


def psycopg2_errors():
    import psycopg2.errors

    return psycopg2.errors


WORKER_COLUMNS = "workers (id, name, id_hash, sealed)"
MEMBERSHIP_COLUMNS = ("memberships (id, worker_id, union_code, enterprise_credit_code, status, "
                      "channel, decided_at)")


def _copy_texts(worker_rows, member_rows):
    """Both tables' rows in COPY's text format (str.join: csv.writer was the bottleneck)."""
    stamp = member_rows[0][6].isoformat() if member_rows else ""
    return ("".join(f"{wid}\t{_escape(name)}\t{id_hash}\t\\\\x{sealed.hex()}\n"
                    for wid, name, id_hash, sealed in worker_rows),
            "".join(f"{mid}\t{wid}\t{_escape(union)}\t{_escape(credit)}\tactive\timport\t"
                    f"{stamp}\n" for mid, wid, union, credit, *_ in member_rows))


def _escape(value: str) -> str:
    """A value for COPY's text format (tabs and newlines never pass the row checks)."""
    return value.replace("\\", "\\\\") if "\\" in value else value


def count_lines(path) -> int:
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def import_file(database, keys, path, report_path=None, batch_size=BATCH, progress=True,
                out=None, checker_process=False, writers=1,
                initial_load=False) -> ImportResult:
    """Import a CSV file, writing the per-row error report to ``report_path``."""
    from tqdm import tqdm

    bar = tqdm(total=max(count_lines(path) - 1, 0), unit="rows", unit_scale=True,
               disable=not progress, file=out, mininterval=0.5)
    report_file = open(report_path, "w", newline="", encoding="utf-8") if report_path else None
    try:
        report = None
        if report_file is not None:
            report = csv.writer(report_file)
            report.writerow(("line", "field", "message"))
        with open(path, newline="", encoding="utf-8-sig") as handle:
            importer = Importer(database, keys, report, batch_size, bar, checker_process,
                                writers, initial_load)
            return importer.run(iter(csv.reader(handle)), str(path))
    finally:
        bar.close()
        if report_file is not None:
            report_file.close()


def summary(result: ImportResult) -> str:
    return json.dumps(result.as_dict())
