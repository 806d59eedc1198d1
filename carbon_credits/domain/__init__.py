"""Pure domain core: no Flask, no SQLAlchemy, nothing of ours imported."""
