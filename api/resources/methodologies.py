"""Methodology registry: public reads and dry runs; admin drafting; auditor review.

Drafts, submitted and rejected versions are shown only on the admin routes (admin, auditor);
the public routes show approved and retired versions. Draft edits need `If-Match` with the
version's ETag (428 without it, 412 if stale).
"""
from __future__ import annotations

from flask import g, jsonify, request
from marshmallow import Schema, fields, validate

from api.auth import access, optional_user
from api.extensions import Blueprint
from api.fields import AwareDateTime, GramsString, StrictDecimal
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor, page_schema
from api.resources.admin_users import AuditPageSchema
from carbon_credits.domain import methodology as domain
from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.vocabulary import scope_mode_fields
from carbon_credits.services.leaderboards import scheme_today
from carbon_credits.services import methodologies as service

blp = Blueprint("methodologies", __name__, url_prefix="/api/v1",
                description="Methodologies: versions, review and dry-run calculation")

CODE_RE = r"^[A-Z0-9](?:[A-Z0-9-]{0,62}[A-Z0-9])?$"
VERSION_PATH = "/admin/methodologies/<string:code>/versions/<int:v>"
IF_MATCH_DOC = [{"in": "header", "name": "If-Match", "required": True, "schema": {"type": "string"},
                 "description": "The ETag of the version as you read it (lost-update guard)."}]


# --- schemas ---------------------------------------------------------------------------------

class ParameterInSchema(Schema):
    name = fields.String(required=True, validate=validate.Regexp(domain.PARAMETER_NAME_RE))
    value = StrictDecimal(required=True, validate=validate.Range(min=0, max=domain.MAX_VALUE))
    unit = fields.String(required=True, validate=validate.OneOf(list(domain.UNITS)))
    source = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    source_status = fields.String(required=True, validate=validate.OneOf(domain.SOURCE_STATUSES))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ParameterSchema(Schema):
    name = fields.String()
    value = fields.String(metadata={"description": "Exact decimal, as a string"})
    unit = fields.String()
    source = fields.String()
    source_status = fields.String()
    note = fields.String()


def _bounded(bound_field):
    return {f"{side}_{q}": bound_field() for q in domain.BOUNDED_QUANTITIES for side in ("min", "max")}


ApplicabilityInSchema = Schema.from_dict({
    **_bounded(lambda: StrictDecimal(allow_none=True, validate=validate.Range(min=0, max=domain.MAX_VALUE))),
    "self_report": fields.String(validate=validate.OneOf(domain.SELF_REPORT_POLICIES)),
    "basis": fields.String(allow_none=True, validate=validate.Length(max=2000)),
    "max_events_per_day": fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=1, max=domain.MAX_EVENTS_PER_DAY),
        metadata={"description": "per_event only (required there): the daily count cap"}),
}, name="ApplicabilityInSchema")

ApplicabilitySchema = Schema.from_dict({
    **_bounded(fields.String),
    "self_report": fields.String(),
    "basis": fields.String(),
    "max_events_per_day": fields.Integer(),
}, name="ApplicabilitySchema")


class VersionEditSchema(Schema):
    family = fields.String(validate=validate.OneOf(list(domain.FAMILIES)))
    formula_text = fields.String(allow_none=True, validate=validate.Length(max=2000))
    parameters = fields.List(fields.Nested(ParameterInSchema), validate=validate.Length(min=1, max=50))
    applicability = fields.Nested(ApplicabilityInSchema)
    daily_cap_g = StrictDecimal(allow_none=True,
                                validate=validate.Range(min=0, max=10**9))
    effective_from = AwareDateTime(allow_none=True)
    effective_until = AwareDateTime(allow_none=True)
    change_note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class VersionCreateSchema(VersionEditSchema):
    based_on = fields.Integer(strict=True, validate=validate.Range(min=1),
                              metadata={"description": "Copy this version's content first"})


def _filing(version) -> dict | None:
    if version.filing_number is None:
        return None
    return {"filing_number": version.filing_number, "authority": version.filing_authority,
            "filed_on": version.filed_on.isoformat(),
            "expert_review_ref": version.expert_review_ref,
            "recorded_at": version.filed_at.isoformat()}


class FilingSchema(Schema):
    filing_number = fields.String(required=True, validate=validate.Length(min=1, max=64),
                                  metadata={"example": "苏环备〔2027〕3号"})
    authority = fields.String(required=True, validate=validate.Length(min=1, max=200),
                              metadata={"example": "苏州市生态环境局"})
    filed_on = fields.Date(required=True, metadata={"example": "2027-01-15"})
    expert_review_ref = fields.String(load_default=None, allow_none=True,
                                      validate=validate.Length(max=200),
                                      metadata={"description": "The expert review it rests on",
                                                "example": "专家评审意见 2026-12-20"})


class VersionSchema(Schema):
    version = fields.Integer()
    status = fields.String()
    family = fields.String()
    formula_text = fields.String()
    parameters = fields.List(fields.Nested(ParameterSchema))
    applicability = fields.Nested(ApplicabilitySchema, attribute="rules")
    daily_cap_g = GramsString(allow_none=True, metadata={"description": "Per citizen per scheme day"})
    effective_from = fields.DateTime(allow_none=True)
    effective_until = fields.DateTime(allow_none=True)
    change_note = fields.String(allow_none=True)
    revision = fields.Integer()
    etag = fields.Function(service.version_etag)
    filing = fields.Function(_filing, metadata={
        "description": "Its filing record with the authority (备案), once recorded: "
                       "{filing_number, authority, filed_on, expert_review_ref, recorded_at}"})
    seeded = fields.Boolean()
    drafted_by = fields.UUID(allow_none=True)
    drafted_at = fields.DateTime()
    submitted_by = fields.UUID(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    approved_by = fields.UUID(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    rejected_by = fields.UUID(allow_none=True)
    rejected_at = fields.DateTime(allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    retired_by = fields.UUID(allow_none=True)
    retired_at = fields.DateTime(allow_none=True)


class MethodologyCreateSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(CODE_RE, error="Upper-case letters, digits and dashes."))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))
    action_type = fields.String(required=True, validate=validate.OneOf(domain.ACTION_TYPES))
    mode = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(domain.TRANSIT_MODES),
                         metadata={"description": "transit only: the mode"})
    scene = fields.String(load_default=None, allow_none=True,
                          validate=validate.OneOf(domain.EVERYDAY_SCENES),
                          metadata={"description": "everyday only: the scene"})
    utility = fields.String(load_default=None, allow_none=True,
                            validate=validate.OneOf(domain.METERED_UTILITIES),
                            metadata={"description": "household_energy only: the metered utility"})


class MethodologySchema(Schema):
    code = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    action_type = fields.String()
    mode = fields.String(allow_none=True)
    scene = fields.String(allow_none=True)
    utility = fields.String(allow_none=True)
    created_at = fields.DateTime()
    versions = fields.List(fields.Nested(VersionSchema))


class MethodologyInForceSchema(Schema):
    code = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    action_type = fields.String()
    mode = fields.String(allow_none=True)
    scene = fields.String(allow_none=True)
    utility = fields.String(allow_none=True)
    version_in_force = fields.Nested(VersionSchema)


class ActivitySchema(Schema):
    distance_km = StrictDecimal(validate=validate.Range(min=0, max=100000, min_inclusive=False))
    boardings = fields.Integer(strict=True, validate=validate.Range(min=1, max=1000))
    energy_kwh = StrictDecimal(validate=validate.Range(min=0, max=100000, min_inclusive=False))
    weight_kg = StrictDecimal(validate=validate.Range(min=0, max=100000, min_inclusive=False))
    category = fields.String(validate=validate.OneOf(domain.WASTE_CATEGORIES))
    events = fields.Integer(strict=True, validate=validate.Range(min=1, max=1000))
    consumption = StrictDecimal(validate=validate.Range(min=0, max=1_000_000),
                                metadata={"description": "metered_baseline: the month's use"})
    baseline = StrictDecimal(validate=validate.Range(min=0, max=1_000_000),
                             metadata={"description": "metered_baseline: the baseline to "
                                       "compare with (computed from the meter's history when "
                                       "a reading is credited)"})
    started_at = AwareDateTime()
    ended_at = AwareDateTime()


class CalculateSchema(Schema):
    version = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=1))
    occurred_at = AwareDateTime(load_default=None)
    channel = fields.String(load_default="partner", validate=validate.OneOf(domain.CHANNELS),
                            metadata={"description": "partner (operator data) or app (self-report)"})
    activity = fields.Nested(ActivitySchema, required=True)


class ReasonSchema(Schema):
    code = fields.String()
    message = fields.String()
    outcome = fields.String(metadata={"description": "reject or review"})


class CalculationSchema(Schema):
    code = fields.String()
    version = fields.Integer()
    version_status = fields.String()
    reduction_g = GramsString()
    points = fields.Integer()
    daily_cap_g = GramsString(allow_none=True)
    outcome = fields.String(metadata={"description": "accept, review or reject"})
    reasons = fields.List(fields.Nested(ReasonSchema))
    breakdown = fields.List(fields.Dict())


class RejectSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class RetireSchema(Schema):
    effective_until = AwareDateTime(load_default=None, metadata={
        "description": "When it stops being in force (default now; never in the past)"})
    reason = fields.String(load_default=None, validate=validate.Length(min=1, max=2000))


class RetirementSchema(Schema):
    id = fields.UUID()
    version = fields.Function(lambda r: r.version.version)
    effective_until = fields.DateTime(allow_none=True, metadata={
        "description": "The end asked for (null: the moment of approval)"})
    reason = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "pending | approved | rejected"})
    requested_by = fields.UUID()
    requested_at = fields.DateTime()
    decided_by = fields.UUID(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)


class RetirementDecisionSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(min=1, max=2000))


class RetirementRejectSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class DiffSchema(Schema):
    code = fields.String()
    from_version = fields.Integer()
    to_version = fields.Integer()
    changes = fields.List(fields.Dict())


MethodologyInForcePageSchema = page_schema(MethodologyInForceSchema, "MethodologyInForcePageSchema")
MethodologyPageSchema = page_schema(MethodologySchema, "MethodologyPageSchema")


def _methodology(methodology, versions) -> dict:
    return {"code": methodology.code, "title": methodology.title,
            "description": methodology.description, "action_type": methodology.action_type,
            **_scope_view(methodology), "created_at": methodology.created_at, "versions": versions}


def _scope_view(methodology) -> dict:
    return scope_mode_fields(methodology.action_type, methodology.mode)


def _with_etag(version):
    return version, {"ETag": service.version_etag(version)}


# --- public ----------------------------------------------------------------------------------

@blp.route("/methodologies", methods=["GET"])
@access.public
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, MethodologyInForcePageSchema)
def list_in_force(args):
    """Approved methodologies in force now, each with its version in force."""
    after = decode_cursor(args["cursor"], converters=(str,))
    rows, last = service.list_methodologies_in_force(after=after, limit=args["limit"])
    items = [{"code": m.code, "title": m.title, "description": m.description,
              "action_type": m.action_type, **_scope_view(m), "version_in_force": v} for m, v in rows]
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/methodologies/<string:code>", methods=["GET"])
@access.public
@blp.response(200, MethodologySchema)
def get_public(code: str):
    """A methodology with its approved and retired versions (parameters, sources, caps)."""
    methodology, versions = service.get_methodology_for_viewer(code=code, viewer=None)
    return _methodology(methodology, versions)


@blp.route("/methodologies/<string:code>/calculate", methods=["POST"])
@access.public
@blp.arguments(CalculateSchema)
@blp.response(200, CalculationSchema)
def calculate(data, code: str):
    """Dry run: the reduction, points and breakdown; admins and auditors may target drafts."""
    result = service.dry_run(code=code, version=data["version"], occurred_at=data["occurred_at"],
                             activity=data["activity"], channel=data["channel"],
                             viewer=optional_user())
    return {"code": result.methodology.code, "version": result.version.version,
            "version_status": result.version.status, "reduction_g": result.reduction_g,
            "points": result.points, "daily_cap_g": result.daily_cap_g, "outcome": result.outcome,
            "reasons": [r.as_dict() for r in result.reasons], "breakdown": result.breakdown}


# --- admin and auditor -------------------------------------------------------------------------

@blp.route("/admin/methodologies", methods=["POST"])
@access("admin")
@blp.arguments(MethodologyCreateSchema)
@blp.response(201, MethodologySchema)
def create_methodology(data):
    """Register a new methodology code and its scope (action type, and mode for transit)."""
    sent = [(name, value) for name in ("mode", "scene", "utility")
            if (value := data.pop(name)) is not None]
    if len(sent) > 1:
        raise ValidationFailed("Send one of mode (transit), scene (everyday) and utility "
                               "(household_energy).", errors={sent[1][0]: [f"Not with {sent[0][0]}."]})
    data["mode"] = sent[0][1] if sent else None
    methodology = service.create_methodology(**data, actor_user_id=g.user.id)
    return _methodology(methodology, [])


@blp.route("/admin/methodologies", methods=["GET"])
@access("admin", "auditor")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, MethodologyPageSchema)
def list_all(args):
    """Every methodology with all its versions, drafts included."""
    after = decode_cursor(args["cursor"], converters=(str,))
    rows, last = service.list_methodologies(after=after, limit=args["limit"])
    items = [_methodology(m, versions) for m, versions in rows]
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/admin/methodologies/<string:code>", methods=["GET"])
@access("admin", "auditor")
@blp.response(200, MethodologySchema)
def get_admin(code: str):
    """A methodology with all its versions, drafts included."""
    methodology, versions = service.get_methodology_for_viewer(code=code, viewer=g.user)
    return _methodology(methodology, versions)


@blp.route("/admin/methodologies/<string:code>/versions", methods=["POST"])
@access("admin")
@blp.arguments(VersionCreateSchema)
@blp.response(201, VersionSchema)
def create_version(data, code: str):
    """Draft a new version (optionally `based_on` an existing one); returns its ETag."""
    based_on = data.pop("based_on", None)
    return _with_etag(service.create_version(code=code, content=data, based_on=based_on,
                                             actor_user_id=g.user.id))


@blp.route(VERSION_PATH, methods=["GET"])
@access("admin", "auditor")
@blp.response(200, VersionSchema)
def get_version(code: str, v: int):
    """One version of any status, with its ETag."""
    return _with_etag(service.get_version_or_raise(code=code, version=v))


@blp.route(VERSION_PATH, methods=["PATCH"])
@access("admin")
@blp.doc(parameters=IF_MATCH_DOC)
@blp.arguments(VersionEditSchema)
@blp.response(200, VersionSchema)
def edit_version(data, code: str, v: int):
    """Edit a draft (If-Match required); approved versions are immutable (409)."""
    return _with_etag(service.update_draft(code=code, version=v, changes=data,
                                           if_match=request.headers.get("If-Match"),
                                           actor_user_id=g.user.id))


@blp.route(VERSION_PATH + "/submit", methods=["POST"])
@access("admin")
@blp.response(200, VersionSchema)
def submit_version(code: str, v: int):
    """Submit a draft for review."""
    return _with_etag(service.submit_version(code=code, version=v, actor_user_id=g.user.id))


@blp.route(VERSION_PATH + "/approve", methods=["POST"])
@access("auditor")
@blp.response(200, VersionSchema)
def approve_version(code: str, v: int):
    """Approve a submitted version (never your own; never overlapping another in force)."""
    return _with_etag(service.approve_version(code=code, version=v, actor_user_id=g.user.id))


@blp.route(VERSION_PATH + "/reject", methods=["POST"])
@access("auditor")
@blp.arguments(RejectSchema)
@blp.response(200, VersionSchema)
def reject_version(data, code: str, v: int):
    """Reject a submitted version with a reason."""
    return _with_etag(service.reject_version(code=code, version=v, reason=data["reason"],
                                             actor_user_id=g.user.id))


@blp.route(VERSION_PATH + "/filing", methods=["POST"])
@access("admin")
@blp.arguments(FilingSchema, example={"filing_number": "苏环备〔2027〕3号",
                                      "authority": "苏州市生态环境局", "filed_on": "2027-01-15",
                                      "expert_review_ref": "专家评审意见 2026-12-20"})
@blp.response(201, VersionSchema)
def record_filing(data, code: str, v: int):
    """Record an approved version's filing with the authority (备案): once, in full, never
    changed afterwards; shown on the public methodology pages."""
    return _with_etag(service.record_filing(
        code=code, version=v, filing_number=data["filing_number"], authority=data["authority"],
        filed_on=data["filed_on"], expert_review_ref=data["expert_review_ref"],
        actor_user_id=g.user.id, today=scheme_today()))


@blp.route(VERSION_PATH + "/retire", methods=["POST"])
@access("admin", "auditor")
@blp.arguments(RetireSchema)
@blp.response(200, VersionSchema)
@blp.alt_response(202, schema=RetirementSchema,
                  description="It is the scope's version in force and nothing takes over: a "
                              "pending retirement another admin or auditor must approve")
def retire_version(data, code: str, v: int):
    """Retire an approved version: it stays in force until `effective_until` (default now).
    Stopping a scope's only version in force is four-eyes (202, pending)."""
    result = service.retire_version(code=code, version=v, effective_until=data["effective_until"],
                                    reason=data["reason"], actor_user_id=g.user.id)
    if isinstance(result, service.MethodologyRetirement):
        return jsonify(RetirementSchema().dump(result)), 202
    return _with_etag(result)


@blp.route(VERSION_PATH + "/retirements", methods=["GET"])
@access("admin", "auditor")
@blp.response(200, RetirementSchema(many=True))
def list_retirements(code: str, v: int):
    """Retirement requests of this version, newest first."""
    return service.list_retirements(code=code, version=v)


@blp.route(VERSION_PATH + "/retire/approve", methods=["POST"])
@access("admin", "auditor")
@blp.arguments(RetirementDecisionSchema)
@blp.response(200, VersionSchema)
def approve_retirement(data, code: str, v: int):
    """Approve someone else's pending retirement (independent of them): the version retires."""
    return _with_etag(service.approve_retirement(code=code, version=v, actor_user_id=g.user.id,
                                                 note=data["note"]))


@blp.route(VERSION_PATH + "/retire/reject", methods=["POST"])
@access("admin", "auditor")
@blp.arguments(RetirementRejectSchema)
@blp.response(200, RetirementSchema)
def reject_retirement(data, code: str, v: int):
    """Reject someone else's pending retirement, with a note: the version stays in force."""
    return service.reject_retirement(code=code, version=v, actor_user_id=g.user.id,
                                     note=data["note"])


@blp.route("/admin/methodologies/<string:code>/versions/<int:a>/diff/<int:b>", methods=["GET"])
@access("admin", "auditor")
@blp.response(200, DiffSchema)
def diff_versions(code: str, a: int, b: int):
    """What changed from version a to version b."""
    return service.diff_versions(code=code, a=a, b=b)


@blp.route("/admin/methodologies/<string:code>/audit-log", methods=["GET"])
@access("admin", "auditor")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, AuditPageSchema)
def audit_log(args, code: str):
    """Every change to this methodology and its versions, newest first, with the acting user."""
    after = decode_cursor(args["cursor"], converters=(int,))
    items, last = service.list_audit_log(code=code, after=after, limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}
