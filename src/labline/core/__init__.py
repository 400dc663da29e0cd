"""Core: domain types, hashing and fingerprints. No I/O frameworks (no SQLAlchemy, no FastAPI)."""
