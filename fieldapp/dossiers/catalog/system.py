"""The system statement: the factors a court weighs about the system that held the evidence
(SPC Provisions on Evidence in Civil Procedure, Art. 93), each answered from the manifest:
software and versions, how photos were received, stored and checked, the monitoring and its
last results, the time-stamps, who handled each item, and what the dossier cannot prove.
"""
from __future__ import annotations

import json
from collections.abc import Mapping

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Table

from fieldapp.dossiers.catalog.plan import _Anchor, _Plan
from fieldapp.dossiers.catalog.tables import _grid_table, _key_value_table
from fieldapp.dossiers.catalog.text import (
    CONTENT_W,
    DASH,
    ROLE_LABELS,
    _bilingual,
    _format_time,
    _item_number,
    _items,
    _mapping,
    _Styles,
    _text,
)

ACTION_LABELS = {
    "received": "接收", "verified": "分析", "original_read": "读取原件", "rechecked": "复查",
    "reviewed": "审查", "site_linked": "关联场所", "exported": "导出",
    "dossier_downloaded": "下载卷宗", "audited": "审计",
}
HANDLER_ROLES = {**ROLE_LABELS, "volunteer": "志愿者", "system": "系统"}


def _system_page(plan: _Plan) -> list[Flowable]:
    styles = plan.styles
    system = _mapping(plan.manifest.get("system"))
    rows = [
        (_bilingual("软件及版本", "Software and versions"),
         _environment_text(_mapping(system.get("environment")), system.get("software"))),
        (_bilingual("系统说明", "How evidence is kept"), _text(system.get("description"))),
        (_bilingual("接收与检查", "Receipt and checks"), _text(system.get("receipt"))),
        (_bilingual("监控与审计", "Monitoring"),
         _monitoring_text(_mapping(system.get("monitoring")))),
        (_bilingual("可信时间戳", "Time-stamps"), _text(system.get("timestamping"))),
        (_bilingual("证明局限", "Limits"), _text(system.get("limits"))),
    ]
    return [
        _Anchor("system", "系统说明 / About the system"),
        styles.label("系统说明 / About the system", styles.heading),
        styles.para("依《最高人民法院关于民事诉讼证据的若干规定》第九十三条所列因素说明。"
                    " / The factors of the SPC Provisions on Evidence in Civil Procedure,"
                    " Art. 93.", styles.small),
        _key_value_table(styles, rows, 30 * mm),
        styles.label("经手人 / Who handled each item", styles.section),
        _handlers_table(styles, plan.manifest),
    ]


def _environment_text(environment: Mapping, software: object) -> str:
    names = (("fieldapp", "fieldapp"), ("python", "Python"), ("postgresql", "PostgreSQL"),
             ("postgis", "PostGIS"), ("os", "操作系统 OS"), ("openssl", "OpenSSL"))
    lines = [f"{label}: {_text(environment.get(key))}" for key, label in names
             if environment.get(key)]
    return "<br/>".join(lines) or _text(software)


def _monitoring_text(monitoring: Mapping) -> str:
    audit = _mapping(monitoring.get("last_audit"))
    if audit:
        result = json.dumps(audit.get("result"), ensure_ascii=False, sort_keys=True)
        last = (f"最近一次审计 last audit: {_format_time(audit.get('at'))}，保管链事件 "
                f"custody event #{_text(audit.get('custody_seq'))}，结果 result: {_text(result)}")
    else:
        last = "尚无审计记录 / no audit recorded yet"
    anchor = _mapping(monitoring.get("last_anchor"))
    anchored = (f"最近一次时间戳 last time-stamp: {_format_time(anchor.get('gen_time'))}，"
                f"{_text(anchor.get('tsa'))}，event #{_text(anchor.get('custody_seq'))}"
                if anchor else "尚无时间戳 / no time-stamp yet")
    every = monitoring.get("audit_interval_s")
    tsa = monitoring.get("tsa")
    return "<br/>".join([
        _text(monitoring.get("audit")),
        f"审计间隔 audit interval: {_text(every)} s" if every else "审计 audits: on demand",
        last,
        "时间戳服务 TSA: " + (_text(", ".join(tsa)) if isinstance(tsa, list) and tsa
                             else "未配置 / none configured"),
        anchored,
    ])


HANDLER_WIDTHS = [14 * mm, CONTENT_W - 14 * mm]


def _handlers_table(styles: _Styles, manifest: Mapping) -> Table:
    rows: list[list] = [["序号 No.",
                         "经手人（角色、化名）及所做操作 / Role, pseudonym and actions"]]
    for index, item in enumerate(_items(manifest)):
        handlers = item.get("handlers")
        handlers = [_mapping(h) for h in handlers] if isinstance(handlers, list) else []
        text = "<br/>".join(_handler_text(handler) for handler in handlers) or DASH
        rows.append([str(_item_number(item, index)), styles.para(text, styles.dense)])
    return _grid_table(rows, HANDLER_WIDTHS, styles.fonts.text, header=True)


def _handler_text(handler: Mapping) -> str:
    role = handler.get("role")
    actions = handler.get("actions") if isinstance(handler.get("actions"), list) else []
    done = "、".join(f"{ACTION_LABELS.get(action, '')} {_text(action)}".strip()
                    for action in actions)
    who = _text(handler.get("pseudonym"), "")
    return f"{HANDLER_ROLES.get(role, '')} {_text(role)} {who}：{done or DASH}"
