"""Flask extensions, created once and bound in `create_app`."""
from __future__ import annotations

from flask_migrate import Migrate
import http

from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields

from api.jsonbody import StrictParser

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every 4xx/5xx of this API is rendered."""

    type = fields.String(required=True, metadata={"example": "/problems/validation"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    request_id = fields.String(required=True, allow_none=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "Field errors, keyed by dotted field path"})


class Api(_Api):
    """Errors are rendered by api/errors.py, not by flask-smorest's default handler, and are
    documented as problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        pass

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error (problem+json)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


class Blueprint(_Blueprint):
    ARGUMENTS_PARSER = StrictParser()


api = Api()
migrate = Migrate()
