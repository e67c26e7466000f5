"""The grid map in a real browser: Leaflet from the app's static files, no tiles, no CDN."""

import pytest
from django.conf import settings
from django.test import Client

from alliance.celery import app as celery_app
from branches import services
from tests.factories import BranchFactory, UserFactory


@pytest.fixture
def eager_tasks():
    """The live server runs in another thread, so test data is committed; re-gridding after each
    opening then runs in-process instead of queueing a task on a shared broker."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.mark.browser
def test_head_office_sees_circles_hexagons_and_the_table(
    transactional_db, live_server, desk_page, eager_tasks
):
    BranchFactory(code="HZ001", name="West Lake", lat=30.2590, lng=120.1640)
    BranchFactory(code="HZ002", name="Qianjiang", lat=30.2450, lng=120.2100)
    shut = BranchFactory(code="HZ009", name="Old Town", lat=30.2800, lng=120.1200)
    services.branch_set_active(actor=None, branch_id=shut.pk, active=False, reason="closed")
    head_office = UserFactory(role="head_office", username="ho-browser")

    client = Client()
    client.force_login(head_office)
    desk_page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME,
          "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
          "url": live_server.url}]
    )
    requests = []
    desk_page.on("request", lambda r: requests.append(r.url))

    desk_page.goto("/console/map/")
    desk_page.wait_for_selector("#map[data-ready='true']")

    pane = desk_page.locator("#map .leaflet-overlay-pane")
    assert pane.locator("svg path.grid-circle").count() == 2  # the closed branch has none
    hexagons = pane.locator("svg path.grid-hex").count()
    assert hexagons > 40
    assert desk_page.locator("#map .leaflet-marker-pane img").count() == 3
    assert desk_page.locator("#map .leaflet-marker-pane img.branch-closed").count() == 1
    assert desk_page.locator("#map .leaflet-tile-pane img").count() == 0  # no tiles configured
    assert desk_page.locator("#map-branches").is_visible()
    assert desk_page.locator("#map-branches tbody tr").count() == 3
    assert all(url.startswith(live_server.url) for url in requests), requests  # no CDN

    desk_page.screenshot(path="/tmp/map.png", full_page=True)
