"""NIK and field validation (docs/registry.md): clear errors naming the field, warnings not rejections."""

import datetime as dt

import pytest

from demimas_common.errors import BadUserInput
from demimas_registry.domain import validation as v
from demimas_registry.domain.vocabulary import Sex

BORN = dt.date(1995, 8, 15)


def nik_for(district: str, born: dt.date, sex: Sex, serial: str = "0001") -> str:
    day = born.day + (40 if sex is Sex.FEMALE else 0)
    return f"{district.replace('.', '')}{day:02d}{born.month:02d}{born.year % 100:02d}{serial}"


class TestCheckNik:
    def test_accepts_a_consistent_nik(self) -> None:
        nik = nik_for("32.01.01", BORN, Sex.MALE)
        assert v.check_nik(nik, sex=Sex.MALE, birth_date=BORN).nik == nik

    def test_women_have_forty_added_to_the_day(self) -> None:
        nik = nik_for("32.01.01", BORN, Sex.FEMALE)
        assert nik[6:8] == "55"
        assert v.check_nik(nik, sex=Sex.FEMALE, birth_date=BORN).warnings == ()

    def test_separators_are_tolerated(self) -> None:
        nik = nik_for("32.01.01", BORN, Sex.MALE)
        spaced = f"{nik[:6]} {nik[6:12]} {nik[12:]}"
        assert v.check_nik(spaced, sex=Sex.MALE, birth_date=BORN).nik == nik

    @pytest.mark.parametrize(
        ("nik", "message"),
        [
            ("12345", "exactly 16 digits"),
            ("320101150895000X", "exactly 16 digits"),
            ("9901011508950001", "no Indonesian province"),
            ("3201013208950001", "not a real birth date"),
            ("3201011508950000", "cannot be 0000"),
        ],
    )
    def test_rejects_malformed(self, nik: str, message: str) -> None:
        with pytest.raises(BadUserInput, match=message) as caught:
            v.check_nik(nik, sex=Sex.MALE, birth_date=BORN)
        assert caught.value.field == "nik"

    def test_rejects_a_sex_that_contradicts_the_nik(self) -> None:
        with pytest.raises(BadUserInput, match="encodes sex FEMALE"):
            v.check_nik(nik_for("32.01.01", BORN, Sex.FEMALE), sex=Sex.MALE, birth_date=BORN)

    def test_rejects_a_birth_date_that_contradicts_the_nik(self) -> None:
        with pytest.raises(BadUserInput, match="birth date digits"):
            v.check_nik(nik_for("32.01.01", BORN, Sex.MALE), sex=Sex.MALE, birth_date=dt.date(1995, 8, 16))

    def test_an_unknown_district_is_a_warning_not_a_rejection(self) -> None:
        nik = nik_for("32.01.99", BORN, Sex.MALE)
        check = v.check_nik(nik, sex=Sex.MALE, birth_date=BORN)
        assert check.nik == nik
        assert check.warnings
        assert "32.01.99" in check.warnings[0]


class TestFields:
    def test_names_are_normalised(self) -> None:
        assert v.check_name("  Siti   Nur'aini  ") == "Siti Nur'aini"

    @pytest.mark.parametrize("name", ["", "   ", "R2-D2", "Budi\x00", "x" * 151, "<script>"])
    def test_bad_names(self, name: str) -> None:
        with pytest.raises(BadUserInput) as caught:
            v.check_name(name)
        assert caught.value.field == "fullName"

    def test_phone_is_normalised_to_e164(self) -> None:
        assert v.check_phone("0812-3456-7890") == "+6281234567890"

    def test_bad_phone(self) -> None:
        with pytest.raises(BadUserInput, match="Indonesian number"):
            v.check_phone("12")

    @pytest.mark.parametrize("code", ["ID", "XX", "MYS", ""])
    def test_bad_countries(self, code: str) -> None:
        with pytest.raises(BadUserInput):
            v.check_country(code)

    def test_country_is_upper_cased(self) -> None:
        assert v.check_country(" my ") == "MY"

    @pytest.mark.parametrize("code", ["16.06.13", "1606132001", "16.06.13.4001", "16.06.13.2001 OR 1=1"])
    def test_bad_village_codes(self, code: str) -> None:
        with pytest.raises(BadUserInput, match="village code"):
            v.check_village_code(code)

    def test_future_dates_are_refused(self) -> None:
        with pytest.raises(BadUserInput, match="future"):
            v.check_date_not_future(dt.date.today() + dt.timedelta(days=1), field="departureDate")

    def test_oversized_text(self) -> None:
        with pytest.raises(BadUserInput, match="at most 10"):
            v.check_text("x" * 11, field="note", max_length=10)
