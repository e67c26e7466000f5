"""Bank staff sessions end after ALLIANCE_STAFF_IDLE_TIMEOUT (30 minutes) without requests.

The timed-out request is not served: it is signed out and sent to the staff sign-in page (an
htmx request by ``HX-Redirect``), which says why. API requests go on as anonymous and get the
API's own "not signed in" answer. This middleware runs before MessageMiddleware, so the notice
travels in the new session instead of through ``django.contrib.messages``.
"""

import time

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from . import roles

LAST_SEEN = "staff_last_seen"
SIGNED_OUT_IDLE = "staff_signed_out_idle"
API_PREFIX = "/api/"  # where alliance/urls.py mounts every API


class StaffIdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if roles.is_bank_staff(getattr(request, "user", None)):
            now = time.time()
            last = request.session.get(LAST_SEEN)
            idle_limit = settings.ALLIANCE_STAFF_IDLE_TIMEOUT.total_seconds()
            if last is not None and now - last > idle_limit:
                logout(request)
                if not request.path_info.startswith(API_PREFIX):
                    request.session[SIGNED_OUT_IDLE] = int(idle_limit // 60)
                    return self._to_sign_in(request)
            else:
                request.session[LAST_SEEN] = now
        return self.get_response(request)

    @staticmethod
    def _to_sign_in(request):
        sign_in = reverse("accounts:staff_login")
        if request.headers.get("HX-Request") == "true":  # HtmxMiddleware has not run yet
            return HttpResponseClientRedirect(sign_in)
        return redirect_to_login(request.get_full_path(), sign_in)
