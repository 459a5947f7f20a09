"""The `fieldapp` command: a Flask CLI group bound to the app (db, users, custody, ...)."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext

users_cli = AppGroup("users", help="Accounts and tokens.")
custody_cli = AppGroup("custody", help="The tamper-evident chain of custody.")
evidence_cli = AppGroup("evidence", help="Checks of photos against their claims.")
sites_cli = AppGroup("sites", help="Known polluting sites.")
dossier_cli = click.Group("dossier", help="Evidence dossiers.")
certificate_cli = AppGroup("certificate", help="Volunteer service certificates.")


ROLE_CHOICE = click.Choice(["volunteer", "coordinator", "lawyer", "admin"])


def _cli_actor() -> str:
    """Who made an account change from the command line, for the log."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _read_password(from_stdin: bool) -> str:
    # Never an option: a password on the command line stays in shell history and is
    # visible to every user of the machine in the process list.
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _user_or_fail(email):
    from fieldapp.accounts import service

    user = service.find_user(email)
    if user is None:
        raise click.ClickException(f"no user with email {email}")
    return user


def _update_user(email, changes) -> None:
    from fieldapp.accounts import service
    from fieldapp.errors import FieldappError

    user = _user_or_fail(email)
    try:
        user = service.update_user(user.id, changes, actor=_cli_actor())
    except FieldappError as exc:
        raise click.ClickException(exc.description) from None
    state = "disabled" if user.disabled else "enabled"
    click.echo(f"{user.email}: {user.role}, {state}")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input instead of "
                   "prompting for it.")
@click.option("--role", required=True, type=ROLE_CHOICE)
@click.option("--display-name", default=None)
def create_user(email, password_stdin, role, display_name):
    """Create a user (volunteers get a generated public pseudonym)."""
    from fieldapp.accounts import service
    from fieldapp.errors import FieldappError

    password = _read_password(password_stdin)
    try:
        user = service.create_user(email, password, role, display_name, actor=_cli_actor())
    except FieldappError as exc:
        raise click.ClickException(exc.description) from None
    click.echo(f"created {user.role} {user.email} (pseudonym {user.pseudonym}, id {user.id})")


@users_cli.command("list")
@click.option("--role", default=None, type=ROLE_CHOICE)
def list_users(role):
    """Every account: email, role, state, pseudonym, created."""
    from fieldapp.accounts import service

    for user in service.list_users(role):
        state = "disabled" if user.disabled else "enabled"
        click.echo(f"{user.email}\t{user.role}\t{state}\t{user.pseudonym}\t"
                   f"{user.created_at:%Y-%m-%d}")


@users_cli.command("disable")
@click.option("--email", required=True)
def disable_user(email):
    """Disable an account: it cannot sign in, and every token of it is revoked now."""
    _update_user(email, {"disabled": True})


@users_cli.command("enable")
@click.option("--email", required=True)
def enable_user(email):
    """Let a disabled account sign in again (its old tokens stay revoked)."""
    _update_user(email, {"disabled": False})


@users_cli.command("set-role")
@click.option("--email", required=True)
@click.option("--role", required=True, type=ROLE_CHOICE)
def set_role(email, role):
    """Give an account another role."""
    _update_user(email, {"role": role})


@users_cli.command("set-password")
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
def set_password(email, password_stdin):
    """Give an account a new password; every token of it is revoked."""
    from fieldapp.accounts import service
    from fieldapp.errors import FieldappError

    user = _user_or_fail(email)
    password = _read_password(password_stdin)
    try:
        revoked = service.set_password(user.id, password, actor=_cli_actor())
    except FieldappError as exc:
        raise click.ClickException(exc.description) from None
    click.echo(f"{user.email}: password set, {revoked} token(s) revoked")


@users_cli.command("token")
@click.option("--email", required=True)
def issue_token(email):
    """Print a new API token for a user."""
    from fieldapp.accounts import service

    user = _user_or_fail(email)
    if user.disabled:
        raise click.ClickException(f"{email} is disabled")
    click.echo(service.issue_token(user))


@custody_cli.command("verify")
def verify_custody():
    """Walk the chain, check every evidence row against the digest bound in it, check the
    items of frozen dossiers, re-hash every original; exit 1 naming what is broken."""
    from fieldapp.custody import service

    result = service.run_audit(  # each problem printed as soon as it is found
        current_app.extensions["blob_store"],
        on_problem=lambda problem: click.echo(f"BROKEN: {problem}", err=True))
    head = service.head()
    if result.rows_bound:
        click.echo(f"bound {result.rows_bound} rows made before rows were bound to the chain")
    if result.problem_count:
        click.echo(f"{result.problem_count} problems", err=True)
        sys.exit(1)
    rows = ", ".join(f"{count} {kind}s" for kind, count in result.rows_checked.items())
    click.echo(f"OK: {head.seq} custody events, chain head {head.hash}; rows checked: {rows}; "
               f"{result.originals_checked} originals re-hashed")


@custody_cli.command("anchor")
def anchor_custody():
    """Have every configured TSA time-stamp the chain's head now; exit 1 if one fails."""
    from fieldapp.anchors import service

    if not service.tsa_urls():
        raise click.ClickException("FIELDAPP_TSA_URLS is not set: there is no TSA to ask")
    try:
        run = service.anchor_head(ignore_interval=True)
    except service.AnchorFailed as exc:
        click.echo(f"FAILED: {exc.description}", err=True)
        sys.exit(1)
    for anchor in run.anchored:
        click.echo(f"anchored event #{anchor['seq']} {anchor['hash']} by {anchor['tsa_url']} "
                   f"at {anchor['gen_time'].isoformat()}")
    if not run.anchored:
        click.echo("OK: nothing to anchor (every TSA has anchored the head)")


@custody_cli.command("anchors")
@click.option("--tsa-ca", type=click.Path(exists=True, dir_okay=False),
              help="Trusted TSA root(s), PEM (default: FIELDAPP_TSA_CA_FILE).")
def list_anchors(tsa_ca):
    """Print every anchor and re-verify its token; exit 1 on any problem."""
    from fieldapp.anchors import service

    try:
        checks = list(service.reverify(tsa_ca))
    except service.AnchorFailed as exc:
        raise click.ClickException(exc.description) from None
    for check in checks:
        anchor = check.anchor
        click.echo(f"#{anchor.seq} {anchor.hash} {anchor.tsa_url} {anchor.gen_time.isoformat()} "
                   + ("OK" if check.problem is None else f"PROBLEM: {check.problem}"))
    bad = sum(check.problem is not None for check in checks)
    if bad:
        click.echo(f"FAILED: {bad} of {len(checks)} anchor(s)", err=True)
        sys.exit(1)
    click.echo(f"OK: {len(checks)} anchor(s) verified")


@evidence_cli.command("recheck")
@click.option("--report", "report_id", default=None, help="Only this report's photos.")
def recheck(report_id):
    """Re-read every photo's EXIF and re-run the checks with today's settings and data."""
    from fieldapp.reports.service import OriginalUnavailable, recheck_photos

    try:
        changed, total = recheck_photos(report_id)
    except OriginalUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"rechecked {total} photos; {changed} changed verdict")


@evidence_cli.command("analyse")
@click.option("--follow", is_flag=True,
              help="Keep running: analyse photos as they arrive (what `fieldapp serve` runs).")
@click.option("--nice", "niceness", default=0, type=click.IntRange(0, 19),
              help="Lower this process's CPU priority by this much first.")
@click.option("--photos-from-stdin", is_flag=True,
              help="Only the photos whose ids are read from standard input, one a line.")
@click.option("--idle-priority", is_flag=True,
              help="Decode only on CPU time nothing else wants (Linux SCHED_IDLE); with "
                   "--follow.")
def analyse(follow, niceness, photos_from_stdin, idle_priority):
    """Decode and compare the pixels of photos still awaiting analysis."""
    import logging
    import os

    from fieldapp.reports import analyser, analysis

    if niceness:
        os.nice(niceness)
    if follow:
        logging.basicConfig(level=logging.INFO, format="[analyser] %(levelname)s %(message)s")
        analyser.follow(idle_priority=idle_priority)
        return
    if photos_from_stdin:
        from fieldapp.extensions import db

        # One photo a transaction: each analysis appends to the chain, whose lock is held to
        # the commit, so analysing the next photo in the same transaction would decode under
        # it and stall intake.
        done = 0
        for line in sys.stdin:
            if line.strip():
                done += analysis.settle([line.strip()])
                db.session.commit()
    else:
        done = analysis.drain()
    click.echo(f"analysed {done} photos; {analysis.pending_count()} waiting")


@evidence_cli.command("sweep-spools")
@click.option("--max-age-hours", default=24.0, type=click.FloatRange(min=0),
              help="Also remove any temp file older than this, whatever its owner.")
def sweep_spools(max_age_hours):
    """Remove upload spools and temp files left by processes that were killed."""
    from fieldapp.storage.blobs import sweep_stale_spools

    removed = sweep_stale_spools(current_app.config["FIELDAPP_DATA_DIR"],
                                 max_age_s=max_age_hours * 3600)
    click.echo(f"removed {len(removed)} stale temp file(s)")


@sites_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-bad", is_flag=True, help="Import the good rows even if some are bad.")
@click.option("--crs", default="wgs84", type=click.Choice(["wgs84", "gcj02", "bd09"]),
              help="Coordinate system of rows that do not name one.")
def import_sites(path, skip_bad, crs):
    """Import sites from CSV (name + lon/lat or wkt columns) or GeoJSON; all or nothing."""
    from fieldapp.sites.importer import read_rows
    from fieldapp.sites.service import import_sites as store

    rows = list(read_rows(path, crs))
    good, bad = [], []
    with click.progressbar(rows, label=f"checking {path.name}", file=sys.stderr) as progress:
        for row in progress:
            (good if row.site else bad).append(row)
    for row in bad:
        click.echo(f"{path.name}: {row.where}: {row.problem}", err=True)
    if bad and not skip_bad:
        raise click.ClickException(f"{len(bad)} bad row(s); nothing imported "
                                   "(fix them, or use --skip-bad)")
    count = store([row.site for row in good])
    click.echo(f"imported {count} site(s)" + (f", skipped {len(bad)} bad" if bad else ""))


@sites_cli.command("rescore")
def rescore_sites():
    """Recompute every site's stored risk components (e.g. after changing FIELDAPP_RISK_*)."""
    from fieldapp.hotspots.risk import rescore_all

    click.echo(f"rescored {rescore_all()} site(s)")


@dossier_cli.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--key", "key_path", type=click.Path(exists=True, dir_okay=False),
              help="Require this public key (PEM) to have signed the manifest.")
@click.option("--tsa-ca", "tsa_ca", type=click.Path(exists=True, dir_okay=False),
              help="Require the time-stamps to verify to this TSA root (PEM).")
def verify_dossier(path, key_path, tsa_ca):
    """Check every hash, the signature, the custody links and the time-stamps of a dossier."""
    from fieldapp.dossiers.verify import verify_dossier as verify

    expected = Path(key_path).read_bytes() if key_path else None
    roots = Path(tsa_ca).read_bytes() if tsa_ca else None
    try:
        result = verify(path, expected_key_pem=expected, tsa_ca_pem=roots)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for problem in result.problems:
        click.echo(f"PROBLEM: {problem}")
    if not result.ok:
        sys.exit(1)
    click.echo(f"OK: {result.summary}")


@certificate_cli.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--key", "key_path", type=click.Path(exists=True, dir_okay=False),
              help="Check offline against this public key (PEM) alone, without the register; "
                   "default: this server's key and its register of certificates issued.")
def verify_certificate(path, key_path):
    """Check a service certificate: its Ed25519 signature over every byte of the file and,
    on the server, that the register holds its number with these fields and this file (the
    same verdict as POST /api/v1/certificates/verify); exit 1 on any problem."""
    import hashlib

    from fieldapp.dossiers import keys
    from fieldapp.dossiers.verify import load_public_key
    from fieldapp.volunteers import certificates

    data = Path(path).read_bytes()
    if key_path:
        try:
            expected = load_public_key(Path(key_path).read_bytes())
        except ValueError as exc:
            raise click.ClickException(f"--key: {exc}") from None
        verdict = certificates.assess(certificates.verify(data, expected),
                                      hashlib.sha256(data).hexdigest(), None, consulted=False)
    else:
        if not keys.key_path(current_app.config["FIELDAPP_DATA_DIR"]).exists():
            raise click.ClickException("this server has no signing key: give --key")
        from sqlalchemy.exc import OperationalError

        from fieldapp.volunteers.records_service import check_certificate

        try:
            verdict = check_certificate(data)
        except OperationalError as exc:
            raise click.ClickException(
                f"the register of certificates cannot be read ({exc.orig}): check the "
                "signature alone with --key (fieldapp certificate public-key)") from None
    for line in certificates.lines(verdict):
        click.echo(line)
    if not verdict["valid"]:
        sys.exit(1)


@certificate_cli.command("public-key")
def certificate_public_key():
    """Print the public key (PEM) that certificates are checked with, for publishing."""
    from fieldapp.dossiers import keys

    key = keys.signing_key(current_app.config["FIELDAPP_DATA_DIR"])
    click.echo(keys.public_key_pem(key).decode(), nl=False)


@click.command("demo")
@click.option("--reset-passwords", is_flag=True,
              help="Give the existing demo accounts new random passwords (printed once).")
@with_appcontext
def demo(reset_passwords):
    """Create demo accounts (random passwords, printed once, with tokens) and demo reports
    with generated photos."""
    from fieldapp.demo import load_demo

    load_demo(click.echo, reset_passwords=reset_passwords)


@click.command("serve")
@click.option("--app", "app_spec", default="fieldapp:create_app()", show_default=True,
              help="The WSGI application gunicorn serves.")
@with_appcontext
def serve(app_spec):
    """Serve on FIELDAPP_BIND: nginx in front, gunicorn, the analysers and the job worker,
    supervised until SIGTERM or SIGINT."""
    from fieldapp.serving import service
    from fieldapp.storage.blobs import sweep_stale_spools

    # Upload spools left by a process killed mid-request; swept before anything serves.
    swept = sweep_stale_spools(current_app.config["FIELDAPP_DATA_DIR"])
    # The job worker runs wherever this build's `fieldapp` has `jobs work`.
    ctx = click.get_current_context()
    jobs = ctx.find_root().command.get_command(ctx, "jobs")
    with_jobs = isinstance(jobs, click.Group) and "work" in jobs.commands
    try:
        plan = service.prepare(current_app.config, with_jobs=with_jobs, app_spec=app_spec)
    except service.ServeError as exc:
        raise click.ClickException(str(exc)) from None
    names = ", ".join(f"{p.name} x{p.count}" if p.count > 1 else p.name for p in plan.programs)
    click.echo(f"[serve] {current_app.config['FIELDAPP_BIND']}: {names}; "
               f"{len(swept)} stale spool(s) swept", err=True)
    service.run(plan)


def register(app) -> None:
    for command in (users_cli, custody_cli, evidence_cli, sites_cli, dossier_cli,
                    certificate_cli, demo, serve):
        app.cli.add_command(command)
    from fieldapp.backups.cli import backup_cli
    from fieldapp.jobs.cli import jobs_cli

    app.cli.add_command(jobs_cli)
    app.cli.add_command(backup_cli)


def main() -> None:
    from fieldapp import create_app

    FlaskGroup(create_app=create_app, help="fieldapp: evidence backend.")()


if __name__ == "__main__":
    main()
