"""Pure rules of the merchant desk (docs/merchants.md): a reward's category and image URL, and
what a merchant's lead may do to a staff account of their merchant."""
from __future__ import annotations

from carbon_credits.domain import urls
from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.vocabulary import MAX_IMAGE_URL_LENGTH, REWARD_CATEGORIES

# The roles a lead's staff may hold: anything more (admin, auditor, verifier) is the scheme's to
# manage, and so is leadership itself.
LEAD_MANAGEABLE_ROLES = frozenset({"merchant", "citizen"})


def mask_holder(display_name: str | None) -> str:
    """A voucher's holder as a merchant may see them: the name's first character and two stars
    (王**); never an e-mail, phone or id."""
    return (display_name or "")[:1] + "**"


def reward_category(value: str | None) -> str:
    """One of REWARD_CATEGORIES (None: `other`), else ValidationFailed."""
    if value is None:
        return "other"
    if value not in REWARD_CATEGORIES:
        raise ValidationFailed("category must be one of " + ", ".join(REWARD_CATEGORIES) + ".",
                               errors={"category": ["Unknown category."]})
    return value


def image_url_problem(url: str) -> str | None:
    """Why `url` may not be a reward's image (None: it may): an absolute `https://` URL to a
    public host, at most MAX_IMAGE_URL_LENGTH characters (`domain/urls.py`)."""
    return urls.url_problem(url, schemes=("https",), max_length=MAX_IMAGE_URL_LENGTH,
                            public_host=True)


def reward_image_url(value: str | None) -> str | None:
    """The image URL to store (None or "": no image), else ValidationFailed."""
    if not value:
        return None
    problem = image_url_problem(value)
    if problem:
        raise ValidationFailed("image_url: " + problem, errors={"image_url": [problem]})
    return value


def lead_may_manage(*, lead_id, lead_partner_id, target_id, target_partner_id,
                    target_roles: frozenset[str] | set[str], target_is_lead: bool) -> str | None:
    """Why a lead may not change this staff account (None: they may): `not_found` for anyone
    not of the lead's merchant (another merchant's staff look unknown), `self_management`,
    `lead_managed_by_admin` for another lead, `privileged_target` for an account holding a role
    beyond merchant and citizen."""
    if target_partner_id is None or target_partner_id != lead_partner_id \
            or "merchant" not in target_roles:
        return "not_found"
    if target_id == lead_id:
        return "self_management"
    if target_is_lead:
        return "lead_managed_by_admin"
    if set(target_roles) - LEAD_MANAGEABLE_ROLES:
        return "privileged_target"
    return None
