"""Engagement (docs/engagement.md): campaigns and challenges with bonus points, check-ins,
levels and badges. Progress is always computed from the citizen's credited actions (and
check-ins) in the database, never from anything the client sends.

    campaigns  admins create, list and close campaigns
    progress   a citizen's progress on each campaign, and the claim of a completed one's bonus
    checkins   daily check-ins, streaks, levels and badges

Bonus points are `bonus` transfers from the `incentive` account (services/ledger/bonuses.py):
they carry no grams, so no reduction figure ever counts them.
"""
