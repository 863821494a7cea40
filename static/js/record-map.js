/* The record page's small map: one marker at the position this reader is shown (a private
   person's commune centre, never their home), tiles-free so it works offline. */
(function () {
  "use strict";
  var box = document.getElementById("record-map");
  if (!box || typeof L === "undefined") { return; }
  var lon = parseFloat(box.getAttribute("data-lon"));
  var lat = parseFloat(box.getAttribute("data-lat"));
  if (isNaN(lon) || isNaN(lat)) { box.hidden = true; return; }
  var exact = box.getAttribute("data-precision") === "exact";
  var map = Terreau.baseMap(box, { map: { zoomControl: true, attributionControl: false, scrollWheelZoom: false },
                                   view: [lat, lon, exact ? 14 : 12] }).map;
  if (exact) {
    L.circleMarker([lat, lon], { radius: 9, color: "#2e5d34", weight: 3, fillOpacity: 0.6 }).addTo(map);
  } else {
    L.circle([lat, lon], { radius: 1500, color: "#2e5d34", weight: 2, fillOpacity: 0.15 }).addTo(map);
  }
}());
