"""The rewards marketplace: merchants' catalogue, citizens' redemptions (vouchers), merchant
confirmation, voucher expiry and settlement. Rules and how each is proven: docs/rewards.md.

    catalogue.py    merchant staff's rewards (create, edit with ETags, list), public catalogue
    redemptions.py  reserve, cancel, confirm a voucher; the citizen's redemptions
    expiry.py       voucher expiry (the due-work job) and erasure's closing of open vouchers
    settlement.py   vouchers confirmed and points redeemed per day and reward, per-voucher lines
    invariants.py   check_rewards, run by `ledger verify`
Pure rules (voucher codes, the expiry instant, which hold agrees with a status):
domain/vouchers.py.

Lock order, the same in every use case so no two can deadlock: the redemption row, then the
reward row, then the citizen's claim counter, then the ledger (which locks the citizen's account,
then the merchant's). Redeeming starts at the reward row (its redemption does not exist yet).
"""
from carbon_credits.services.rewards.catalogue import (REWARD_FIELDS, create_reward,
                                                       get_catalog_reward_or_raise,
                                                       get_merchant_reward_or_raise, list_catalog,
                                                       list_merchant_rewards, merchant_partner_id,
                                                       reward_etag, update_reward)
from carbon_credits.services.rewards.expiry import (cancel_open_redemptions,
                                                    release_expired_reservations)
from carbon_credits.services.rewards.invariants import check_rewards
from carbon_credits.services.rewards.redemptions import (VOUCHER_ATTEMPTS, cancel_redemption,
                                                         confirm_redemption,
                                                         get_redemption_or_raise, list_redemptions,
                                                         redeem_reward)
from carbon_credits.services.rewards.settlement import (MAX_CSV_LINES, MAX_SETTLEMENT_DAYS,
                                                        get_merchant_settlement,
                                                        get_merchant_settlement_lines,
                                                        get_partner_settlement,
                                                        get_partner_settlement_lines,
                                                        get_settlement, get_settlement_lines,
                                                        settlement_bounds)

__all__ = [
    "MAX_CSV_LINES", "MAX_SETTLEMENT_DAYS", "REWARD_FIELDS", "VOUCHER_ATTEMPTS", "cancel_open_redemptions",
    "cancel_redemption", "check_rewards", "confirm_redemption", "create_reward",
    "get_catalog_reward_or_raise", "get_merchant_reward_or_raise", "get_merchant_settlement",
    "get_merchant_settlement_lines", "get_partner_settlement", "get_partner_settlement_lines", "get_redemption_or_raise", "get_settlement", "get_settlement_lines", "list_catalog",
    "list_merchant_rewards", "list_redemptions", "merchant_partner_id", "redeem_reward",
    "release_expired_reservations", "reward_etag", "settlement_bounds", "update_reward",
]
