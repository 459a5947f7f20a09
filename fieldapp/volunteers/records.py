"""A volunteer's service record, pure: what the Measures for Volunteer Service Records
(民政部令第67号) ask to be recorded, built from plain values and written as CSV.

Only accepted claims are service: work still awaiting evaluation, or sent back for more, is
not yet recorded, so the hours here are exactly those a certificate may state. On-site time
runs from check-in to check-out (travel never counts). Corrections a volunteer asked for
stay in the record with their state, so a reader sees what is disputed and what was decided.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable

BOM = "\ufeff"

CSV_COLUMNS = (
    "claim_id", "task_id", "task_title", "site_id", "site_name", "first_check_in",
    "last_check_out", "on_site_s", "on_site_hours", "reports", "organisation",
    "decision", "rating", "reason", "evaluated_at", "corrections",
)


def hours(seconds: int) -> float:
    """Hours to two decimals, as the record and the certificate state them."""
    return round(seconds / 3600, 2)


def entry(claim: dict, organisation: str) -> dict:
    """One accepted claim as a line of the record."""
    visits = claim["visits"]
    on_site_s = sum(v["on_site_s"] or 0 for v in visits)
    check_ins = [v["checked_in_at"] for v in visits]
    check_outs = [v["checked_out_at"] for v in visits if v["checked_out_at"]]
    return {
        "claim_id": claim["claim_id"], "task_id": claim["task_id"],
        "task_title": claim["task_title"], "site_id": claim["site_id"],
        "site_name": claim["site_name"],
        "first_check_in": min(check_ins) if check_ins else None,
        "last_check_out": max(check_outs) if check_outs else None,
        "on_site_s": on_site_s, "on_site_hours": hours(on_site_s),
        "reports": claim["reports"], "organisation": organisation,
        "evaluation": claim["evaluation"],
    }


def record(volunteer: dict, claims: Iterable[dict], corrections: list[dict],
           organisation: str, trainings: list[dict] | None = None) -> dict:
    """The whole record: the accepted claims, their totals and period, corrections and
    training (kept apart from service hours: training is not service)."""
    entries = sorted((entry(c, organisation) for c in claims if c["status"] == "accepted"),
                     key=lambda e: (e["first_check_in"] is None, e["first_check_in"]))
    total_s = sum(e["on_site_s"] for e in entries)
    starts = [e["first_check_in"] for e in entries if e["first_check_in"]]
    ends = [e["last_check_out"] for e in entries if e["last_check_out"]]
    return {
        "volunteer": volunteer, "organisation": organisation,
        "period": {"start": min(starts) if starts else None,
                   "end": max(ends) if ends else None},
        "total_on_site_s": total_s, "total_hours": hours(total_s),
        "entries": entries, "corrections": corrections, "trainings": trainings or [],
    }


def to_csv(built: dict) -> str:
    """The record's lines as CSV, UTF-8 with a BOM so that Excel reads the Chinese."""
    by_claim: dict = {}
    for correction in built["corrections"]:
        by_claim.setdefault(correction["claim_id"], []).append(correction["status"])
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for line in built["entries"]:
        evaluation = line["evaluation"] or {}
        writer.writerow([
            line["claim_id"], line["task_id"], _cell(line["task_title"]), line["site_id"] or "",
            _cell(line["site_name"] or ""), _iso(line["first_check_in"]),
            _iso(line["last_check_out"]), line["on_site_s"], line["on_site_hours"],
            line["reports"], _cell(line["organisation"]), evaluation.get("decision", ""),
            evaluation.get("rating", ""), _cell(evaluation.get("reason") or ""),
            _iso(evaluation.get("evaluated_at")),
            ";".join(by_claim.get(line["claim_id"], [])),
        ])
    return out.getvalue()


def _iso(value) -> str:
    return value.isoformat() if value else ""


def _cell(text: str) -> str:
    # A cell opening with =, +, - or @ is run as a formula by spreadsheets; a volunteer's
    # record must never turn a task title into one.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
