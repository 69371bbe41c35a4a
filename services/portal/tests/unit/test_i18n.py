"""UI strings in both languages, labels from the API, the label cache."""

from __future__ import annotations

import re
import string

import pytest

from demimas_portal.i18n import UI, LabelCache, Labels, Translator, labels_from, pick_lang


def test_every_ui_string_has_both_languages_with_the_same_placeholders() -> None:
    for key, (indonesian, english) in UI.items():
        assert indonesian, key
        assert english, key
        fields = [{f for _, f, _, _ in string.Formatter().parse(text) if f} for text in (indonesian, english)]
        assert fields[0] == fields[1], key


def test_indonesian_is_the_default_and_english_on_request() -> None:
    assert Translator("id")("signout") == "Keluar"
    assert Translator("en")("signout") == "Sign out"
    assert Translator("en")("error.forbidden", agency="KEMENDES", scope="pii:read") == (
        "The agency KEMENDES lacks the grant pii:read."
    )
    assert Translator("id")("no.such.key") == "no.such.key"


@pytest.mark.parametrize(("given", "lang"), [("en", "en"), ("EN", "en"), (" id ", "id"), ("fr", None), (None, None)])
def test_pick_lang(given: str | None, lang: str | None) -> None:
    assert pick_lang(given) == lang


def test_labels_from_every_subgraph_and_raw_values_when_missing() -> None:
    data = {
        "pillarsLabels": [{"enum": "PilotStatus", "value": "ACTIVE", "label": "Aktif"}],
        "registryLabels": [{"enum": "Agency", "value": "KP2MI", "label": "Kementerian P2MI"}],
        "designationLabels": None,  # a subgraph that failed
    }
    labels = labels_from(data, "id")
    assert labels.of("PilotStatus", "ACTIVE") == "Aktif"
    assert labels.of("Agency", "KP2MI") == "Kementerian P2MI"
    assert labels.of("Agency", "BNN") == "BNN"
    assert labels.of("Agency", None) == ""


async def test_the_cache_fetches_once_per_language_and_again_after_the_ttl() -> None:
    now = [0.0]
    calls: list[str] = []

    async def fetch(lang: str) -> Labels:
        calls.append(lang)
        return Labels(lang, {("E", "V"): f"{lang}-{len(calls)}"})

    cache = LabelCache(ttl=60, clock=lambda: now[0])
    assert (await cache.get("id", fetch)).of("E", "V") == "id-1"
    assert (await cache.get("id", fetch)).of("E", "V") == "id-1"
    assert (await cache.get("en", fetch)).of("E", "V") == "en-2"
    now[0] = 61
    assert (await cache.get("id", fetch)).of("E", "V") == "id-3"
    assert calls == ["id", "en", "id"]


async def test_an_empty_answer_is_not_cached() -> None:
    calls = 0

    async def fetch(lang: str) -> Labels:
        nonlocal calls
        calls += 1
        return Labels(lang, {})

    cache = LabelCache(ttl=60)
    await cache.get("id", fetch)
    await cache.get("id", fetch)
    assert calls == 2


def test_no_ui_string_contains_markup() -> None:
    """Strings are escaped by the templates; markup in one would show as text."""
    assert not [k for k, pair in UI.items() if any(re.search(r"<[a-z/]", text) for text in pair)]
