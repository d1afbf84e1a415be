"""Attachments: multi-part upload, resume, complete, streamed download with bounded memory,
and the OpenAPI document against the URL map."""

from __future__ import annotations

import hashlib
import os
import tracemalloc

import pytest
from sqlalchemy import func, select

from cooperation.audit.models import AuditEvent
from cooperation.extensions import db
from cooperation.threads.models import Attachment, AttachmentPart
from tests.conftest import AuthActions
from tests.functional.test_threads_api_kit import Api, event_payload, publish_keys

MIB = 1024 * 1024


@pytest.fixture
def owner(app, client, users):  # type: ignore[no-untyped-def]
    c = app.test_client()
    actions = AuthActions(c)
    actions.login(users["focal_nl"])
    api = Api(c, actions.csrf("/dashboard"))
    dev = publish_keys(api)
    tid = api.post("/api/v1/threads", {"parties": ["SEN"]}).get_json()["id"]
    ids = [users["focal_nl"].id]
    assert api.post(f"/api/v1/threads/{tid}/events",
                    event_payload(dev, 0, bytes(32), "create", users=ids, epoch=1, members=ids)).status_code == 201
    return api, tid


def test_multipart_upload_resume_complete_download(owner, tmp_path):
    api, tid = owner
    size, part = 5 * MIB + 123, 2 * MIB
    blob = os.urandom(size)
    r = api.post(f"/api/v1/threads/{tid}/attachments", {"size": size, "part_size": part})
    assert r.status_code == 201 and r.get_json()["parts"] == 3
    att = r.get_json()["id"]
    base = f"/api/v1/threads/{tid}/attachments/{att}"
    # Part 1 first, then an interruption: the status says what is missing.
    assert api.put_raw(f"{base}/parts/1", blob[part:2 * part]).status_code == 200
    assert api.get(base).get_json()["received"] == [1]
    r = api.post(f"{base}/complete")
    assert r.status_code == 409 and r.get_json()["missing"] == [0, 2]
    # Wrong lengths, wrong index, wrong content type: refused, nothing recorded.
    assert api.put_raw(f"{base}/parts/0", blob[:100]).status_code == 400
    assert api.put_raw(f"{base}/parts/2", blob[2 * part:] + b"x").status_code == 413
    assert api.put_raw(f"{base}/parts/3", b"x").status_code == 404
    assert api.put(f"{base}/parts/0", {"x": 1}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(AttachmentPart)) == 1
    # Resume: the other parts, then complete and download.
    assert api.put_raw(f"{base}/parts/0", blob[:part]).status_code == 200
    assert api.put_raw(f"{base}/parts/2", blob[2 * part:]).status_code == 200
    assert api.get(f"{base}/content").status_code == 404  # not complete yet
    done = api.post(f"{base}/complete")
    assert done.status_code == 200 and done.get_json()["complete"] is True
    assert api.put_raw(f"{base}/parts/0", blob[:part]).status_code == 409  # frozen once complete
    r = api.get(f"{base}/content")
    assert r.status_code == 200 and r.headers["Content-Length"] == str(size)
    assert hashlib.sha256(r.get_data()).digest() == hashlib.sha256(blob).digest()
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "threads.attachment_uploaded")) == 1
    # Paths stay under the instance path, named by the server only.
    stored = db.session.scalar(select(Attachment.storage_key).where(Attachment.id == att))
    root = os.path.join(api.client.application.instance_path, "thread-attachments")
    assert os.path.exists(os.path.join(root, stored[:2], stored, "000000.part"))


def test_parts_lost_before_completion_are_asked_again(owner, tmp_path):
    """Parts are fsynced when the upload completes, not one by one: a part recorded as received
    but missing or short on disk by then (an OS crash) is forgotten, and the 409 names it."""
    api, tid = owner
    blob = os.urandom(3 * MIB)
    att = api.post(f"/api/v1/threads/{tid}/attachments", {"size": len(blob), "part_size": MIB}).get_json()["id"]
    base = f"/api/v1/threads/{tid}/attachments/{att}"
    for n in range(3):
        assert api.put_raw(f"{base}/parts/{n}", blob[n * MIB:(n + 1) * MIB]).status_code == 200
    stored = db.session.scalar(select(Attachment.storage_key).where(Attachment.id == att))
    folder = os.path.join(api.client.application.instance_path, "thread-attachments", stored[:2], stored)
    os.truncate(os.path.join(folder, "000001.part"), 1000)
    os.unlink(os.path.join(folder, "000002.part"))
    r = api.post(f"{base}/complete")
    assert r.status_code == 409 and r.get_json()["missing"] == [1, 2]
    assert api.get(base).get_json()["received"] == [0]
    for n in (1, 2):
        assert api.put_raw(f"{base}/parts/{n}", blob[n * MIB:(n + 1) * MIB]).status_code == 200
    assert api.post(f"{base}/complete").status_code == 200
    assert api.get(f"{base}/content").get_data() == blob
    assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]


def test_a_refused_part_leaves_no_staged_file(owner):
    api, tid = owner
    att = api.post(f"/api/v1/threads/{tid}/attachments", {"size": 2 * MIB, "part_size": MIB}).get_json()["id"]
    base = f"/api/v1/threads/{tid}/attachments/{att}"
    assert api.put_raw(f"{base}/parts/0", os.urandom(MIB)).status_code == 200
    assert api.put_raw(f"{base}/parts/1", os.urandom(MIB)).status_code == 200
    assert api.post(f"{base}/complete").status_code == 200
    assert api.put_raw(f"{base}/parts/1", os.urandom(MIB)).status_code == 409  # complete: frozen
    stored = db.session.scalar(select(Attachment.storage_key).where(Attachment.id == att))
    folder = os.path.join(api.client.application.instance_path, "thread-attachments", stored[:2], stored)
    assert sorted(os.listdir(folder)) == ["000000.part", "000001.part"]


@pytest.mark.parametrize("payload", [{"size": 0, "part_size": MIB}, {"size": 10, "part_size": 0},
                                     {"size": MIB, "part_size": 100 * MIB}, {"size": "1", "part_size": MIB},
                                     {"size": MIB}])
def test_bad_upload_requests(owner, payload):
    api, tid = owner
    r = api.post(f"/api/v1/threads/{tid}/attachments", payload)
    assert r.status_code == 400 and r.get_json()["error"]
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_oversized_attachment_is_413(owner):
    api, tid = owner
    r = api.post(f"/api/v1/threads/{tid}/attachments", {"size": 5 * 1024 ** 4, "part_size": MIB})
    assert r.status_code == 413


def test_20_mib_part_streams_with_bounded_memory(owner, tmp_path):
    api, tid = owner
    size = 20 * MIB
    source = tmp_path / "body.bin"
    digest = hashlib.sha256()
    with open(source, "wb") as out:
        for _ in range(20):
            chunk = os.urandom(MIB)
            digest.update(chunk)
            out.write(chunk)
    att = api.post(f"/api/v1/threads/{tid}/attachments", {"size": size, "part_size": size}).get_json()["id"]
    base = f"/api/v1/threads/{tid}/attachments/{att}"
    tracemalloc.start()
    try:
        with open(source, "rb") as stream:  # the test itself holds no 20 MiB buffer
            r = api.put_raw(f"{base}/parts/0", stream, length=size)
        _, upload_peak = tracemalloc.get_traced_memory()
        assert r.status_code == 200, r.get_json()
        assert api.post(f"{base}/complete").status_code == 200
        tracemalloc.reset_peak()
        received = hashlib.sha256()
        response = api.client.get(f"{base}/content", buffered=False)
        for chunk in response.response:
            received.update(chunk)
        response.close()
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received.digest() == digest.digest()
    assert upload_peak < 8 * MIB, upload_peak
    assert download_peak < 8 * MIB, download_peak


def test_openapi_documents_every_api_rule_and_nothing_else(app, owner):
    api, _tid = owner
    doc = api.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", f"{{{arg}}}").replace(f"<{arg}>", f"{{{arg}}}")
        routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed == documented, (routed - documented, documented - routed)
    # Every $ref resolves.
    text = str(doc)
    for name in doc["components"]["schemas"]:
        assert name in text
    import re

    for ref in re.findall(r"#/components/schemas/(\w+)", text):
        assert ref in doc["components"]["schemas"], ref
