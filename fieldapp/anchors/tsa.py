"""An RFC 3161 time-stamping client, pure: build a request, post it, verify the answer.

No Flask and no database, so the service, the CLI and the tests use the same few calls, and
the ASN.1 and CMS work is rfc3161-client's, never hand-written DER here.

The message imprint of every request is a custody event's hash: the 32 bytes whose lowercase
hex is the event's ``hash``, under SHA-256. rfc3161-client hashes what it is given, so it is
given the event's preimage (previous hash + canonical JSON, the chain rule) and the request is
checked to carry exactly the event hash before it is sent. A court then checks a token with
``openssl ts -verify -digest <custody hash> -in <token> -CAfile <TSA root>``.
"""
from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import rfc3161_client as rfc3161
from cryptography import x509

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
# A TimeStampResp is a few kilobytes; anything far larger is not one.
MAX_REPLY_BYTES = 1 << 20


class TsaError(Exception):
    """A time-stamping authority could not be reached, or its answer was not acceptable."""


@dataclass(frozen=True)
class Token:
    """What a verified TimeStampResp says."""

    gen_time: datetime
    serial_number: int
    tsa_name: str | None


def request_for(preimage: bytes, digest_hex: str) -> rfc3161.TimeStampRequest:
    """A SHA-256 time-stamp request (with a nonce, asking for the TSA's certificate) whose
    message imprint is digest_hex, the SHA-256 of preimage."""
    request = (rfc3161.TimestampRequestBuilder().data(preimage)
               .hash_algorithm(rfc3161.HashAlgorithm.SHA256).nonce(nonce=True)
               .cert_request(cert_request=True).build())
    if request.message_imprint.message != bytes.fromhex(digest_hex):
        raise ValueError("the preimage does not hash to the digest to be time-stamped")
    return request


def post(url: str, request: rfc3161.TimeStampRequest, timeout_s: float) -> bytes:
    """Send the request over HTTP(S) and return the DER answer; TsaError if there is none."""
    http_request = urllib.request.Request(
        url, data=request.as_bytes(), method="POST",
        headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE})
    try:
        with urllib.request.urlopen(http_request, timeout=timeout_s) as answer:
            body = answer.read(MAX_REPLY_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise TsaError(f"{url}: no answer ({_reason(err)})") from err
    if len(body) > MAX_REPLY_BYTES:
        raise TsaError(f"{url}: answer larger than {MAX_REPLY_BYTES} bytes")
    return body


def _reason(err: Exception) -> str:
    return str(getattr(err, "reason", None) or err)


def load_roots(pem: bytes) -> list[x509.Certificate]:
    """The trusted TSA roots from a PEM bundle; ValueError if it holds no certificate."""
    roots = x509.load_pem_x509_certificates(pem)
    if not roots:
        raise ValueError("no certificate in the TSA CA file")
    return roots


def read_roots(path: str | Path) -> list[x509.Certificate]:
    try:
        return load_roots(Path(path).read_bytes())
    except (OSError, ValueError) as err:
        raise TsaError(f"TSA CA file {path}: {err}") from err


def verify(response_der: bytes, digest_hex: str, roots: list[x509.Certificate],
           request: rfc3161.TimeStampRequest | None = None) -> Token:
    """Check a DER TimeStampResp: granted, signed by a timeStamping certificate that chains to
    one of roots, over exactly digest_hex (and, given the request, its nonce). TsaError if not.
    """
    try:
        response = rfc3161.decode_timestamp_response(response_der)
    except ValueError as err:
        raise TsaError(f"not a TimeStampResp ({err})") from err
    builder = (rfc3161.VerifierBuilder.from_request(request) if request is not None
               else rfc3161.VerifierBuilder())
    for root in roots:
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify(response, bytes.fromhex(digest_hex))
    except (rfc3161.VerificationError, ValueError) as err:
        raise TsaError(f"token does not verify ({err})") from err
    info = response.tst_info
    return Token(gen_time=_aware(info.gen_time), serial_number=info.serial_number,
                 tsa_name=_name(info))


def read(response_der: bytes, digest_hex: str) -> Token:
    """What a DER TimeStampResp says, checked only to be over exactly digest_hex: without the
    TSA's root its signature proves nothing (verify checks it). TsaError if not."""
    try:
        info = rfc3161.decode_timestamp_response(response_der).tst_info
        imprint = info.message_imprint.message
    except ValueError as err:
        raise TsaError(f"not a TimeStampResp ({err})") from err
    if imprint != bytes.fromhex(digest_hex):
        raise TsaError(f"the token time-stamps {imprint.hex()}, not the anchored hash")
    return Token(gen_time=_aware(info.gen_time), serial_number=info.serial_number,
                 tsa_name=_name(info))


def _aware(moment: datetime) -> datetime:
    # GeneralizedTime in a token is UTC by definition (RFC 3161 §2.4.2).
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _name(info) -> str | None:
    try:
        name = info.name
    except ValueError:
        return None
    value = getattr(name, "value", None)
    return value.rfc4514_string() if hasattr(value, "rfc4514_string") else None


def timestamp(url: str, preimage: bytes, digest_hex: str, roots: list[x509.Certificate],
              timeout_s: float) -> tuple[bytes, Token]:
    """Ask one TSA to time-stamp digest_hex; return the DER answer, verified, and its token."""
    request = request_for(preimage, digest_hex)
    response = post(url, request, timeout_s)
    try:
        return response, verify(response, digest_hex, roots, request)
    except TsaError as err:
        raise TsaError(f"{url}: {err}") from err
