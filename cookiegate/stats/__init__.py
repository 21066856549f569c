"""Consent statistics: rollups (rollup.py), figures (figures.py) and the query (params.py); the
API serves them at /api/v1/sites/<key>/stats (api/stats.py)."""
