"""Methodology registry: codes, versions and their lifecycle, selection by time, dry runs.

Lifecycle: draft -> submitted -> approved -> retired, or submitted -> rejected (with reason).
One module per use case:

    catalogue    reads: methodologies, versions, the version in force, pages, diffs, audit log
    calculation  the parsed-definition cache, quantify (claims) and dry_run (calculator)
    content      validating a version's content and writing it onto a draft
    locks        the row locks, in the one lock order every writer follows
    authoring    registering a code, drafting and editing versions (ETags)
    review       submit, approve (four-eyes, overlap, supersession), reject
    retirement   retiring a version; the four-eyes retirement request
    filing       recording an approved version's filing with the authority
    seed         the seed file and `flask seed`
    invariants   what `verify` checks of the registry

Every transition and edit writes an audit row (object_type "methodology", object_id the code).
Callers import from this package; the names below are its interface.
"""
from __future__ import annotations

from carbon_credits.domain.vocabulary import IN_FORCE_STATUSES, scope_key
from carbon_credits.services.methodologies.authoring import (create_methodology, create_version,
                                                             update_draft)
from carbon_credits.services.methodologies.calculation import (Quantification, definition_of,
                                                               dry_run, full_breakdown, quantify,
                                                               quantify_with_version)
from carbon_credits.services.methodologies.catalogue import (
    OBJECT_TYPE, PUBLIC_STATUSES, REVIEWER_ROLES, can_see_unapproved, diff_versions,
    get_methodology, get_methodology_for_viewer, get_methodology_or_raise, get_version_in_force,
    get_version_in_force_or_raise, get_version_or_raise, list_audit_log, list_methodologies,
    list_methodologies_in_force, list_versions, snapshot, version_etag)
from carbon_credits.services.methodologies.content import CONTENT_FIELDS
from carbon_credits.services.methodologies.filing import record_filing
from carbon_credits.services.methodologies.invariants import check_methodology_invariants
from carbon_credits.services.methodologies.retirement import (approve_retirement,
                                                              list_retirements,
                                                              reject_retirement, retire_version)
from carbon_credits.services.methodologies.review import (approve_version, reject_version,
                                                          submit_version)
from carbon_credits.services.methodologies.seed import (SEED_FILE, seed_methodologies,
                                                        seeded_scopes)
from models import MethodologyRetirement  # what retire_version returns when four-eyes applies

__all__ = [
    "CONTENT_FIELDS", "IN_FORCE_STATUSES", "OBJECT_TYPE", "PUBLIC_STATUSES", "REVIEWER_ROLES",
    "SEED_FILE", "MethodologyRetirement", "Quantification",
    "approve_retirement", "approve_version", "can_see_unapproved", "check_methodology_invariants",
    "create_methodology", "create_version", "definition_of", "diff_versions", "dry_run",
    "full_breakdown",
    "get_methodology", "get_methodology_for_viewer", "get_methodology_or_raise",
    "get_version_in_force", "get_version_in_force_or_raise", "get_version_or_raise",
    "list_audit_log", "list_methodologies", "list_methodologies_in_force", "list_retirements",
    "list_versions", "quantify", "quantify_with_version", "record_filing", "reject_retirement",
    "reject_version",
    "retire_version", "scope_key", "seed_methodologies", "seeded_scopes", "snapshot",
    "submit_version", "update_draft", "version_etag",
]
