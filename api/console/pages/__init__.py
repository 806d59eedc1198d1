"""The console's pages, one module per desk: home (sign-in), methodologies, reviews, oversight
(adjustments, lots, audit log, ledger), reports, desk (merchant vouchers)."""
