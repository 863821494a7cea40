/* The cooperation page: the network on a Leaflet map (served by the app, no CDN), the
   opportunities shown on it on demand, and for a signed-in facilitator the one-step
   declaration of a link: a form posted to /territories/{slug}/links/new with the session's
   anti-CSRF value (it works without this script, which only keeps the reader on the page).
   Every text comes from the page's data (the message catalogue); names are set as text, never
   as HTML. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("coop-data").textContent);
  var T = data.texts;
  var map = null;
  var focus = null;
  var markers = {};

  /* Leaflet sets a string tooltip as HTML: user text goes in as a text node instead. */
  function txt(value) {
    var span = document.createElement("span");
    span.textContent = value;
    return span;
  }

  function buildMap() {
    var el = document.getElementById("coop-map");
    if (!el || typeof L === "undefined") { return; }
    var many = Object.keys(data.nodes).length + data.links.length > 2000;
    map = Terreau.baseMap(el, { map: { preferCanvas: many, scrollWheelZoom: false }, tiles: data.tiles,
                                outline: data.boundary, view: [43.6, 3.8, 9] }).map;
    var nodes = data.nodes;
    var lines = [];
    /* Actors sharing a point (most demo actors sit at their commune's centre) are spread on a
       ring of a few pixels around it, recomputed at each zoom, so none hides another. */
    var groups = {};
    Object.keys(nodes).forEach(function (id) {
      var n = nodes[id], key = n[1].toFixed(6) + "," + n[0].toFixed(6);
      (groups[key] = groups[key] || []).push(id);
    });
    function place(id) {
      var n = nodes[id], ll = L.latLng(n[1], n[0]);
      var group = groups[n[1].toFixed(6) + "," + n[0].toFixed(6)];
      if (group.length < 2) { return ll; }
      var i = group.indexOf(id), r = Math.min(12 + 2 * group.length, 90);
      var angle = 2 * Math.PI * i / group.length;
      var z = map.getZoom();
      return map.unproject(map.project(ll, z).add([r * Math.cos(angle), r * Math.sin(angle)]), z);
    }
    Object.keys(nodes).forEach(function (id) {
      var n = nodes[id];
      var isolated = n[4] === 0;
      markers[id] = L.circleMarker([n[1], n[0]], {
        radius: isolated ? 5 : 6, color: n[3], weight: 2,
        fillColor: isolated ? "#fff" : n[3], fillOpacity: 0.9
      }).bindTooltip(txt(n[2] + (isolated ? " — " + T.isolated : "")));
    });
    data.links.forEach(function (l) {
      var a = nodes[l[0]], b = nodes[l[1]];
      if (!a || !b) { return; }
      var level = data.levels[String(l[2])];
      var line = L.polyline([[a[1], a[0]], [b[1], b[0]]], { color: level[1], weight: 1 + l[2], opacity: 0.85 })
        .bindTooltip(txt(a[2] + " ↔ " + b[2] + " — " + level[0])).addTo(map);
      lines.push([line, l[0], l[1]]);
    });
    Object.keys(markers).forEach(function (id) { markers[id].addTo(map); });
    function layout() {
      var at = {};
      Object.keys(markers).forEach(function (id) { at[id] = place(id); markers[id].setLatLng(at[id]); });
      lines.forEach(function (x) { x[0].setLatLngs([at[x[1]], at[x[2]]]); });
    }
    map.on("zoomend", function () {
      layout();
      if (focusIndex !== null) { drawFocus(); }
    });
    layout();
  }

  var focusIndex = null;

  function drawFocus() {
    var o = data.opportunities[focusIndex];
    if (focus) { map.removeLayer(focus); }
    var a = markers[o.a.id] ? markers[o.a.id].getLatLng() : L.latLng(o.a.lat, o.a.lon);
    var b = markers[o.b.id] ? markers[o.b.id].getLatLng() : L.latLng(o.b.lat, o.b.lon);
    /* A solid, thick line on a white casing, in a blue no cooperation level uses (dashes are the
       approximate position's alone); its colour is the list's focus outline's (cooperation.css). */
    var colour = getComputedStyle(document.documentElement).getPropertyValue("--coop-focus").trim();
    focus = L.layerGroup([
      L.polyline([a, b], { color: "#fff", weight: 10, opacity: 1, interactive: false,
                           className: "coop-focus-casing" }),
      L.polyline([a, b], { color: colour, weight: 5, opacity: 1, className: "coop-focus-line" }),
      L.circleMarker(a, { radius: 9, color: colour, weight: 3, fillOpacity: 0 }).bindTooltip(txt(o.a.name)),
      L.circleMarker(b, { radius: 9, color: colour, weight: 3, fillOpacity: 0 }).bindTooltip(txt(o.b.name))
    ]).addTo(map);
    return [a, b];
  }

  function show(index) {
    var o = data.opportunities[index];
    if (!map || !o) { return; }
    focusIndex = index;
    var ends = drawFocus();
    map.fitBounds(L.latLngBounds(ends).pad(0.6), { maxZoom: 15 });
    document.getElementById("coop-map").scrollIntoView({ behavior: "smooth", block: "center" });
    var items = document.querySelectorAll(".coop-opp");
    for (var i = 0; i < items.length; i++) { items[i].classList.toggle("coop-focus", i === index); }
  }

  /* The form posted from this page (same origin, the session cookie and the form's anti-CSRF
     value): a 303 to the new link's page means declared; a refusal is the form page again,
     whose field errors are read as text. */
  function declare(form) {
    var button = form.querySelector("button");
    var status = form.parentNode.querySelector(".coop-declared");
    button.disabled = true;
    status.textContent = T.sending;
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (r) {
        if (r.ok && r.redirected && r.url.indexOf("/links/") !== -1) {
          status.textContent = T.declared + " ";
          var a = document.createElement("a");
          a.href = r.url;
          a.textContent = T.see_link;
          status.appendChild(a);
          form.hidden = true;
          form.style.display = "none";  /* form.inline would show it still */
          return null;
        }
        return r.text().then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var said = doc.querySelector(".error") || doc.querySelector("main > h1 + p");
          button.disabled = false;
          status.textContent = T.declare_failed + " " + (said ? said.textContent.trim() : r.status);
        });
      }, function () {
        button.disabled = false;
        status.textContent = T.offline;
      });
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form instanceof HTMLFormElement && form.classList.contains("coop-declare-form")) {
      ev.preventDefault();
      declare(form);
    }
  });

  document.addEventListener("click", function (ev) {
    var target = ev.target;
    if (!(target instanceof Element)) { return; }
    var btn = target.closest("button");
    if (!btn) { return; }
    if (btn.classList.contains("coop-show")) { show(Number(btn.getAttribute("data-index"))); }
  });

  buildMap();
}());
