"""Helpers shared by the donation tests (HTTP and races)."""
from __future__ import annotations

PROJECTS = "/api/v1/admin/projects"
PUBLIC_PROJECTS = "/api/v1/public/projects"
DONATIONS = "/api/v1/me/donations"


def project_body(**overrides) -> dict:
    body = {"name": "Trees for the Taihu shore", "beneficiary": "Wuzhong Greening Office",
            "description": "Every 500 points plant one native tree.", "target_points": 1000}
    body.update(overrides)
    return body


def create_project(client, admin, **overrides) -> dict:
    r = client.post(PROJECTS, json=project_body(**overrides), headers=admin.headers)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json


def project_row(app, project_id) -> dict:
    import uuid

    from models import PublicProject, db
    with app.app_context():
        project = db.session.get(PublicProject, uuid.UUID(str(project_id)))
        row = {"donated_points": project.donated_points, "donations": project.donations,
               "status": project.status}
        db.session.remove()
    return row


def verify_ledger(app):
    from carbon_credits.services import ledger
    from models import db
    with app.app_context():
        report = ledger.verify_ledger()
        db.session.remove()
    return report
