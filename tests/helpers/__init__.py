"""Helpers shared by the server tests: an in-process API client on a virtual clock, the real
server as a subprocess, and nginx in front of it."""
