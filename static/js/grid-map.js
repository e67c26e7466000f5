/* Grid map of the branch console: branches, their 3 km circles and the H3 hexagons that cover
 * them, the merchant stores as dots coloured by the merchant's state, and the hexagons shaded by
 * how many stores they hold. The data is GeoJSON from the page's data-src (branches:map_data)
 * and data-stores-src (merchants:console_store_map_data); without the stores the branches are
 * still drawn. Tiles are drawn only
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

  var STATUS_COLOURS = { active: "#15803d", suspended: "#ea580c", closed: "#6b7280" };

  function statusLabel(status) {
    return text["status" + status.charAt(0).toUpperCase() + status.slice(1)] || status;
  }

  function storePopup(p) {
    var div = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = p.name;
    div.appendChild(title);
    var who = document.createElement("div");
    who.textContent = p.merchant + " (" + p.code + ") · " + statusLabel(p.status);
    div.appendChild(who);
    var link = document.createElement("a");
    link.href = p.url;
    link.textContent = text.storeOpenLabel;
    div.appendChild(link);
    return div;
  }

  // Shade by store count: a square-root scale, so one busy street does not wash out the rest.
  function shade(n, max) {
    return n ? 0.15 + 0.55 * Math.sqrt(n / Math.max(max, 1)) : 0.06;
  }

  function drawStores(stores, counts, max, drawn) {
    // Hexagons holding stores outside every open circle (the head-office pool).
    var pool = stores.filter(function (f) {
      return f.properties.kind === "store-cell" && !drawn[f.properties.cell];
    });
    L.geoJSON(pool, {
      className: "store-hex",
      interactive: false,
      style: function (f) {
        return { color: "#6b7280", weight: 1, opacity: 0.6, fillColor: "#6b7280",
                 fillOpacity: shade(f.properties.stores, max) };
      }
    }).addTo(map);
    stores.forEach(function (f) {
      var p = f.properties;
      if (p.kind !== "store") {
        return;
      }
      var at = L.latLng(f.geometry.coordinates[1], f.geometry.coordinates[0]);
      var c = STATUS_COLOURS[p.status] || "#111827";
      L.circleMarker(at, {
        radius: 4, weight: 1, color: "#fff", fillColor: c, fillOpacity: 0.9,
        className: "store-marker store-" + p.status
      }).bindPopup(storePopup(p)).bindTooltip(p.name).addTo(map);
    });
  }

  function draw(data, storeData) {
    var branches = data.features.filter(function (f) { return f.properties.kind === "branch"; });
    var cells = data.features.filter(function (f) { return f.properties.kind === "cell"; });
    if (!branches.length) {
      note(text.empty);
      return;
    }
    var stores = storeData ? storeData.features : [];
    var counts = {};
    stores.forEach(function (f) {
      if (f.properties.kind === "store-cell") {
        counts[f.properties.cell] = f.properties.stores;
      }
    });
    var max = storeData ? storeData.max_per_cell : 0;
    var drawn = {};

    L.geoJSON(cells, {
      className: "grid-hex",
      style: function (f) {
        var c = colour(f.properties.branch);
        drawn[f.properties.cell] = true;
        var n = counts[f.properties.cell] || 0;
        return { color: c, weight: 1, opacity: 0.5, fillColor: c,
                 fillOpacity: storeData ? shade(n, max) : 0.12 };
      },
      onEachFeature: function (f, layer) {
        var n = counts[f.properties.cell] || 0;
        if (n) {
          layer.bindTooltip(n + " " + text.storesLabel, { sticky: true });
        }
      }
    }).addTo(map);
    if (storeData) {
      drawStores(stores, counts, max, drawn);
      if (storeData.truncated) {
        note(text.truncated);
      }
    }

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

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      });
  }

  var stores = text.storesSrc
    ? getJSON(text.storesSrc).catch(function (err) {
        if (window.console) {
          window.console.error("grid map stores:", err);
        }
        return null; // the branches are still worth drawing
      })
    : Promise.resolve(null);

  Promise.all([getJSON(text.src), stores])
    .then(function (both) { draw(both[0], both[1]); })
    .catch(function (err) {
      note(text.error);
      if (window.console) {
        window.console.error("grid map:", err);
      }
    });
})();
