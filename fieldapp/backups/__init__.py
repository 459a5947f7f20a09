"""Backups: the database and every stored file, made, checked and restored together."""
