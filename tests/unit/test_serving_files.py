"""The files `fieldapp serve` writes, read back the way nginx and supervisord read them."""
from __future__ import annotations

import json
import re
from pathlib import Path

from supervisor.datatypes import RestartUnconditionally
from supervisor.options import ServerOptions, UnhosedConfigParser

from fieldapp.serving.proxy import ProxySettings, nginx_conf
from fieldapp.serving.supervision import Program, supervisord_conf

SETTINGS = ProxySettings(listen="127.0.0.1:5000", upstream_socket=Path("/d/serving/g.sock"),
                         run_dir=Path("/d/serving"), temp_dir=Path("/d/serving/temp"),
                         max_body_bytes=1049624576, temp_file_mb=1024, downloads=4)


def _directives(text: str, name: str) -> list[str]:
    return re.findall(rf"^[ \t]*{name}[ \t]+([^;{{\n]*);", text, flags=re.MULTILINE)


def test_nginx_buffers_bodies_and_responses_within_the_apps_limits():
    text = nginx_conf(SETTINGS)
    assert _directives(text, "client_max_body_size") == ["1049624576"]
    assert _directives(text, "proxy_request_buffering") == ["on"]
    assert _directives(text, "proxy_buffering") == ["on"]
    assert _directives(text, "proxy_max_temp_file_size") == ["1024m"]
    assert _directives(text, "limit_conn") == ["fieldapp_downloads 4"]
    # Every path nginx may write to is under the data directory's serving folder.
    for name in ("client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path",
                 "uwsgi_temp_path", "scgi_temp_path", "pid"):
        [value] = _directives(text, name)
        assert value.startswith("/d/serving/"), (name, value)
    assert _directives(text, "listen") == ["127.0.0.1:5000"]
    assert _directives(text, "server") == ["unix:/d/serving/g.sock"]
    assert _directives(text, "user") == []
    assert "ssl_certificate" not in text


def test_report_and_upload_bodies_are_handed_over_by_file_and_no_client_can_name_one():
    text = nginx_conf(SETTINGS)
    [location] = re.findall(r"location ~ \^/api/v1/\(reports\|uploads\(/\[\^/\]\+\)\?\)\$ "
                            r"\{(.*?)\n        \}", text, re.S)
    assert _directives(location, "client_body_in_file_only") == ["clean"]
    assert _directives(location, "proxy_pass_request_body") == ["off"]
    assert _directives(location, "proxy_set_header Content-Length") == ['""']
    assert _directives(location, "proxy_set_header X-Fieldapp-Body-File") == [
        "$request_body_file"]
    # Everywhere else the header is blanked (nginx drops it), with the usual headers kept.
    assert _directives(text, "proxy_set_header X-Fieldapp-Body-File") == [
        '""', "$request_body_file"]
    assert len(_directives(text, "proxy_set_header X-Forwarded-For")) == 2


def test_only_the_pages_static_assets_are_compressed():
    text = nginx_conf(SETTINGS)
    [location] = re.findall(r"location ~ \^/\(map\|console\)/static/ \{(.*?)\n        \}",
                            text, re.S)
    assert _directives(location, "gzip") == ["on"]
    assert "application/json" in _directives(location, "gzip_types")[0]
    assert _directives(text, "gzip") == ["on"]  # nowhere else: API answers carry secrets


def test_nginx_errors_are_json_in_the_api_error_shape():
    text = nginx_conf(SETTINGS)
    bodies = re.findall(r"return (\d+) '(.*)\\n';", text)
    assert {int(code) for code, _ in bodies} == {413, 429, 502, 503, 504}
    for code, body in bodies:
        error = json.loads(body)
        assert error["code"] == int(code)
        assert set(error) == {"code", "status", "message"}
        assert f"error_page {code} @error_{code};" in text


def test_nginx_terminates_tls_when_given_a_certificate_and_a_user_when_root():
    text = nginx_conf(ProxySettings(**{**SETTINGS.__dict__, "tls_cert": Path("/c/cert.pem"),
                                       "tls_key": Path("/c/key.pem"),
                                       "user": "fieldapp fieldapp"}))
    assert _directives(text, "listen") == ["127.0.0.1:5000 ssl"]
    assert _directives(text, "ssl_certificate") == ["/c/cert.pem"]
    assert _directives(text, "ssl_certificate_key") == ["/c/key.pem"]
    assert _directives(text, "ssl_protocols") == ["TLSv1.2 TLSv1.3"]
    assert _directives(text, "add_header Strict-Transport-Security") == [
        '"max-age=31536000" always']
    assert _directives(text, "user") == ["fieldapp fieldapp"]


def _read_back(text: str) -> dict:
    parser = UnhosedConfigParser()
    parser.read_string(text)
    groups = ServerOptions().process_groups_from_parser(parser)
    return {group.name: group for group in groups}


def test_supervisord_reads_back_every_program_as_written():
    odd = ["/opt/field app/bin/python", "-m", "gunicorn", "--bind", "unix:/d/100%/g.sock"]
    groups = _read_back(supervisord_conf([
        Program("gunicorn", odd, priority=10, stop_wait_s=35),
        Program("analyser", ["py", "-m", "fieldapp.cli", "evidence"], priority=20, count=2),
        Program("nginx", ["/usr/sbin/nginx"], priority=30, stop_signal="QUIT"),
    ], Path("/d/serving")))
    [gunicorn] = groups["gunicorn"].process_configs
    # A space and a % in a path survive supervisord's quoting and %-expansion.
    assert gunicorn.command == (
        "'/opt/field app/bin/python' -m gunicorn --bind unix:/d/100%/g.sock")
    assert gunicorn.stopwaitsecs == 35
    assert gunicorn.autorestart is RestartUnconditionally
    assert [p.name for p in groups["analyser"].process_configs] == ["analyser-0", "analyser-1"]
    [nginx] = groups["nginx"].process_configs
    assert nginx.stopsignal == 3  # SIGQUIT: nginx's graceful stop
    assert nginx.killasgroup and nginx.stopasgroup
    # The listener for programs that cannot start is up before them and stopped after them;
    # gunicorn is started first, nginx stopped first.
    assert sorted(groups, key=lambda name: groups[name].priority) == [
        "fatal", "gunicorn", "analyser", "nginx"]
