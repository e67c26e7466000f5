"""Reads for the console pages and API."""
