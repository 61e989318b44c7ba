"""Reading RFC 9457 problem answers in tests (``shared.errors``, ``shared.web``)."""

PROBLEM_JSON = "application/problem+json"
STANDARD = {"type", "title", "status", "detail", "instance", "code"}


def problem(response, *statuses) -> dict:
    """The problem body of ``response``, checked to be one (status among ``statuses``)."""
    if statuses:
        assert response.status_code in statuses, response.text
    assert response.headers["Content-Type"] == PROBLEM_JSON, response.headers
    body = response.json()
    assert STANDARD <= set(body), body
    assert body["status"] == response.status_code and body["detail"], body
    return body


def error_fields(body) -> list[str]:
    """The fields (first segment of each ``errors[].field``) a problem names, in order."""
    names = [error["field"].split(".")[0] for error in body.get("errors", ())]
    return list(dict.fromkeys(names))


def field_messages(body) -> dict[str, list[str]]:
    """``errors`` as dotted field -> its messages, as marshmallow nests them flat."""
    messages = {}
    for error in body.get("errors", ()):
        messages.setdefault(error["field"], []).append(error["message"])
    return messages
