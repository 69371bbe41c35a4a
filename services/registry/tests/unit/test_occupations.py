"""KBJI 2014 occupation codes: the form, the major and sub-major groups, the error callers get."""

import pytest

from demimas_common.errors import BadUserInput
from demimas_registry.domain.occupations import (
    INVALID_OCCUPATION_CODE,
    MAJOR_GROUPS,
    SUB_MAJOR_GROUPS,
    check_occupation_code,
    major_group,
)


def test_the_vocabulary_has_ten_major_groups_and_43_sub_major_groups_under_them() -> None:
    assert sorted(MAJOR_GROUPS) == [str(d) for d in range(10)]
    assert len(SUB_MAJOR_GROUPS) == 43
    assert {code[0] for code in SUB_MAJOR_GROUPS} == set(MAJOR_GROUPS)


@pytest.mark.parametrize(("raw", "clean"), [("8", "8"), ("81", "81"), ("818", "818"), (" 8189 ", "8189"),
                                            ("8189.01", "8189.01"), ("0110", "0110"), ("9 329", "9329")])  # fmt: skip
def test_valid_codes_are_kept_cleaned(raw: str, clean: str) -> None:
    assert check_occupation_code(raw) == clean
    assert major_group(clean) == clean[0]


@pytest.mark.parametrize("raw", ["", "A1", "81890", "8.01", "818.01", "04", "97", "19", "8189.1", "operator"])
def test_malformed_codes_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        check_occupation_code(raw)
    assert caught.value.field == "occupationCode"
    assert caught.value.extensions["reason"] == INVALID_OCCUPATION_CODE
    assert "KBJI 2014" in caught.value.message


def test_a_departure_without_a_code_is_unclassified() -> None:
    assert major_group(None) == "UNCLASSIFIED"
