"""Infrastructure: what any area may use and that knows nothing of sites, consents or users.

database (dialect helpers, PostgreSQL's client deadline), db_errors (database errors told apart
from bugs: outages answer 503), signing (consent tokens), geo and useragent (what an address and
an agent say, coarsely), visitor (the two together), request_checks (what a client sent),
ratelimit, compression (gzip and brotli variants), csvsafe (spreadsheet-safe CSV).
"""
