"""Plumbing every app may import: the API's base view, error shape and input checks.

Nothing here knows about leads, scoring, the SLA or reports.
"""
