"""The nginx configuration `fieldapp serve` writes at each start (pure: settings in, text out).

Why nginx in front of gunicorn: gunicorn's threads each serve one connection from its first
header byte to its last response byte, so 60 clients sending headers slowly and a few
phones uploading at 4 KB/s occupy every thread and the server answers nothing. nginx is
event-driven: it holds those connections for a few KB each, reads a whole request before
passing it on, and takes a whole response off gunicorn as fast as gunicorn writes it, so a
gunicorn thread only ever works at memory speed. gunicorn's documentation recommends
exactly this arrangement.

Kept out of Flask and the database so the text can be checked with plain values.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# In-memory buffers per response before nginx spools to disk; bodies likewise per request.
RESPONSE_BUFFERS = "16 64k"
BODY_BUFFER = "256k"

# The request header naming the temp file that holds a handed-over body.
HANDOVER_HEADER = "X-Fieldapp-Body-File"

# The error bodies nginx itself answers with, in the API's one error shape.
_ERRORS = {
    413: ("Payload Too Large", "The request body is larger than this server accepts."),
    429: ("Too Many Requests", "Too many dossier downloads at once; try again shortly."),
    502: ("Bad Gateway", "The application is restarting; try again shortly."),
    503: ("Service Unavailable", "The application is restarting; try again shortly."),
    504: ("Gateway Timeout", "The application took too long to answer."),
}


@dataclass(frozen=True)
class ProxySettings:
    """What the proxy needs to know; every value comes from fieldapp.config."""

    listen: str                 # FIELDAPP_BIND: host:port, [v6]:port
    upstream_socket: Path       # gunicorn's unix socket
    run_dir: Path               # pid file
    temp_dir: Path              # request bodies and responses spooled to disk
    max_body_bytes: int         # the app's MAX_CONTENT_LENGTH
    header_timeout_s: int = 20
    body_timeout_s: int = 60
    app_timeout_s: int = 300
    temp_file_mb: int = 1024
    downloads: int = 4
    tls_cert: Path | None = None
    tls_key: Path | None = None
    user: str | None = None     # workers' user when started as root
    open_files: int = 1024      # the hard limit of open files nginx's workers may raise to

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


def nginx_conf(s: ProxySettings) -> str:
    """The whole nginx.conf: no include of the system's configuration, no default paths."""
    user = f"user {s.user};\n" if s.user else ""
    ssl = " ssl" if s.tls else ""
    tls_block = ""
    if s.tls:
        tls_block = f"""
        ssl_certificate {s.tls_cert};
        ssl_certificate_key {s.tls_key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:fieldapp_tls:10m;
        ssl_session_timeout 1d;
        # Passwords, tokens and GPS-tagged photos: browsers must never fall back to http.
        add_header Strict-Transport-Security "max-age=31536000" always;
"""
    error_pages = "\n".join(
        f"        error_page {code} @error_{code};" for code in _ERRORS)
    error_locations = "\n".join(_error_location(code, *text) for code, text in _ERRORS.items())
    temp = s.temp_dir
    return f"""# Written by `fieldapp serve` from the environment at every start; edits are lost.
daemon off;
master_process on;
worker_processes auto;
pid {s.run_dir / "nginx.pid"};
# Errors only: nginx's warnings (a large answer buffered to a temp file, which is the
# design) name the client's address and the whole request line, query included.
error_log stderr error;
{user}# Each proxied request holds two descriptors (client and gunicorn), a spooled one three.
worker_rlimit_nofile {s.open_files};
events {{
    worker_connections {max(256, min(8192, s.open_files // 3))};
}}

http {{
    default_type application/octet-stream;
    server_tokens off;
    # What the log may say of a volunteer: their network, not their address (the last
    # IPv4 byte and all but 48 bits of IPv6 dropped); the path, not the query (GET
    # /tasks?near=lon,lat carries where a volunteer stands); no user agent (it names the
    # phone's model). The time gunicorn spent on a request (up=) beside the whole
    # request's: a slow reader shows a long request and a short upstream.
    map $remote_addr $client_network {{
        ~^(?<v4>[0-9]+[.][0-9]+[.][0-9]+)[.][0-9]+$ $v4.0;
        ~^(?<v6>[0-9a-fA-F]*:[0-9a-fA-F]*:[0-9a-fA-F]*):  $v6::;
        default -;
    }}
    log_format fieldapp '$client_network "$request_method $uri $server_protocol" $status '
                        '$body_bytes_sent $request_time up=$upstream_response_time';
    access_log /dev/stdout fieldapp;

    # Slow clients wait here, never in gunicorn. A sender that stalls this long between
    # two reads (headers: in total) is dropped; a phone at 4 KB/s never stalls that long.
    client_header_timeout {s.header_timeout_s}s;
    client_body_timeout {s.body_timeout_s}s;
    send_timeout {s.body_timeout_s}s;
    keepalive_timeout 65s;
    reset_timedout_connection on;

    # The whole body is read (to disk beyond the buffer) before gunicorn sees the request.
    client_max_body_size {s.max_body_bytes};
    client_body_buffer_size {BODY_BUFFER};
    client_body_temp_path {temp / "body"} 1 2;
    proxy_request_buffering on;

    # Responses are taken off gunicorn at its speed and spooled for slow readers, up to
    # {s.temp_file_mb} MB a response on disk; only a response larger than that (a dossier
    # of gigabytes) holds its gunicorn thread once the reader falls that far behind.
    proxy_buffering on;
    proxy_buffer_size 16k;
    proxy_buffers {RESPONSE_BUFFERS};
    proxy_busy_buffers_size 256k;
    proxy_max_temp_file_size {s.temp_file_mb}m;
    proxy_temp_file_write_size 256k;
    proxy_temp_path {temp / "proxy"} 1 2;
    # Modules this server does not use still want writable paths when it starts.
    fastcgi_temp_path {temp / "fastcgi"};
    uwsgi_temp_path {temp / "uwsgi"};
    scgi_temp_path {temp / "scgi"};

    proxy_http_version 1.1;
    proxy_connect_timeout 5s;
    proxy_send_timeout 60s;
    proxy_read_timeout {s.app_timeout_s}s;
    proxy_redirect off;
{_forwarded_headers("    ")}

    map $http_x_forwarded_proto $fieldapp_forwarded_proto {{
        "" $scheme;
        default "$http_x_forwarded_proto, $scheme";
    }}

    # Every dossier download may spool up to the cap above; this bounds how many at once,
    # so the proxy's temp files never exceed downloads x cap.
    limit_conn_zone $server_port zone=fieldapp_downloads:1m;
    limit_conn_status 429;
    limit_conn_log_level warn;

    upstream fieldapp {{
        server unix:{s.upstream_socket};
    }}

    server {{
        listen {s.listen}{ssl};
        server_name _;
{tls_block}
{error_pages}

        location / {{
            proxy_pass http://fieldapp;
        }}

        # Photo reports and resumable uploads' chunks: the body nginx has written to its
        # temp file is handed over by name, not sent again through the socket, and the app
        # reads it from the page cache in large reads (see fieldapp.serving.handover).
        # nginx removes the file once the request is answered.
        location ~ ^/api/v1/(reports|uploads(/[^/]+)?)$ {{
            client_body_in_file_only clean;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
{_forwarded_headers("            ", body_file="$request_body_file")}
            proxy_pass http://fieldapp;
        }}

        # The pages' static assets (OpenLayers and the offline base map: about 1.7 MB)
        # compressed for slow links, to about a third. API answers are not: compressing a
        # secret beside text an attacker chose leaks it through the length (BREACH).
        location ~ ^/(map|console)/static/ {{
            gzip on;
            gzip_types application/javascript text/javascript text/css application/json;
            gzip_min_length 1024;
            gzip_vary on;
            proxy_pass http://fieldapp;
        }}

        location ~ ^/api/v1/dossiers/[^/]+/download$ {{
            limit_conn fieldapp_downloads {s.downloads};
            proxy_pass http://fieldapp;
        }}

{error_locations}
    }}
}}
"""


def _forwarded_headers(indent: str, body_file: str = '""') -> str:
    """The headers every proxied request carries. nginx inherits proxy_set_header only into
    a location that sets none, so a location that adds one repeats these. The handover header
    is always set (blank where no body is handed over, and nginx then drops it), so a
    client can never name a file of its choosing."""
    return "\n".join(indent + line for line in (
        "proxy_set_header Host $http_host;",
        # The app trusts the last hop only (werkzeug's ProxyFix): what a client writes in
        # X-Forwarded-For stays in front of the address nginx saw, and is ignored.
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $fieldapp_forwarded_proto;",
        f"proxy_set_header {HANDOVER_HEADER} {body_file};"))


def _error_location(code: int, status: str, message: str) -> str:
    retry = '            add_header Retry-After 5 always;\n' if code in (429, 502, 503) else ""
    body = f'{{"code": {code}, "status": "{status}", "message": "{message}"}}'
    return (f"        location @error_{code} {{\n"
            f"            default_type application/json;\n{retry}"
            f"            return {code} '{body}\\n';\n"
            f"        }}")
