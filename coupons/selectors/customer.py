"""Reads for the customer pages and API."""
