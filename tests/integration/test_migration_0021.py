"""Migration 0021 (verifiability) down and up again: its five tables go and come back, their
append-only triggers with them, no other trigger is touched, and blocks retired before the
revision each get a certificate of their own on the way up."""
from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from models import CertificateBlock, RetirementCertificate, RetirementCertificateBlock, db
from tests.api.test_actions import operator, rider, seeded  # noqa: F401
from tests.api.test_certificates import (auditor, long_claim_window, lot, metro_month,  # noqa: F401
                                         verifier)
from tests.integration.test_migration_0016 import _trigger_names
from tests.integration.test_migration_0017 import VERIFIABILITY_TABLES

TABLES = ("signing_keys",) + VERIFIABILITY_TABLES


def test_down_and_up_again_certifies_earlier_retirements(app, client, auditor, lot):
    directory = app.extensions["migrate"].directory
    r = client.post(f"/api/v1/admin/certificates/lots/{lot['id']}/retirements",
                    json={"beneficiary": "Acme", "purpose": "offset", "quantity": 2},
                    headers=auditor.headers)
    assert r.status_code == 201, r.json
    with app.app_context():
        triggers_before = _trigger_names()
        downgrade(directory=directory, revision="0020")
        db.session.remove()
        try:
            assert not set(TABLES) & set(inspect(db.engine).get_table_names())
            triggers_down = _trigger_names()
        finally:
            upgrade(directory=directory)
        db.session.remove()
        assert set(TABLES) <= set(inspect(db.engine).get_table_names())
        retired = db.session.scalar(select(CertificateBlock).where(CertificateBlock.status == "retired"))
        certificate = db.session.scalar(select(RetirementCertificate))
        assert (certificate.beneficiary, certificate.purpose, certificate.quantity) == \
            ("Acme", "offset", retired.quantity)
        assert db.session.scalar(select(RetirementCertificateBlock.block_id)) == retired.id
        assert db.session.scalar(select(func.count()).select_from(RetirementCertificate)) == 1
        db.session.remove()  # SQLite: the statements below need the write lock
        for statement in ("UPDATE retirement_certificates SET quantity = 1",
                          "DELETE FROM retirement_certificate_blocks"):
            with pytest.raises(DBAPIError):
                with db.engine.begin() as conn:
                    conn.execute(text(statement))
        triggers_after = _trigger_names()
        db.session.remove()
    created = {t for t in triggers_before if t.startswith(VERIFIABILITY_TABLES)}
    assert created and not {t for t in created if t.startswith("signing_keys")}
    assert triggers_down == triggers_before - created
    assert triggers_after == triggers_before
    r = client.get(f"/api/v1/public/certificates/{certificate.id}")
    assert r.status_code == 200 and r.json["certificate"]["quantity"] == retired.quantity
