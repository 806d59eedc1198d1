"""carbon_credits: the domain and its use cases. No HTTP in here."""
