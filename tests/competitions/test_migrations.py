from sqlalchemy import create_engine, text

from services.competitions.models import metadata
from services.competitions.service import MIGRATIONS
from shared.db import migrate
from shared.testing import schema_differences

AT = "2016-05-12 03:00:00+00"
BEFORE_0004 = [
    "INSERT INTO editions (id, year, title, district_code, rules_version, created_at, "
    f"created_by) VALUES ('2016', 2016, '职工之星', 'longgang', 1, '{AT}', 'admin')",
    "INSERT INTO nominations (edition_id, group_code, worker_id, name, "
    "enterprise_credit_code, path, path_key, nominated_by, statement, attachments, facts, "
    "status, failed_rules, rules_version, submitted_at, submitted_by, checked_at) VALUES "
    "('2016', 'innovation', 1, '职工1', 'X', '[]', '/', 'u', 's', '[]', '{}', 'qualified', "
    f"'[]', 1, '{AT}', 'u', '{AT}')",
    "INSERT INTO awards (edition_id, nomination_id, worker_id, group_code, rank, status, "
    f"moved_up, granted_at) VALUES ('2016', 1, 1, 'innovation', 1, 'announced', false, '{AT}')",
    # Argon2id of the code itself, as 0003 kept it: no lookup makes it any more
    "INSERT INTO objections (edition_id, award_id, reason, receipt_hash, status, lodged_at) "
    f"VALUES ('2016', 1, '成果系他人完成', '{'ab' * 32}', 'lodged', '{AT}')",
]


def test_the_migrations_build_exactly_the_tables_of_the_models(db_url):
    assert schema_differences(db_url, metadata, MIGRATIONS) == []


def test_0004_clears_the_hashes_of_codes_made_before_codes_stopped_crossing_the_broker(
        db_url):
    migrate(db_url, MIGRATIONS, revision="0003")
    engine = create_engine(db_url)
    with engine.begin() as connection:
        for statement in BEFORE_0004:
            connection.execute(text(statement))
    migrate(db_url, MIGRATIONS)
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT reason, receipt_hash FROM objections")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [("成果系他人完成", None)]  # kept, no hash
