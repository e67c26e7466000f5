from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts import roles


@require_GET
def home(request):
    """Send each kind of user to their own start page."""
    user = request.user
    if roles.is_bank_staff(user):
        return redirect("branches:map")
    if roles.is_merchant(user):
        return redirect("merchants:dashboard")
    return render(request, "home.html")


@require_GET
def health(request):
    """Liveness and database reachability, for the load balancer and the on-call engineer."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
