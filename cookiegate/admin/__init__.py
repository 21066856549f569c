"""The admin console (/admin/): sites, their banners, services and cookies, users, tokens, the consent log and the audit trail."""
