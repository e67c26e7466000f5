"""The unified social credit code (统一社会信用代码), GB 32100-2015.

Eighteen characters from a 31-character alphabet (digits and capitals without I, O, S, V, Z):

    1      registration authority (9 = market regulation, 5 = civil affairs, 1 = staffing, Y other...)
    2      entity type within that authority (1 = enterprise, 2 = individual business, ...)
    3-8    administrative division code (six digits)
    9-17   organisation code
    18     check character over the first seventeen

The check is exact; the authority, type and division are validated loosely (the sets of codes
grow over time, and a bank must not turn away a real business because a table here is old).
"""

from django.utils.translation import gettext_lazy as _

from alliance.errors import ApplicationError

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# Registration authorities in use (1-9 ministries and commissions, A-N others, Y other).
_AUTHORITIES = frozenset("123456789ABCDEFGHJKLMN" + "Y")
_TYPES = frozenset("123456789Y")


class InvalidCreditCode(ApplicationError):
    code = "invalid_credit_code"
    message = _(
        "Enter the 18-character unified social credit code exactly as it is printed on the "
        "business licence."
    )


def normalize_credit_code(raw: str) -> str:
    """Upper case, no spaces or dashes (what people type from a licence)."""
    return "".join((raw or "").split()).replace("-", "").upper()


def check_character(first17: str) -> str:
    """The check character for the first seventeen characters (which must be in the alphabet)."""
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """Why ``code`` (already normalised) is not a valid credit code, or None if it is.

    The answer is a short stable key: ``length``, ``alphabet``, ``authority``, ``type``,
    ``division``, ``check``.
    """
    if len(code) != LENGTH:
        return "length"
    if any(ch not in _VALUE for ch in code):
        return "alphabet"
    if code[0] not in _AUTHORITIES:
        return "authority"
    if code[1] not in _TYPES:
        return "type"
    if not code[2:8].isdigit() or code[2:4] == "00":
        return "division"
    if check_character(code[:17]) != code[17]:
        return "check"
    return None


def is_valid_credit_code(code: str) -> bool:
    return credit_code_problem(normalize_credit_code(code)) is None


def validate_credit_code(raw: str) -> str:
    """Return the normalised code or raise :class:`InvalidCreditCode` (``extra.problem`` says
    which part is wrong)."""
    code = normalize_credit_code(raw)
    problem = credit_code_problem(code)
    if problem is not None:
        raise InvalidCreditCode(extra={"problem": problem})
    return code
