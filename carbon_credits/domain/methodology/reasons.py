"""Why a claim cannot simply be credited, and the outcome a list of such reasons decides."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Reason:
    code: str
    message: str
    outcome: str  # "reject" or "review"

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "outcome": self.outcome}


def decide(reasons: list[Reason]) -> str:
    """`reject` if any reason rejects, else `review` if any asks for review, else `accept`."""
    outcomes = {r.outcome for r in reasons}
    return "reject" if "reject" in outcomes else "review" if "review" in outcomes else "accept"
