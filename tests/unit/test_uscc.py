"""Unified social credit codes against GB 32100-2015, with codes of real companies."""
import pytest

from fieldapp.sites.uscc import check_character, uscc_problem

# Published codes of well-known companies (business licences shown on their sites).
REAL_CODES = ["914403001922038216", "91440300708461136T", "91110000802100433B",
              "91350100M000100Y43"]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code):
    assert uscc_problem(code) is None
    assert check_character(code[:17]) == code[17]


@pytest.mark.parametrize("code, words", [
    ("91440300708461136X", "check character is X, expected T"),
    ("9144030070846113", "18 characters"),
    ("91440300708461136TT", "18 characters"),
    ("9144030070846113IT", "outside"),
    ("91AB0300708461136T", "administrative division"),
])
def test_bad_codes_say_why(code, words):
    assert words in uscc_problem(code)


def test_every_single_character_change_is_caught():
    code = REAL_CODES[0]
    for index in range(17):
        for replacement in "0123456789ABCDEFGHJKLMNPQRTUWXY":
            changed = code[:index] + replacement + code[index + 1:]
            if changed != code:
                assert uscc_problem(changed) is not None, changed
