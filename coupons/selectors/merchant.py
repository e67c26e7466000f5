"""Reads for the merchant pages and API."""
