"""GB 32100-2015 unified social credit codes: the check character and the loose structure."""

import pytest

from merchants.credit_code import (
    InvalidCreditCode,
    check_character,
    credit_code_problem,
    is_valid_credit_code,
    validate_credit_code,
)
from tests.merchants.factories import credit_code

# Published on real business licences (format examples; the check characters are theirs).
REAL = ["91350100M000100Y43", "91440300708461136T", "91110108551385082Q"]


@pytest.mark.parametrize("code", REAL)
def test_real_codes_are_valid(code):
    assert credit_code_problem(code) is None
    assert check_character(code[:17]) == code[17]


def test_check_character_follows_the_weights():
    # 9*1 + 1*3 + 3*9 + 5*27 + 0*19 + 1*26 + 0*16 + 0*17 + M(21)*20 + 0*29 + 0*25 + 0*13
    # + 1*8 + 0*24 + 0*10 + Y(30)*30 + 4*28 = 1640; 1640 mod 31 = 28; 31 - 28 = 3.
    assert check_character("91350100M000100Y4") == "3"


def test_a_remainder_of_zero_gives_check_zero():
    # Search a code whose weighted sum is a multiple of 31: 31 - 0 = 31 maps to "0".
    for n in range(1000):
        first17 = f"91330106MA{n:07d}"
        if check_character(first17) == "0":
            assert credit_code_problem(first17 + "0") is None
            return
    pytest.fail("no sample with check character 0 found")


@pytest.mark.parametrize("n", range(20))
def test_constructed_codes_are_valid(n):
    assert is_valid_credit_code(credit_code(n))


def test_typing_is_forgiven():
    assert validate_credit_code(" 9135 0100-m000 100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("91350100M000100Y4", "length"),
        ("91350100M000100Y433", "length"),
        ("", "length"),
        ("91350100M000100I43", "alphabet"),  # I is not in the alphabet
        ("91350100O000100Y43", "alphabet"),  # nor O
        ("Z1350100M000100Y43", "alphabet"),
        ("01350100M000100Y43", "authority"),
        ("90350100M000100Y43", "type"),
        ("9135A100M000100Y43", "division"),
        ("91000000M000100Y43", "division"),
        ("91350100M000100Y44", "check"),  # one character off
        ("91350100M000100Y34", "check"),  # two characters swapped
    ],
)
def test_invalid_codes_say_what_is_wrong(code, problem):
    assert credit_code_problem(code) == problem
    with pytest.raises(InvalidCreditCode) as exc:
        validate_credit_code(code)
    assert exc.value.code == "invalid_credit_code"
    assert exc.value.extra == {"problem": problem}


def test_every_single_character_error_is_caught():
    code = "91350100M000100Y43"
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for i in range(18):
        for ch in alphabet:
            if ch != code[i]:
                assert not is_valid_credit_code(code[:i] + ch + code[i + 1 :])
