"""What kind of file an upload is, decided by its first bytes, never by its name."""
from __future__ import annotations

import filetype

# filetype's MIME names for the formats a phone or camera produces.
ACCEPTED = {
    "image/jpeg": "image/jpeg",
    "image/heic": "image/heic",
    "image/heif": "image/heif",
    "image/avif": None,  # AVIF shares HEIF's box structure but is not a camera original here
    "image/png": "image/png",
    "image/tiff": "image/tiff",
}


def sniff(head: bytes) -> str | None:
    """The accepted media type of a file from its first bytes, or None."""
    kind = filetype.guess(head)
    if kind is None:
        return None
    return ACCEPTED.get(kind.mime)


# The file name ending each accepted type is stored and exported under.
SUFFIXES = {"image/jpeg": ".jpg", "image/heic": ".heic", "image/heif": ".heif",
            "image/png": ".png", "image/tiff": ".tiff"}


def suffix(media_type: str) -> str:
    return SUFFIXES.get(media_type, "")
