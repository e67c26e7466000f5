"""Branch console pages for merchants: the review queue, the merchant list, the merchant's file
(信息建档) and the stores layer of the grid map.

Views parse input, call a selector or a service and render. Every row is looked up through the
merchants selectors, which scope it to the user's grid: a row outside it is a 404, never a 403,
so ids cannot be probed. The services re-check the grid, the state and the role; their refusals
come back as form errors (or a 404/403 for the grid and the role).
"""

from .files import (
    merchant_close,
    merchant_detail,
    merchant_list,
    merchant_status,
    profile_change_decide,
    store_map_data,
    store_move,
    visit_create,
)
from .queue import application_decide, application_document, review_queue

__all__ = [
    "application_decide",
    "application_document",
    "merchant_close",
    "merchant_detail",
    "merchant_list",
    "merchant_status",
    "profile_change_decide",
    "review_queue",
    "store_map_data",
    "store_move",
    "visit_create",
]
