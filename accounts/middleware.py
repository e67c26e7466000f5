"""Bank staff sessions end after a period without requests (30 minutes by default)."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.utils.translation import gettext as _

from . import roles

_LAST_SEEN = "staff_last_seen"


class StaffIdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if roles.is_bank_staff(user):
            now = time.time()
            last = request.session.get(_LAST_SEEN)
            idle_limit = settings.ALLIANCE_STAFF_IDLE_TIMEOUT.total_seconds()
            if last is not None and now - last > idle_limit:
                logout(request)
                messages.info(
                    request,
                    _("You were signed out after %(minutes)d minutes without activity.")
                    % {"minutes": idle_limit // 60},
                )
            else:
                request.session[_LAST_SEEN] = now
        return self.get_response(request)
