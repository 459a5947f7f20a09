"""OGC API – Features (Part 1 Core, GeoJSON) over sites, reports and hotspots."""
