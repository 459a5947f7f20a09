"""Monitoring tasks: requests, dispatch, claims, evaluations (点单-派单-接单-评单)."""
