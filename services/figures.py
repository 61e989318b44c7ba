"""The seeds' figures (DOMAIN.md, the check table and sections 2-5), each asked of the
running service that owns it, over RPC, never of a database: ``gonghui figures``.

A figure is a row: where, what, the seed's value as the articles give it, how to read
the system's value out of a service's answer, and when the two agree ("3,000+" is at
least 3,000; "96%" is the rounded percentage; "nearly half" is 45% to 50%).
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from shared.caller import Caller

DISTRICT = "longgang"
BANTIAN = "longgang.bantian"
NANKENG = "longgang.bantian.nankeng"
ZHANGBEI = "longgang.longcheng.zhangbei"
EDITION = "2016"  # the competitions sample's edition
READER = Caller("figures", "viewer", DISTRICT)  # reads only, the whole district


@dataclass(frozen=True)
class Figure:
    place: str
    what: str
    seed: str  # as the articles say it
    ask: str  # the answer it is read from (``answers``): its first word, the service
    read: Callable[[dict], object]
    agrees: Callable[[object], bool]
    # Rows only a district-scale sample holds (``make run``'s default; skipped with a
    # smaller REGISTRY_SAMPLE_ENTERPRISES).
    district_scale: bool = False

    @property
    def service(self) -> str:
        """The service asked for it: ``registry``, ``membership``, ``disputes``..."""
        return self.ask.split()[0]


def exactly(value):
    return lambda got: got == value


def at_least(value):
    return lambda got: got is not None and got >= value


def percent(value):
    return lambda got: got is not None and round(got * 100) == value


def about(value, share=0.02):
    return lambda got: got is not None and abs(got - value) <= value * share


def year(answer, wanted) -> dict:
    return next((row for row in answer["by_year"] if row["year"] == wanted), {})


def since_reform(answer, key) -> int:
    """2015 plus early 2016 (DOMAIN.md section 3's reading of "since the reform")."""
    return year(answer, 2015).get(key, 0) + year(answer, 2016).get(key, 0)


def hub_grade(answer):
    hubs = [item for item in answer["items"] if item["hub"]]
    grade = hubs[0]["grade"] if hubs else None
    return grade["grade"] if isinstance(grade, dict) else grade


FIGURES = [
    Figure("南坑", "enterprises", "227", "registry nankeng",
           lambda a: a["enterprises"], exactly(227)),
    Figure("南坑", "workers", "about 10,200", "registry nankeng",
           lambda a: a["workers"], about(10_200)),
    Figure("南坑", "enterprises with their own union", "42", "registry nankeng",
           lambda a: a["own_union"], exactly(42)),
    Figure("南坑", "enterprises covered by the federation", "176", "registry nankeng",
           lambda a: a["covered"], exactly(176)),
    Figure("南坑", "establishment rate (建会率)", "96%", "registry nankeng",
           lambda a: a["establishment_rate"], percent(96)),
    Figure("南坑", "members", "9,525", "membership nankeng",
           lambda a: a["members"], exactly(9_525)),
    Figure("南坑", "join rate (入会率)", "93%", "membership nankeng",
           lambda a: a["join_rate"], percent(93)),
    Figure("南坑", "member cards (会员卡)", "500", "membership cards nankeng",
           lambda a: a["cards"], exactly(500)),
    Figure("南坑", "partner merchants (爱心商家)", "15", "membership merchants nankeng",
           len, exactly(15)),
    Figure("坂田", "enterprises", "3,000+", "registry bantian",
           lambda a: a["enterprises"], at_least(3_000)),
    Figure("坂田", "workers", "100,000+", "registry bantian",
           lambda a: a["workers"], at_least(100_000)),
    Figure("district", "market entities", "320,000+", "registry district",
           lambda a: a["enterprises"], at_least(320_000), district_scale=True),
    Figure("district", "workers", "2,000,000+", "registry district",
           lambda a: a["workers"], at_least(2_000_000), district_scale=True),
    Figure("district", "disputes with union part since the reform", "6,106",
           "disputes district", lambda a: since_reform(a, "disputes"), exactly(6_106)),
    Figure("district", "of them handled alone (独立调处)", "1,992", "disputes district",
           lambda a: since_reform(a, "alone"), exactly(1_992)),
    Figure("district", "disputes in 2014, before the reform", "about 3,264",
           "disputes district", lambda a: year(a, 2014).get("disputes"), exactly(3_264)),
    Figure("district", "handled alone in 2014", "about 318", "disputes district",
           lambda a: year(a, 2014).get("alone"), exactly(318)),
    Figure("district", "disputes in 2015", "3,900", "disputes district",
           lambda a: year(a, 2015).get("disputes"), exactly(3_900)),
    Figure("district", "2015 on 2014", "+19.5%", "disputes district",
           lambda a: year(a, 2015).get("change_percent"), exactly(19.5)),
    Figure("district", "handled alone in 2015", "1,272", "disputes district",
           lambda a: year(a, 2015).get("alone"), exactly(1_272)),
    Figure("district", "handled alone, 2015 on 2014", "4x", "disputes district",
           lambda a: year(a, 2015).get("alone_ratio_to_previous"), exactly(4.0)),
    Figure("district", "settled at community or enterprise level", "nearly 50%",
           "disputes district", lambda a: a["settled_locally_share"],
           lambda got: got is not None and 0.45 <= got < 0.5),
    Figure("嶂背", "enterprises visited in 2015", "336", "disputes zhangbei 2015",
           lambda a: a["visits"]["enterprises_visited"], exactly(336)),
    Figure("嶂背", "with irregular labour practice", "175", "disputes zhangbei 2015",
           lambda a: a["visits"]["enterprises_irregular"], exactly(175)),
    Figure("嶂背", "disputes mediated in 2015", "109", "disputes zhangbei 2015",
           lambda a: a["disputes"], exactly(109)),
    Figure("嶂背", "wage-flight cases (欠薪逃逸)", "9", "disputes zhangbei 2015",
           lambda a: a["wage_flight"]["cases"], exactly(9)),
    Figure("嶂背", "people in them", "193", "disputes zhangbei 2015",
           lambda a: a["wage_flight"]["workers"], exactly(193)),
    Figure("嶂背", "yuan owed in them", "1.9 million", "disputes zhangbei 2015",
           lambda a: Decimal(str(a["wage_flight"]["amount_owed"])),
           exactly(Decimal(1_900_000))),
    Figure("南坑", "disputes mediated in 2015", "16", "disputes nankeng 2015",
           lambda a: a["disputes"], exactly(16)),
    Figure("district", "street finalists, 职工之星 2016", "200+", "competitions 2016",
           lambda a: a["finalists"], at_least(200)),
    Figure("district", "social organizations incubated", "41", "incubation district",
           lambda a: a["organizations"]["by_stage"].get("graduated", 0), exactly(41)),
    Figure("district", "activities of the organizations", "1,000+", "incubation district",
           lambda a: a["activities"]["activities"], at_least(1_000)),
    Figure("district", "workers they reached", "100,000+", "incubation district",
           lambda a: a["activities"]["workers_reached"], at_least(100_000)),
    Figure("district", "the hub's grade", "4A", "incubation hub", hub_grade, exactly("4A")),
]


def _all_pages(call) -> list:
    items, cursor = [], None
    while True:
        page = call(cursor)
        items += page["items"]
        if (cursor := page["next_cursor"]) is None:
            return items


def answers(rpc, caller: Caller = READER) -> dict:
    """What each row is read from: one call per answer (``rpc``: a ``ClusterRpcProxy``, or
    anything with the five services' proxies as attributes). Disputes, competitions and
    incubation check ``caller``'s scope themselves; registry and membership counters are
    public."""
    # Only who they are: a gateway user (a Caller) carries its row's id along as well.
    reader = Caller(caller.name, caller.role, caller.organization_code).as_dict()
    return {
        "registry nankeng": lambda: rpc.registry.statistics(NANKENG),
        "registry bantian": lambda: rpc.registry.statistics(BANTIAN),
        "registry district": lambda: rpc.registry.statistics(DISTRICT),
        "membership nankeng": lambda: rpc.membership.join_rate(NANKENG),
        "membership cards nankeng": lambda: rpc.membership.cards_held(NANKENG),
        "membership merchants nankeng": lambda: _all_pages(lambda cursor: rpc.membership.merchants(
            {"code": NANKENG, "cursor": cursor, "limit": 500})),
        "disputes district": lambda: rpc.disputes.statistics(reader, DISTRICT),
        "disputes zhangbei 2015": lambda: rpc.disputes.statistics(reader, ZHANGBEI, 2015),
        "disputes nankeng 2015": lambda: rpc.disputes.statistics(reader, NANKENG, 2015),
        "competitions 2016": lambda: rpc.competitions.statistics(EDITION, reader,
                                                                  {"code": DISTRICT}),
        "incubation district": lambda: rpc.incubation.statistics(
            {"code": DISTRICT, "period": "all"}, reader),
        "incubation hub": lambda: {"items": _all_pages(
            lambda cursor: rpc.incubation.list_organizations(
                {"code": DISTRICT, "cursor": cursor, "limit": 500}, reader))},
    }


def attempt(call) -> tuple:
    """(answer, None), or (None, the error) when the call failed."""
    try:
        return call(), None
    except Exception as exc:  # noqa: BLE001 - any failure is reported in its row
        return None, f"{exc.__class__.__name__}: {exc}"[:200]


def one_by_one(calls: dict) -> dict:
    """Each answer's (answer, error), asked in turn."""
    return {name: attempt(call) for name, call in calls.items()}


def report(rpc, district_scale: bool | None = None, caller: Caller = READER,
           gather: Callable[[dict], dict] = one_by_one) -> list[dict]:
    """Every row with the system's value and whether it agrees, asked as ``caller`` (the
    CLI: ``READER``; the console: the signed-in user). A call that fails gives its rows
    the error (they disagree, ``available`` False). Rows of the district-scale sample are
    skipped (``agrees`` None) unless the registry holds one or ``district_scale`` is True.
    ``gather`` asks the calls (name -> call) and gives name -> (answer, error): the
    console asks them all at once (``attempt`` each)."""
    answered = gather(answers(rpc, caller))
    if district_scale is None:
        district, _ = answered["registry district"]
        district_scale = bool(district) and district["enterprises"] >= 320_000
    rows = []
    for figure in FIGURES:
        row = {"place": figure.place, "figure": figure.what, "seed": figure.seed}
        if figure.district_scale and not district_scale:
            got, _ = answered[figure.ask]
            rows.append(dict(row, system=_plain(figure.read(got)) if got else None,
                             agrees=None, available=bool(got),
                             note="district-scale sample only"))
            continue
        got, error = answered[figure.ask]
        if error:
            rows.append(dict(row, system=None, agrees=False, available=False, note=error))
            continue
        try:
            value = figure.read(got)
        except (KeyError, TypeError, IndexError) as exc:
            rows.append(dict(row, system=None, agrees=False, available=False,
                             note=f"no such figure: {exc}"))
            continue
        rows.append(dict(row, system=_plain(value), agrees=bool(figure.agrees(value)),
                         available=True, note=None))
    return rows


def _plain(value):
    """JSON-ready: a Decimal as its digits, a share as a percentage to one place."""
    if isinstance(value, Decimal):
        return str(value)
    return value


def shown(rows: list[dict]) -> list[dict]:
    """The rows as ``gonghui figures`` prints them (``shared.cli.show``)."""
    return [{"place": row["place"], "figure": row["figure"], "seed": row["seed"],
             "system": shown_value(row["system"]),
             "agrees": {True: "yes", False: "NO", None: "skipped"}[row["agrees"]]
             + (f" ({row['note']})" if row.get("note") else "")} for row in rows]


def shown_value(value) -> str:
    """A system's value as the CLI and the console page show it: 10,200, 96.04%."""
    if value is None:
        return "-"
    if isinstance(value, float) and value < 1:
        return f"{value:.2%}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
