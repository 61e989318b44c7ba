"""`gonghui figures`' rows: a figure off by one, a service that does not answer and the
district-scale rows each say so (the end-to-end run is tests/e2e/test_figures.py)."""

from types import SimpleNamespace

from services.figures import FIGURES, READER, report, shown
from shared.caller import Caller
from shared.cli import table


def answering(**services):
    """An RPC proxy whose services answer as given (``name=SimpleNamespace(method=...)``)."""
    return SimpleNamespace(**services)


def unavailable(*_args, **_kwargs):
    raise TimeoutError("no answer")


def test_each_row_says_whether_the_service_agrees_and_why_not():
    registry = {"enterprises": 227, "workers": 10_200, "own_union": 42, "covered": 175,
                "establishment_rate": 0.9604}
    rpc = answering(
        registry=SimpleNamespace(statistics=lambda code: registry),
        membership=SimpleNamespace(join_rate=unavailable, cards_held=unavailable,
                                   merchants=unavailable),
        disputes=SimpleNamespace(statistics=unavailable),
        competitions=SimpleNamespace(statistics=lambda *a: {"finalists": 230}),
        incubation=SimpleNamespace(statistics=unavailable, list_organizations=unavailable))
    rows = {(row["place"], row["figure"]): row for row in report(rpc)}
    assert len(rows) == len(FIGURES)
    assert rows["南坑", "enterprises"]["agrees"] is True
    assert rows["南坑", "enterprises covered by the federation"] == {
        "place": "南坑", "figure": "enterprises covered by the federation", "seed": "176",
        "system": 175, "agrees": False, "available": True, "note": None}
    assert rows["南坑", "members"]["agrees"] is False
    assert rows["南坑", "members"]["note"] == "TimeoutError: no answer"
    assert rows["district", "market entities"]["agrees"] is None  # 227 is no district
    assert rows["district", "street finalists, 职工之星 2016"]["agrees"] is True
    printed = table(shown(list(rows.values())))
    assert "NO (TimeoutError: no answer)" in printed
    assert "skipped (district-scale sample only)" in printed


def test_the_services_that_scope_their_answers_are_asked_as_the_caller_given():
    asked = []

    def scoped(*args):
        asked.append(next(arg for arg in args if isinstance(arg, dict) and "role" in arg))
        raise TimeoutError("no answer")

    rpc = answering(
        registry=SimpleNamespace(statistics=unavailable),
        membership=SimpleNamespace(join_rate=unavailable, cards_held=unavailable,
                                   merchants=unavailable),
        disputes=SimpleNamespace(statistics=scoped),
        competitions=SimpleNamespace(statistics=scoped),
        incubation=SimpleNamespace(statistics=scoped, list_organizations=scoped))
    report(rpc)  # the CLI: the district viewer
    assert asked and all(caller == READER.as_dict() for caller in asked)
    asked.clear()
    staff = Caller("district.zhao", "staff", "longgang")
    rows = report(rpc, caller=staff)
    # disputes x3, competitions, incubation x2: each as the caller, nothing more of it
    assert asked == [staff.as_dict()] * 6
    assert not any(row["available"] for row in rows)
