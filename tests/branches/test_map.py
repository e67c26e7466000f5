"""The grid map page and its GeoJSON data: scope, closed branches, hexagons covering the circles."""

import re

import pytest
from django.urls import reverse
from h3.api import basic_int as h3

from branches import geo, services
from branches.geo import MAP_HEX_RES, hexes_covering


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def features(response, kind):
    return [f for f in response.json()["features"] if f["properties"]["kind"] == kind]


def test_map_page_loads_leaflet_from_the_app_and_lists_branches(
    client, head_office, branch, other_branch
):
    client.force_login(head_office)
    response = client.get(reverse("branches:map"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "/static/leaflet/leaflet.js" in html and "/static/leaflet/leaflet.css" in html
    assert "/static/js/grid-map.js" in html
    assert f'data-src="{reverse("branches:map_data")}"' in html
    assert 'data-tile-url=""' in html  # no tiles on the intranet by default
    # No inline script: every <script> loads a file (json_script data would be the exception).
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "https://" not in " ".join(re.findall(r'(?:src|href)="[^"]*"', html))  # no CDN
    table = html[html.index('id="map-branches"'):]
    assert "West Lake" in table and "Qianjiang" in table


def test_map_page_uses_configured_tiles(client, head_office, settings):
    settings.ALLIANCE_MAP_TILE_URL = "https://tiles.intranet.example/{z}/{x}/{y}.png"
    settings.ALLIANCE_MAP_TILE_ATTRIBUTION = "© Bank GIS"
    client.force_login(head_office)
    html = client.get(reverse("branches:map")).content.decode()
    assert 'data-tile-url="https://tiles.intranet.example/{z}/{x}/{y}.png"' in html
    assert 'data-tile-attribution="© Bank GIS"' in html


def test_leaflet_static_files_are_served_by_the_app():
    from django.contrib.staticfiles import finders

    for path in ["leaflet/leaflet.js", "leaflet/leaflet.css", "leaflet/images/marker-icon.png",
                 "js/grid-map.js"]:
        assert finders.find(path), path


def test_map_data_for_head_office_has_every_branch_and_their_hexagons(
    client, head_office, branch, other_branch
):
    client.force_login(head_office)
    response = client.get(reverse("branches:map_data"))
    assert response.status_code == 200
    data = response.json()
    assert data["type"] == "FeatureCollection" and data["radius_m"] == 3000
    points = {f["properties"]["code"]: f for f in features(response, "branch")}
    assert set(points) == {"HZ001", "HZ002"}
    assert points["HZ001"]["geometry"] == {"type": "Point", "coordinates": [120.164, 30.259]}
    assert points["HZ001"]["properties"]["url"] == reverse("branches:detail", args=[branch.pk])
    cells = features(response, "cell")
    assert {c["properties"]["branch"] for c in cells} == {"HZ001", "HZ002"}
    ids = [c["properties"]["cell"] for c in cells]
    assert len(ids) == len(set(ids))  # overlapping circles draw a cell once
    ring = cells[0]["geometry"]["coordinates"][0]
    assert cells[0]["geometry"]["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) == 7


def test_map_data_is_scoped_to_the_officers_branch(client, officer, branch, other_branch):
    client.force_login(officer)
    response = client.get(reverse("branches:map_data"))
    assert [f["properties"]["code"] for f in features(response, "branch")] == ["HZ001"]
    assert {c["properties"]["branch"] for c in features(response, "cell")} == {"HZ001"}


def test_map_page_table_is_scoped_too(client, officer, branch, other_branch):
    client.force_login(officer)
    html = client.get(reverse("branches:map")).content.decode()
    assert "West Lake" in html and "Qianjiang" not in html


def test_closed_branch_is_drawn_without_hexagons(client, head_office, branch, other_branch):
    services.branch_set_active(actor=None, branch_id=other_branch.pk, active=False, reason="x")
    client.force_login(head_office)
    response = client.get(reverse("branches:map_data"))
    points = {f["properties"]["code"]: f["properties"] for f in features(response, "branch")}
    assert points["HZ002"]["is_active"] is False
    assert {c["properties"]["branch"] for c in features(response, "cell")} == {"HZ001"}


@pytest.mark.parametrize("who", ["customer", "merchant_owner"])
def test_map_data_refuses_non_staff(db, client, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("branches:map_data")).status_code == 403


def test_map_data_is_revalidated_by_etag(client, head_office, branch):
    client.force_login(head_office)
    first = client.get(reverse("branches:map_data"))
    assert "private" in first["Cache-Control"] and "no-cache" in first["Cache-Control"]
    same = client.get(reverse("branches:map_data"), HTTP_IF_NONE_MATCH=first["ETag"])
    assert same.status_code == 304
    services.branch_set_active(actor=None, branch_id=branch.pk, active=False, reason="x")
    changed = client.get(reverse("branches:map_data"), HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]


def test_hexagons_cover_the_whole_circle():
    lat, lng, radius = 30.259, 120.164, 3000.0
    covering = hexes_covering(lat, lng, radius)
    cells = {cell for cell, _d in covering}
    for cell, d in covering:
        assert d == pytest.approx(geo.distance_m(lat, lng, *h3.cell_to_latlng(cell)))
    for bearing in range(0, 360, 5):
        for fraction in (0.0, 0.5, 0.9, 1.0):
            point = geo.destination(lat, lng, bearing, radius * fraction)
            assert h3.latlng_to_cell(*point, MAP_HEX_RES) in cells, (bearing, fraction)
    # ... and stay close to it: no cell lies wholly beyond radius + two edge lengths.
    edge = h3.average_hexagon_edge_length(MAP_HEX_RES, "m")
    for cell in cells:
        assert geo.distance_m(lat, lng, *h3.cell_to_latlng(cell)) <= radius + 2 * edge
