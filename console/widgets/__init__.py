"""Widgets of the supervisor console. They render what they are given; no I/O here."""
