/* Grid map of the branch console: branches, their 3 km circles and the H3 hexagons that cover
 * them. The data is GeoJSON from the page's data-src (branches:map_data). Tiles are drawn only
 * when the server configures a tile URL; on the bank intranet the map is a plain background.
 * The branch table under the map does not depend on this script. */
(function () {
  "use strict";

  var el = document.getElementById("map");
  if (!el || typeof window.L === "undefined") {
    return;
  }
  var text = el.dataset;

  var map = L.map(el, { zoomSnap: 0.5, zoomControl: false });
  L.control.zoom({ zoomInTitle: text.zoomIn, zoomOutTitle: text.zoomOut }).addTo(map);
  map.setView([35, 105], 4); // until the data arrives
  if (text.tileUrl) {
    L.tileLayer(text.tileUrl, { attribution: text.tileAttribution || "", maxZoom: 19 }).addTo(map);
  }

  var Note = L.Control.extend({
    options: { position: "topright" },
    onAdd: function () {
      var div = L.DomUtil.create("div", "leaflet-bar map-note");
      div.setAttribute("role", "status");
      div.style.background = "#fff";
      div.style.padding = ".4rem .6rem";
      div.textContent = this.options.message;
      return div;
    }
  });

  function note(message) {
    new Note({ message: message }).addTo(map);
  }

  // A stable colour per branch code, so a branch keeps its colour between visits. The golden
  // angle spreads the hues, so neighbours with similar codes (HZ001, HZ002) still differ.
  function colour(code) {
    var h = 0;
    for (var i = 0; i < code.length; i++) {
      h = (h * 31 + code.charCodeAt(i)) % 65521;
    }
    return "hsl(" + Math.round((h * 137.508) % 360) + ", 65%, 40%)";
  }

  function popup(p) {
    var div = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = p.name + " (" + p.code + ")";
    div.appendChild(title);
    if (!p.is_active) {
      div.appendChild(document.createTextNode(" · " + text.closedLabel));
    }
    var address = document.createElement("div");
    address.textContent = p.address;
    div.appendChild(address);
    var link = document.createElement("a");
    link.href = p.url;
    link.textContent = text.openLabel;
    div.appendChild(link);
    return div;
  }

  function draw(data) {
    var branches = data.features.filter(function (f) { return f.properties.kind === "branch"; });
    var cells = data.features.filter(function (f) { return f.properties.kind === "cell"; });
    if (!branches.length) {
      note(text.empty);
      return;
    }

    L.geoJSON(cells, {
      className: "grid-hex",
      interactive: false,
      style: function (f) {
        var c = colour(f.properties.branch);
        return { color: c, weight: 1, opacity: 0.5, fillColor: c, fillOpacity: 0.12 };
      }
    }).addTo(map);

    var extent = L.featureGroup().addTo(map);
    var labelled = branches.length <= 50;
    branches.forEach(function (f) {
      var p = f.properties;
      var at = L.latLng(f.geometry.coordinates[1], f.geometry.coordinates[0]);
      if (p.is_active) {
        L.circle(at, {
          radius: data.radius_m,
          className: "grid-circle",
          color: colour(p.code),
          weight: 2,
          fill: false,
          interactive: false
        }).addTo(extent);
      }
      var marker = L.marker(at, { title: p.name + " (" + p.code + ")", opacity: p.is_active ? 1 : 0.55 });
      marker.bindPopup(popup(p));
      if (labelled) {
        marker.bindTooltip(p.code, { permanent: true, direction: "right", offset: [10, -20] });
      }
      marker.addTo(extent);
      if (!p.is_active) {
        // Closed branches own nothing: no circle, and a grey marker.
        var icon = marker.getElement();
        if (icon) {
          icon.style.filter = "grayscale(1)";
          icon.classList.add("branch-closed");
        }
      }
    });
    map.fitBounds(extent.getBounds(), { padding: [24, 24], maxZoom: 15 });
    el.dataset.ready = "true";
  }

  fetch(text.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    })
    .then(draw)
    .catch(function (err) {
      note(text.error);
      if (window.console) {
        window.console.error("grid map:", err);
      }
    });
})();
