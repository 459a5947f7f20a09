"""Complaints filed with the authorities about a site: channel, number, cited reports,
deadlines, dated updates, and the packet (a PDF letter) that goes with a filing."""
