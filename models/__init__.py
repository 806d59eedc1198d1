"""SQLAlchemy models, one module per aggregate. Importing this package registers them all.

The words the models are constrained to (statuses, kinds, roles, bounds) are defined in
`carbon_credits/domain/vocabulary.py`; import them from there, not from here."""
from .base import Base, ExactDecimal, UTCDateTime, db, utcnow  # noqa: F401
from .user import (AuthSession, OneTimeCode, RefreshToken, RevokedAccessToken,  # noqa: F401
                   RoleGrant, ThrottleCounter, User, UserRegion, UserRole)
from .partner import (Binding, Partner, PartnerScope, PartnerSecret, PartnerStation,  # noqa: F401
                      SeenSignature)  # noqa: F401
from .audit import AuditEntry  # noqa: F401
from .idempotency import IdempotencyRecord  # noqa: F401
from .methodology import (CatalogueRevision, Methodology, MethodologyRetirement,  # noqa: F401
                          MethodologyVersion)
from .ledger import (LedgerAccount, LedgerAdjustment, LedgerChainHead, LedgerHold,  # noqa: F401
                     LedgerHoldLot, LedgerLot, LedgerReversal, LedgerSeal, LedgerTransfer,
                     LedgerTransferKey)
from .action import Action, ActionKey, DailyCredit  # noqa: F401
from .household import Household, HouseholdMember, MeterReading  # noqa: F401
from .reward import Redemption, Reward, RewardClaim  # noqa: F401
from .insights import ReportExport  # noqa: F401
from .certificate import (CertificateBlock, CertificateEvent, CertificateLot,  # noqa: F401
                          CertificateLotAction, CertificateLotManifest,
                          CertificateLotVerification, CertificateSerialCounter,
                          RetirementCertificate, RetirementCertificateBlock)
from .event import CarbonEvent, CarbonEventRetirement  # noqa: F401
from .donation import Donation, PublicProject  # noqa: F401
from .signing import SignedChainHead, SigningKey  # noqa: F401
from .webhook import (WebhookDelivery, WebhookDeliveryAttempt, WebhookEvent,  # noqa: F401
                      WebhookSubscription, WebhookSubscriptionEvent)
from .notification import Notification  # noqa: F401
from .engagement import Campaign, CampaignClaim, CheckIn  # noqa: F401
