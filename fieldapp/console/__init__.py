"""The staff console: review queue, sites, cases and dossiers, users, in one web page."""
