/* The application's map pin: a draggable marker kept in step with the typed latitude and
 * longitude fields, which stay the source of truth (they work without this script or tiles).
 * Tiles are drawn only when the server configures a tile URL. */
(function () {
  "use strict";

  function init() {
    var el = document.getElementById("apply-map");
    if (!el || el.dataset.ready || typeof window.L === "undefined") {
      return;
    }
    el.dataset.ready = "1";
    var text = el.dataset;
    var latInput = document.getElementById(text.latInput);
    var lngInput = document.getElementById(text.lngInput);
    if (!latInput || !lngInput) {
      return;
    }
    el.hidden = false;

    function typed() {
      var lat = parseFloat(latInput.value);
      var lng = parseFloat(lngInput.value);
      if (isFinite(lat) && isFinite(lng) && Math.abs(lat) <= 90 && Math.abs(lng) <= 180) {
        return L.latLng(lat, lng);
      }
      return null;
    }

    var start = typed();
    var map = L.map(el, { zoomSnap: 0.5 });
    map.setView(start || [30.259, 120.164], start ? 17 : 12);
    if (text.tileUrl) {
      L.tileLayer(text.tileUrl, { attribution: text.tileAttribution || "", maxZoom: 19 }).addTo(map);
    } else {
      var Note = L.Control.extend({
        options: { position: "bottomleft" },
        onAdd: function () {
          var div = L.DomUtil.create("div", "leaflet-bar");
          div.style.background = "#fff";
          div.style.padding = ".3rem .5rem";
          div.style.fontSize = ".85rem";
          div.textContent = text.noTiles;
          return div;
        }
      });
      new Note().addTo(map);
    }

    var marker = L.marker(start || map.getCenter(), { draggable: true, autoPan: true }).addTo(map);

    function write(latlng) {
      latInput.value = latlng.lat.toFixed(6);
      lngInput.value = latlng.lng.toFixed(6);
    }

    marker.on("dragend", function () { write(marker.getLatLng()); });
    map.on("click", function (e) { marker.setLatLng(e.latlng); write(e.latlng); });
    [latInput, lngInput].forEach(function (input) {
      input.addEventListener("change", function () {
        var point = typed();
        if (point) { marker.setLatLng(point); map.panTo(point); }
      });
    });

    if (navigator.geolocation) {
      var Locate = L.Control.extend({
        options: { position: "topright" },
        onAdd: function () {
          var button = L.DomUtil.create("button", "leaflet-bar");
          button.type = "button";
          button.style.background = "#fff";
          button.style.padding = ".3rem .5rem";
          button.style.minHeight = "auto";
          button.style.color = "#1f2328";
          button.textContent = text.locateLabel;
          L.DomEvent.on(button, "click", function (e) {
            L.DomEvent.stop(e);
            navigator.geolocation.getCurrentPosition(function (pos) {
              var point = L.latLng(pos.coords.latitude, pos.coords.longitude);
              marker.setLatLng(point);
              map.setView(point, 17);
              write(point);
            });
          });
          return button;
        }
      });
      new Locate().addTo(map);
    }
  }

  init();
  // htmx swaps the form in place when saving finds errors: draw the map again.
  document.body.addEventListener("htmx:afterSettle", init);
})();
