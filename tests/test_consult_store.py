"""Marketing consent and photo annotations in the store (issue 20), on SQLite and PostgreSQL."""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import datetime as dt

import pytest

from analyzer.store import Conflict, InvalidInput
from tests.store_fixtures import data_dir, db_url, png_bytes, store  # noqa: F401


def _photo(store):
    p = store.create_patient("P-1", "Anna", consent_photos=True)
    se = store.create_series(p.id, name="s", body_area="face", concerns=["acne_scars"])
    ss = store.add_session(se.id, date=dt.date(2024, 1, 1))
    return p, store.add_photo(ss.id, view="front", data=png_bytes(1), filename="a.png")


def test_marketing_consent_is_dated_withdrawable_and_kept(store):
    p, _ = _photo(store)
    assert store.marketing_consent(p.id) is None
    c = store.give_marketing_consent(p.id, by="dr", note="website only")
    assert c.active and c.given_at.tzinfo is not None and c.note == "website only"
    with pytest.raises(Conflict):
        store.give_marketing_consent(p.id, by="dr")
    assert store.get_patient(p.id).consent_photos  # a separate field: treatment consent untouched
    w = store.withdraw_marketing_consent(p.id, by="dr")
    assert not w.active and w.withdrawn_at >= w.given_at
    assert store.marketing_consent(p.id) is None
    assert store.withdraw_marketing_consent(p.id, by="dr") is None
    store.give_marketing_consent(p.id, by="dr")
    hist = store.marketing_consents(p.id)
    assert [h.active for h in hist] == [True, False]


def test_annotations_are_checked_kept_and_go_with_the_photo(store):
    p, ph = _photo(store)
    a = store.add_annotation(ph.id, kind="arrow", points=[[1, 2], [30, 40]], text="scar", by="dr")
    store.add_annotation(ph.id, kind="outline", points=[[1, 1], [20, 1], [20, 20]], by="dr")
    store.add_annotation(ph.id, kind="text", points=[[5, 5]], text="redness", by="dr")
    got = store.list_annotations(ph.id)
    assert [g.kind for g in got] == ["arrow", "outline", "text"] and got[0].data["text"] == "scar"
    for bad in (dict(kind="arrow", points=[[1, 2]]), dict(kind="star", points=[[1, 2]]),
                dict(kind="text", points=[[1, 2]], text=""), dict(kind="arrow", points=[[1, 2], [999, 2]]),
                dict(kind="outline", points=[[1, "x"], [2, 2], [3, 3]])):
        with pytest.raises(InvalidInput):
            store.add_annotation(ph.id, by="dr", **bad)
    assert len(store.list_annotations(ph.id)) == 3  # bad input wrote nothing
    store.delete_annotation(a.id)
    assert len(store.list_annotations(ph.id)) == 2
    store.give_marketing_consent(p.id, by="dr")
    store.delete_patient(p.id)
    assert store.list_annotations(ph.id) == [] and store.marketing_consents(p.id) == []
