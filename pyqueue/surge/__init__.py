"""Surge replays of the field reports: a load driver on virtual time, metrics and reports."""
