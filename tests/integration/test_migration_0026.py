"""Migration 0026 (localised titles) down and up again: `methodologies.title_zh` goes and comes
back empty; the methodologies themselves, their English titles and versions stay; the API
then shows the English title to a Chinese client until a Chinese one is set (the seed sets it
again, without touching a title already there)."""
from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from models import db


def _columns(table: str) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns(table)}


def _seed(app):
    from carbon_credits.services.seed import seed_all
    with app.app_context():
        seed_all()


def test_down_and_up_again_keeps_methodologies_and_the_seed_restores_chinese_titles(app, client):
    directory = app.extensions["migrate"].directory
    _seed(app)
    zh = {"Accept-Language": "zh-CN"}
    with app.app_context():
        with db.engine.connect() as conn:
            before = conn.execute(text("SELECT code, title FROM methodologies ORDER BY code")).all()
        downgrade(directory=directory, revision="0025")
        db.session.remove()
        try:
            assert "title_zh" not in _columns("methodologies")
        finally:
            upgrade(directory=directory)
        db.session.remove()
        assert "title_zh" in _columns("methodologies")
        with db.engine.connect() as conn:
            after = conn.execute(text("SELECT code, title FROM methodologies ORDER BY code")).all()
            empty = conn.execute(text("SELECT count(*) FROM methodologies "
                                      "WHERE title_zh IS NOT NULL")).scalar()
        db.session.remove()
    assert after == before and empty == 0
    metro = client.get("/api/v1/methodologies/SH-METRO", headers=zh).json
    assert metro["display_title"] == metro["title"] == "Shanghai urban rail (metro) trips, per km"
    _seed(app)
    with app.app_context():
        db.session.execute(text("UPDATE methodologies SET title_zh = '自定义' WHERE code = 'BJ-WALK'"))
        db.session.commit()
    _seed(app)
    assert client.get("/api/v1/methodologies/SH-METRO", headers=zh).json["display_title"] == \
        "上海城市轨道交通（地铁）出行，按公里计"
    assert client.get("/api/v1/methodologies/BJ-WALK", headers=zh).json["display_title"] == "自定义"
