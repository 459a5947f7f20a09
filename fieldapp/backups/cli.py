"""`fieldapp backup make|verify|restore`: the database and every stored file, kept apart."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

backup_cli = AppGroup("backup", help="Backups: make one, check one, restore one.")

_DIRECTORY = click.Path(file_okay=False, path_type=Path)


@backup_cli.command("make")
@click.argument("dest", type=_DIRECTORY)
@click.option("--earlier", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="An earlier backup whose unchanged files are shared by "
                                 "hard link (same file system), as rsync --link-dest does.")
def make_backup(dest, earlier):
    """Dump the database (as the schema owner), copy every stored file and the signing key
    into DEST, a new directory; exit 1 if a stored file no longer matches its name."""
    from fieldapp.backups import service

    try:
        made = service.make(dest, earlier)
    except service.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(service.summary(made))
    for problem in made.problems:
        click.echo(f"BROKEN: {problem}", err=True)
    if made.problems:
        sys.exit(1)


@backup_cli.command("verify", with_appcontext=False)
@click.argument("backup", type=click.Path(exists=True, file_okay=False, path_type=Path))
def verify_backup(backup):
    """Re-read every file of a backup against its SHA256SUMS and every stored file against
    its name; exit 1 naming what is wrong. Needs no database."""
    from fieldapp.backups import contents

    problems = contents.check(backup)
    for problem in problems:
        click.echo(f"BROKEN: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"OK: {len(contents.read_sums(backup))} files match {contents.SUMS}")


@backup_cli.command("restore")
@click.argument("backup", type=click.Path(exists=True, file_okay=False, path_type=Path))
def restore_backup(backup):
    """Check BACKUP, restore it into this install's empty database (as the schema owner) and
    empty data dir, then audit what was restored (as `fieldapp custody verify`)."""
    from fieldapp.backups import service

    try:
        problems = service.restore(backup)
    except service.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    for problem in problems:
        click.echo(f"BROKEN: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo("OK: restored; the audit of the restored chain and originals found nothing wrong")
