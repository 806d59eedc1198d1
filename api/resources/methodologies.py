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
from api.i18n import localised
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor, page_schema
from api.resources import methodology_examples as ex
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
    title_zh = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(max=200), metadata={
                                 "description": "Optional Simplified Chinese title, shown to "
                                                "clients that ask for Chinese",
                                 "example": "上海城市轨道交通（地铁）出行，按公里计"})
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


# `title` is the English title as registered (the record; never changes with the language);
# `display_title` is the one to show: Chinese when the client asks for it (Accept-Language,
# docs/localisation.md) and there is one. Neither is in any hash or signed document.
def _english_title():
    return fields.String(metadata={"description": "The English title as registered"})


def _chinese_title():
    return fields.String(allow_none=True, metadata={
        "description": "The Simplified Chinese title, if one was given"})


def _display_title():
    return fields.Function(lambda m: localised(m["title"], m.get("title_zh")), metadata={
        "type": "string", "description": "The title in the response's Content-Language: "
                                         "title_zh for zh-CN when there is one, else title"})


class MethodologySchema(Schema):
    code = fields.String()
    title = _english_title()
    title_zh = _chinese_title()
    display_title = _display_title()
    description = fields.String(allow_none=True)
    action_type = fields.String()
    mode = fields.String(allow_none=True)
    scene = fields.String(allow_none=True)
    utility = fields.String(allow_none=True)
    created_at = fields.DateTime()
    versions = fields.List(fields.Nested(VersionSchema))


class MethodologyInForceSchema(Schema):
    code = fields.String()
    title = _english_title()
    title_zh = _chinese_title()
    display_title = _display_title()
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
            "title_zh": methodology.title_zh,
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
@blp.response(200, MethodologyInForcePageSchema, example=ex.IN_FORCE_PAGE)
def list_in_force(args):
    """Approved methodologies in force now, each with its version in force.

    Public (no login): the factors, sources, bounds and daily cap every credit is computed
    with, one scope per methodology. Ordered by code; keyset pages: pass `next_cursor` back
    as `cursor`."""
    after = decode_cursor(args["cursor"], converters=(str,))
    rows, last = service.list_methodologies_in_force(after=after, limit=args["limit"])
    items = [{"code": m.code, "title": m.title, "title_zh": m.title_zh,
              "description": m.description,
              "action_type": m.action_type, **_scope_view(m), "version_in_force": v} for m, v in rows]
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/methodologies/<string:code>", methods=["GET"])
@access.public
@blp.response(200, MethodologySchema, example=ex.with_versions(ex.FILED))
def get_public(code: str):
    """A methodology with its approved and retired versions (parameters, sources, caps).

    Public. Drafts, submitted and rejected versions are left out (admins and auditors read
    them on `GET /api/v1/admin/methodologies/{code}`); `filing` shows a version's filing with
    the authority once recorded. Unknown code: 404."""
    methodology, versions = service.get_methodology_for_viewer(code=code, viewer=None)
    return _methodology(methodology, versions)


@blp.route("/methodologies/<string:code>/calculate", methods=["POST"])
@access.public
@blp.arguments(CalculateSchema, example=ex.CALCULATION_REQUEST)
@blp.response(200, CalculationSchema, example=ex.CALCULATION)
def calculate(data, code: str):
    """Dry run: the reduction, points and breakdown; admins and auditors may target drafts.

    Public; stores and credits nothing. Without `version` the version in force at
    `occurred_at` (default now) is used (none: 409 `methodology_not_in_force`). `outcome` says
    what a real claim would get (`accept`, `review` as for an app self-report, `reject` outside
    the bounds, with `reasons`). Naming an unapproved version needs an admin's or auditor's
    token (401 `token_missing` without one, 403 `draft_access` for others)."""
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
@blp.arguments(MethodologyCreateSchema, example=ex.METHODOLOGY_REQUEST)
@blp.response(201, MethodologySchema, example=ex.METHODOLOGY)
def create_methodology(data):
    """Register a new methodology code and its scope (action type, and mode for transit).

    Admins only. The scope is the action type plus one of `mode` (transit), `scene`
    (everyday) or `utility` (household_energy); sending two is a 422. It starts with no
    version: draft one next. A code already registered is a 409 (`methodology_exists`).
    Audited."""
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
@blp.response(200, MethodologyPageSchema,
              example={"items": [ex.with_versions(ex.SUBMITTED)], "next_cursor": None})
def list_all(args):
    """Every methodology with all its versions, drafts included.

    Admins and auditors (the review queue: versions with `status: submitted`). Ordered by
    code; keyset pages as in `GET /api/v1/methodologies`."""
    after = decode_cursor(args["cursor"], converters=(str,))
    rows, last = service.list_methodologies(after=after, limit=args["limit"])
    items = [_methodology(m, versions) for m, versions in rows]
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/admin/methodologies/<string:code>", methods=["GET"])
@access("admin", "auditor")
@blp.response(200, MethodologySchema, example=ex.with_versions(ex.EDITED))
def get_admin(code: str):
    """A methodology with all its versions, drafts included.

    Admins and auditors. Each version carries its `etag` for the draft edits; unknown code:
    404."""
    methodology, versions = service.get_methodology_for_viewer(code=code, viewer=g.user)
    return _methodology(methodology, versions)


@blp.route("/admin/methodologies/<string:code>/versions", methods=["POST"])
@access("admin")
@blp.arguments(VersionCreateSchema, example=ex.VERSION_REQUEST)
@blp.response(201, VersionSchema, example=ex.DRAFT)
def create_version(data, code: str):
    """Draft a new version (optionally `based_on` an existing one); returns its ETag.

    Admins only. `based_on` copies that version's content first, then the fields sent
    override it; `family` and `parameters` are needed one way or the other (422), and the
    family decides which parameters and bounds fit. The draft changes nothing until it is
    submitted and approved. Audited."""
    based_on = data.pop("based_on", None)
    return _with_etag(service.create_version(code=code, content=data, based_on=based_on,
                                             actor_user_id=g.user.id))


@blp.route(VERSION_PATH, methods=["GET"])
@access("admin", "auditor")
@blp.response(200, VersionSchema, example=ex.EDITED)
def get_version(code: str, v: int):
    """One version of any status, with its ETag.

    Admins and auditors. Send the `ETag` as `If-Match` to edit a draft; unknown: 404
    (`methodology_version_not_found`)."""
    return _with_etag(service.get_version_or_raise(code=code, version=v))


@blp.route(VERSION_PATH, methods=["PATCH"])
@access("admin")
@blp.doc(parameters=IF_MATCH_DOC)
@blp.arguments(VersionEditSchema, example=ex.EDIT_REQUEST)
@blp.response(200, VersionSchema, example=ex.EDITED)
def edit_version(data, code: str, v: int):
    """Edit a draft (If-Match required); approved versions are immutable (409).

    Admins only; only the fields sent change, `revision` and the `ETag` move on. Without
    `If-Match` it is a 428, with a stale one a 412 (someone else edited it meanwhile: read it
    again). A submitted or rejected version is a 409 (`version_not_draft`), an approved or
    retired one a 409 (`version_immutable`: draft a new version). Audited with the changes."""
    return _with_etag(service.update_draft(code=code, version=v, changes=data,
                                           if_match=request.headers.get("If-Match"),
                                           actor_user_id=g.user.id))


@blp.route(VERSION_PATH + "/submit", methods=["POST"])
@access("admin")
@blp.response(200, VersionSchema, example=ex.SUBMITTED)
def submit_version(code: str, v: int):
    """Submit a draft for review.

    Admins only. The draft must have `effective_from` (422); anything but a draft is a 409
    (`invalid_transition`). An auditor who did not draft, edit or submit it then approves or
    rejects it."""
    return _with_etag(service.submit_version(code=code, version=v, actor_user_id=g.user.id))


@blp.route(VERSION_PATH + "/approve", methods=["POST"])
@access("auditor")
@blp.response(200, VersionSchema, example=ex.APPROVED)
def approve_version(code: str, v: int):
    """Approve a submitted version (never your own; never overlapping another in force).

    Auditors only, independent of its authors (403 `four_eyes`). From `effective_from` it is
    in force for its scope and immutable; the version of this code in force then ends there.
    Refused with 409: another code's version overlaps it in the scope (`methodology_overlap`),
    it starts at or before the version it would replace (`replacement_starts_too_early`) or
    would end it in the past (`replacement_in_the_past`), or it is not submitted."""
    return _with_etag(service.approve_version(code=code, version=v, actor_user_id=g.user.id))


@blp.route(VERSION_PATH + "/reject", methods=["POST"])
@access("auditor")
@blp.arguments(RejectSchema, example={"reason": ex.REJECTED["rejection_reason"]})
@blp.response(200, VersionSchema, example=ex.REJECTED)
def reject_version(data, code: str, v: int):
    """Reject a submitted version with a reason.

    Auditors only. The reason is kept on the version (`rejection_reason`) for its authors; a
    rejected version is never edited again: draft a new one `based_on` it. A version not
    submitted is a 409 (`invalid_transition`)."""
    return _with_etag(service.reject_version(code=code, version=v, reason=data["reason"],
                                             actor_user_id=g.user.id))


@blp.route(VERSION_PATH + "/filing", methods=["POST"])
@access("admin")
@blp.arguments(FilingSchema, example=ex.FILING_REQUEST)
@blp.response(201, VersionSchema, example=ex.FILED)
def record_filing(data, code: str, v: int):
    """Record an approved version's filing with the authority (备案).

    Admins only; once, in full, never changed afterwards, and shown on the public methodology
    pages. `filed_on` must not be in the future (422). A version not approved is a 409
    (`version_not_approved`), one already filed a 409 (`already_filed`). Audited."""
    return _with_etag(service.record_filing(
        code=code, version=v, filing_number=data["filing_number"], authority=data["authority"],
        filed_on=data["filed_on"], expert_review_ref=data["expert_review_ref"],
        actor_user_id=g.user.id, today=scheme_today()))


@blp.route(VERSION_PATH + "/retire", methods=["POST"])
@access("admin", "auditor")
@blp.arguments(RetireSchema, example=ex.RETIRE_REQUEST)
@blp.response(200, VersionSchema, example=ex.RETIRED)
@blp.alt_response(202, schema=RetirementSchema,
                  description="It is the scope's version in force and nothing takes over: a "
                              "pending retirement another admin or auditor must approve",
                  example=ex.PENDING_RETIREMENT)
def retire_version(data, code: str, v: int):
    """Retire an approved version: it stays in force until `effective_until` (default now).

    Admins and auditors. Stopping a scope's only version in force would stop its crediting, so
    that is four-eyes: the answer is a 202 with a pending retirement that someone else
    approves (`.../retire/approve`) or rejects. `effective_until` in the past is a 422 (credits
    computed under it must stay explained); a version not approved is a 409."""
    result = service.retire_version(code=code, version=v, effective_until=data["effective_until"],
                                    reason=data["reason"], actor_user_id=g.user.id)
    if isinstance(result, service.MethodologyRetirement):
        return jsonify(RetirementSchema().dump(result)), 202
    return _with_etag(result)


@blp.route(VERSION_PATH + "/retirements", methods=["GET"])
@access("admin", "auditor")
@blp.response(200, RetirementSchema(many=True), example=[ex.PENDING_RETIREMENT])
def list_retirements(code: str, v: int):
    """Retirement requests of this version, newest first.

    Admins and auditors: pending, approved and rejected requests with who asked and who
    decided. Unknown version: 404."""
    return service.list_retirements(code=code, version=v)


@blp.route(VERSION_PATH + "/retire/approve", methods=["POST"])
@access("admin", "auditor")
@blp.arguments(RetirementDecisionSchema, example={"note": "Version 2 is filed; agreed."})
@blp.response(200, VersionSchema, example=ex.RETIRED)
def approve_retirement(data, code: str, v: int):
    """Approve someone else's pending retirement (independent of them): the version retires.

    Admins and auditors other than the requester (403 `four_eyes`). It stops being in force
    at the `effective_until` asked for, or now if that has passed. No pending request: 404
    (`retirement_not_found`)."""
    return _with_etag(service.approve_retirement(code=code, version=v, actor_user_id=g.user.id,
                                                 note=data["note"]))


@blp.route(VERSION_PATH + "/retire/reject", methods=["POST"])
@access("admin", "auditor")
@blp.arguments(RetirementRejectSchema,
               example={"note": ex.REJECTED_RETIREMENT["decision_note"]})
@blp.response(200, RetirementSchema, example=ex.REJECTED_RETIREMENT)
def reject_retirement(data, code: str, v: int):
    """Reject someone else's pending retirement, with a note: the version stays in force.

    Admins and auditors other than the requester (403 `four_eyes`); the note is required.
    No pending request: 404 (`retirement_not_found`)."""
    return service.reject_retirement(code=code, version=v, actor_user_id=g.user.id,
                                     note=data["note"])


@blp.route("/admin/methodologies/<string:code>/versions/<int:a>/diff/<int:b>", methods=["GET"])
@access("admin", "auditor")
@blp.response(200, DiffSchema, example=ex.DIFF)
def diff_versions(code: str, a: int, b: int):
    """What changed from version a to version b.

    Admins and auditors, for any two versions of one code (a reviewer compares a submitted
    version with the one in force). Each change names a field (`parameters.<name>.value` for
    a factor) with its value before and after. Unknown version: 404."""
    return service.diff_versions(code=code, a=a, b=b)


@blp.route("/admin/methodologies/<string:code>/audit-log", methods=["GET"])
@access("admin", "auditor")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, AuditPageSchema, example=ex.AUDIT_PAGE)
def audit_log(args, code: str):
    """Every change to this methodology and its versions, newest first, with the acting user.

    Admins and auditors. Creation, drafts and edits (with the fields changed), submission,
    review, filing and retirement each leave one entry. Keyset pages: pass `next_cursor` back
    as `cursor`."""
    after = decode_cursor(args["cursor"], converters=(int,))
    items, last = service.list_audit_log(code=code, after=after, limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}
