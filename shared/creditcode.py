"""The unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters whose
last is a check digit over the first 17.

Enterprises carry one in the registry and social organizations once registered with civil
affairs (the incubation service): both check it here, the same way.
"""

from marshmallow import ValidationError, fields

CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_VALUE = {char: value for value, char in enumerate(CREDIT_CODE_CHARSET)}


def credit_code_check_digit(first17: str) -> str:
    total = sum(_CREDIT_VALUE[char] * weight
                for char, weight in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def credit_code_problem(code) -> str | None:
    """Why ``code`` is not a valid unified social credit code; None if it is."""
    if not isinstance(code, str):
        return "a credit code is text of 18 characters"
    if len(code) != 18:
        return f"a credit code has 18 characters, this one has {len(code)}"
    for position, char in enumerate(code, start=1):
        if char not in _CREDIT_VALUE:
            return (f"character {char!r} at position {position} is not allowed (digits and "
                    f"capital letters except I, O, S, V, Z)")
    expected = credit_code_check_digit(code[:17])
    if code[17] != expected:
        return (f"check digit is {code[17]!r} but the first 17 characters give {expected!r} "
                "(GB 32100-2015): a character was probably mistyped")
    return None


def normalize_credit_code(code) -> str:
    return code.strip().upper() if isinstance(code, str) else code


class CreditCode(fields.String):
    """A marshmallow field: upper-cased, with its check digit verified."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = normalize_credit_code(super()._deserialize(value, attr, data, **kwargs))
        problem = credit_code_problem(value)
        if problem:
            raise ValidationError(problem)
        return value
