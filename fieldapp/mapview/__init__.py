"""The coordinators' map page: a static page drawing the hotspot, site and tile endpoints."""
