"""The complaint history page: the site's complaints to the authorities, their deadlines and
every dated update, as the manifest's `complaints` block records them (none: no page)."""
from __future__ import annotations

from collections.abc import Mapping

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, PageBreak, Spacer

from fieldapp.complaints.rules import CHANNEL_LABELS, KIND_LABELS, STATUS_LABELS
from fieldapp.dossiers.catalog.plan import _Anchor, _Plan
from fieldapp.dossiers.catalog.tables import _grid_table, _key_value_table
from fieldapp.dossiers.catalog.text import (
    CONTENT_W,
    DASH,
    _bilingual,
    _format_time,
    _mapping,
    _Styles,
    _text,
)

UPDATE_WIDTHS = [30 * mm, 22 * mm, CONTENT_W - 52 * mm]
DEADLINE_NAMES = {"acceptance": "受理期限 / Acceptance", "result": "办理期限 / Result"}


def _complaints_page(plan: _Plan) -> list[Flowable]:
    styles = plan.styles
    block = _mapping(plan.manifest.get("complaints"))
    entries = block.get("entries") if isinstance(block.get("entries"), list) else []
    if not entries:
        return []
    story: list[Flowable] = [
        PageBreak(),
        _Anchor("complaints", "投诉记录 / Complaints to the authorities"),
        styles.label("投诉记录 / Complaints to the authorities", styles.heading),
        styles.para(_text(block.get("description")), styles.small),
    ]
    for entry in map(_mapping, entries):
        story += [Spacer(1, 6),
                  styles.label(f"投诉编号 Complaint {_text(entry.get('number'))}",
                               styles.section),
                  _key_value_table(styles, _complaint_rows(entry), 30 * mm),
                  Spacer(1, 3), _updates_table(styles, entry)]
    return story


def _complaint_rows(entry: Mapping) -> list[tuple[str, str]]:
    channel = entry.get("channel")
    status = entry.get("status")
    reports = entry.get("report_ids") if isinstance(entry.get("report_ids"), list) else []
    rows = [
        (_bilingual("渠道", "Channel"), _text(CHANNEL_LABELS.get(channel, channel))),
        (_bilingual("受理机关", "Authority"), _text(entry.get("authority"))),
        (_bilingual("提交时间", "Filed"), _format_time(entry.get("filed_at"))),
        (_bilingual("投诉事项", "Summary"), _text(entry.get("summary"))),
        (_bilingual("引用报告", "Reports cited"),
         "<br/>".join(_text(report) for report in reports) or DASH),
        (_bilingual("状态", "Status"), f"{STATUS_LABELS.get(status, '')} {_text(status)}"),
    ]
    deadlines = _mapping(entry.get("deadlines"))
    for name, label in DEADLINE_NAMES.items():
        rows.append((label, _deadline_text(_mapping(deadlines.get(name)))))
    rows.append((_bilingual("保管链", "Custody"), _text(entry.get("custody_hash"))))
    return rows


def _deadline_text(deadline: Mapping) -> str:
    if not deadline:
        return DASH
    if deadline.get("lapsed"):
        state = "已逾期未答复 / lapsed with no answer"
    elif deadline.get("met_at"):
        late = "（逾期 late）" if deadline.get("late") else ""
        state = f"已答复 answered {_format_time(deadline.get('met_at'))}{late}"
    else:
        state = "未到期 / not yet due"
    return f"最后一日 last day {_text(deadline.get('last_day'))}；{state}"


def _updates_table(styles: _Styles, entry: Mapping) -> Flowable:
    rows: list[list] = [["日期 Date", "事项 Kind", "内容 / What the authority did"]]
    updates = entry.get("updates") if isinstance(entry.get("updates"), list) else []
    for update in map(_mapping, updates):
        kind = update.get("kind")
        said = [(label, update.get(key)) for key, label in (
            ("reply_text", "答复 reply"), ("outcome", "结果 outcome"),
            ("penalty_number", "处罚决定书文号 penalty decision"),
            ("extension_days", "延期天数 days extended"), ("reason", "理由 reason"),
            ("report_ids", "补充引用报告 further reports cited"))
            if update.get(key) not in (None, "")]
        text = "<br/>".join(
            f"{label}: " + ("<br/>".join(map(_text, value)) if isinstance(value, list)
                            else _text(value)) for label, value in said) or DASH
        rows.append([styles.para(_format_time(update.get("occurred_at")), styles.dense),
                     styles.para(f"{KIND_LABELS.get(kind, '')} {_text(kind)}", styles.dense),
                     styles.para(text, styles.dense)])
    if len(rows) == 1:
        rows.append(["", "", "尚无答复或进展 / No update recorded"])
    return _grid_table(rows, UPDATE_WIDTHS, styles.fonts.text, header=True)
