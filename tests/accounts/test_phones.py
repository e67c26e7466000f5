import pytest

from accounts.phones import InvalidPhone, mask_phone, normalize_phone


@pytest.mark.parametrize(
    "typed",
    ["13812341234", "138 1234 1234", "138-1234-1234", "+86 138 1234 1234", "008613812341234"],
)
def test_what_people_type_is_stored_as_e164(typed):
    assert normalize_phone(typed) == "+8613812341234"


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "12345", "1381234123", "138123412345", "abc", "+1 415 555 0100", "020 1234 5678"],
)
def test_not_a_mainland_mobile_number_is_refused(typed):
    with pytest.raises(InvalidPhone) as caught:
        normalize_phone(typed)
    assert caught.value.code == "invalid_phone"


def test_masked_phone_shows_only_the_ends():
    assert mask_phone("+8613812341234") == "138****1234"
