"""Reads of the coupons domain, by audience: ``customer`` (offers, wallet), ``merchant``
(templates and their numbers, verifications), ``console`` (review queue, campaigns). Every
read goes through the user's scope."""
