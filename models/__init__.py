"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""
from .base import Base, ExactDecimal, UTCDateTime, db, utcnow  # noqa: F401
from .user import (LEADERBOARD_VISIBILITIES, ONE_TIME_CODE_PURPOSES,  # noqa: F401
                   PRIVILEGED_ROLES, ROLE_GRANT_STATUSES, ROLES, STAFF_ROLES, AuthSession,
                   OneTimeCode, RefreshToken, RevokedAccessToken, RoleGrant, ThrottleCounter,
                   User, UserRole)
from .partner import (BINDING_STATUSES, PARTNER_KINDS, Binding, Partner,  # noqa: F401
                      PartnerScope, PartnerSecret, SeenSignature)
from .audit import AuditEntry  # noqa: F401
from .idempotency import IdempotencyRecord  # noqa: F401
from .methodology import (METHODOLOGY_ACTION_TYPES, METHODOLOGY_FAMILIES,  # noqa: F401
                          METHODOLOGY_MODES, METHODOLOGY_VERSION_STATUSES, Methodology,
                          MethodologyRetirement, MethodologyVersion)
from .ledger import (ACCOUNT_KINDS, HOLD_STATUSES, TRANSFER_KINDS, LedgerAccount,  # noqa: F401
                     LedgerChainHead, LedgerHold, LedgerHoldLot, LedgerLot, LedgerReversal,
                     LedgerAdjustment, LedgerSeal, LedgerTransfer)
from .action import ACTION_STATUSES, Action, DailyCredit  # noqa: F401
from .reward import (REDEMPTION_STATUSES, Redemption, Reward, RewardClaim)  # noqa: F401
from .insights import REPORT_EXPORT_STATUSES, ReportExport  # noqa: F401
from .certificate import (BLOCK_STATUSES, REGISTRY_EVENTS, CertificateBlock,  # noqa: F401
                          CertificateEvent, CertificateLot, CertificateLotAction,
                          CertificateSerialCounter)
