"""Dispute statistics for any district, street or community subtree.

A *dispute* here is a case the unions took part in handling (调处): one that reached
``handling`` and so has a handling tier. Years are calendar years in China time, of the
day the case was opened. Figures carry no informant data, only counts and sums.

    by_year        disputes, handled alone (独立调处) and jointly per year, with the
                   change on the year before: ``change_percent`` (district 2015:
                   +19.5) and ``alone_ratio_to_previous`` (4.0)
    by_tier        district / street / community / enterprise
    settled_locally_share  handled at community or enterprise level / all disputes
    wage_flight    boss-absconded cases (欠薪逃逸): cases, workers, amount owed
    visits         enterprises visited (走访/回访/约谈) and those with irregular practice
"""

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import distinct, func, or_, select

from services.disputes.domain import from_fen
from services.disputes.models import cases, visits


def _scoped(query, table, code):
    if code:
        query = query.where(or_(table.c.district_code == code, table.c.street_code == code,
                                table.c.community_code == code))
    return query


def _ratio(part, whole, places=4):
    return round(part / whole, places) if whole else None


def _percent(part, whole):
    if not whole:
        return None
    return float((Decimal(part) * 100 / whole).quantize(Decimal("0.1"), ROUND_HALF_UP))


def statistics(session, code: str | None = None, year: int | None = None) -> dict:
    handled = cases.c.handled_by_tier.is_not(None)

    def disputes(*columns):
        query = _scoped(select(*columns, func.count()).where(handled), cases, code)
        return query.group_by(*columns) if columns else query

    by_year_rows = session.execute(
        disputes(cases.c.opened_year, cases.c.joint).order_by(cases.c.opened_year)
    ).all()
    years = {}
    for row_year, joint, count in by_year_rows:
        entry = years.setdefault(row_year, {"year": row_year, "disputes": 0, "alone": 0,
                                            "joint": 0})
        entry["disputes"] += count
        entry["joint" if joint else "alone"] += count
    by_year = []
    for row_year in sorted(years):
        entry = years[row_year]
        before = years.get(row_year - 1)
        entry["change_percent"] = (_percent(entry["disputes"] - before["disputes"],
                                            before["disputes"]) if before else None)
        entry["alone_ratio_to_previous"] = (_ratio(entry["alone"], before["alone"], 2)
                                            if before else None)
        by_year.append(entry)

    def in_year(query, table_year):
        return query.where(table_year == year) if year is not None else query

    def grouped(column):
        rows = session.execute(in_year(disputes(column), cases.c.opened_year)).all()
        return {key: count for key, count in rows if key is not None}

    by_tier = grouped(cases.c.handled_by_tier)
    total = sum(by_tier.values())
    joint_counts = grouped(cases.c.joint)
    wage_flight = session.execute(in_year(_scoped(
        select(func.count(), func.coalesce(func.sum(cases.c.workers_affected), 0),
               func.coalesce(func.sum(cases.c.amount_owed_fen), 0))
        .where(cases.c.category == "boss_absconded", cases.c.status != "rejected"),
        cases, code), cases.c.opened_year)).one()
    visit_figures = session.execute(in_year(_scoped(
        select(func.count(), func.count(distinct(visits.c.enterprise_key))), visits, code),
        visits.c.year)).one()
    irregular = session.execute(in_year(_scoped(
        select(func.count(distinct(visits.c.enterprise_key)))
        .where(visits.c.irregular_practice.is_(True)), visits, code), visits.c.year)).scalar()
    return {
        "code": code,
        "year": year,
        "disputes": total,
        "alone": joint_counts.get(False, 0),
        "joint": joint_counts.get(True, 0),
        "by_tier": by_tier,
        "by_street": grouped(cases.c.street_code),
        "by_category": grouped(cases.c.category),
        "settled_locally_share": _ratio(by_tier.get("community", 0)
                                        + by_tier.get("enterprise", 0), total),
        "by_year": by_year,
        "wage_flight": {"cases": wage_flight[0], "workers": int(wage_flight[1]),
                        "amount_owed": from_fen(int(wage_flight[2] or Decimal(0)))},
        "visits": {"visits": visit_figures[0], "enterprises_visited": visit_figures[1],
                   "enterprises_irregular": irregular},
    }
