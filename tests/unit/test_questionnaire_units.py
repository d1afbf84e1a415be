"""Pure pieces of the questionnaires: bilingual fallback, conditions, file checks, formula
neutralisation and the SVG chart."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from cooperation.questionnaires import charts, exports, files, text, values


def test_missing_translation_falls_back_and_is_marked():
    assert text.pick("Central authority", "", "fr") == text.Localized("Central authority", "en", True)
    assert text.pick("", "Autorité centrale", "en") == text.Localized("Autorité centrale", "fr", True)
    assert text.pick("Central authority", "Autorité centrale", "fr").fallback is False
    assert text.pick("", "", "en").text == ""


def _q(qid, condition=None, value=""):  # type: ignore[no-untyped-def]
    return SimpleNamespace(id=qid, condition_question_id=condition, condition_value=value)


def test_conditions_follow_answers_and_chains():
    qs = [_q(1), _q(2, 1, "yes"), _q(3, 2, "b"), _q(4, 1, "no")]
    assert values.visible_ids(qs, {1: "yes", 2: ["a", "b"]}) == {1, 2, 3}
    assert values.visible_ids(qs, {1: "no", 2: ["b"]}) == {1, 4}  # 3 hides with its hidden parent
    assert values.visible_ids(qs, {}) == {1}


@pytest.mark.parametrize(("name", "data"), [
    ("law.pdf", b"%PDF-1.7 ..."),
    ("notes.TXT", "Artículo 93".encode()),
])
def test_accepted_documents(name, data):
    checked = files.check(io.BytesIO(data), name)
    assert checked.data == data and checked.extension == name.rsplit(".", 1)[1].lower()


@pytest.mark.parametrize(("name", "data"), [
    ("law.exe", b"MZ"), ("law", b"%PDF-"), ("law.pdf", b"<html>"), ("law.txt", b"\xff\xfe\x00a"),
    ("law.docx", b"PK\x03\x04broken"), ("law.odt", b"%PDF-1.4"), ("empty.pdf", b""),
])
def test_refused_documents(app, name, data):
    with app.test_request_context(), pytest.raises(files.FileRefused):
        files.check(io.BytesIO(data), name)


def test_size_limit_reads_no_more_than_the_limit(app):
    class Endless(io.RawIOBase):
        def readinto(self, buffer):  # type: ignore[no-untyped-def]
            buffer[:] = b"a" * len(buffer)
            return len(buffer)

    with app.test_request_context(), pytest.raises(files.FileRefused, match="20 MiB"):
        files.read_limited(Endless(), limit=1024 * 1024)


def test_display_names_are_safe():
    assert files.safe_name('../../etc/"passwd"\r\n.pdf') == "passwd.pdf"
    assert files.safe_name("") == "document"


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=x", "＝1"])
def test_formula_cells_are_neutralised(cell):
    assert exports.neutralise(cell).startswith("'")


def test_plain_cells_are_kept():
    assert exports.neutralise("Ministry of Justice") == "Ministry of Justice"
    assert exports.neutralise(None) == ""


def test_chart_escapes_labels_and_has_a_title():
    svg = str(charts.bar_chart("c1", "Answers <Q1>", "desc", [charts.Datum("<script>", 3, "3 (60%)"),
                                                                 charts.Datum("No", 2, "2 (40%)")]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'role="img"' in svg and '<title id="c1-title">Answers &lt;Q1&gt;</title>' in svg
    assert "style=" not in svg
