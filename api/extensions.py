"""Flask extensions, created once and bound in `create_app`."""
from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint

from api.jsonbody import StrictParser


class Api(_Api):
    """Errors are rendered by api/errors.py, not by flask-smorest's default handler."""

    def _register_error_handlers(self):
        pass


class Blueprint(_Blueprint):
    ARGUMENTS_PARSER = StrictParser()


api = Api()
migrate = Migrate()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
