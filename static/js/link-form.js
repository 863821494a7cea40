/* The cooperation link form: what the script adds to a form that works without it.
   - name suggestions (accents ignored) under each end's field, from
     /territories/{slug}/links/suggest.json, chosen by tap, click or keyboard (arrows, Enter,
     Escape); choosing one fills the hidden id the form posts;
   - a map picker: the territory's resources as dots, a tap fills the end being chosen.
   Every text comes from the page's data (the message catalogue); names go in as text. */
(function () {
  "use strict";
  var form = document.getElementById("link-form");
  var dataEl = document.getElementById("link-form-data");
  if (!form || !dataEl) { return; }
  var data = JSON.parse(dataEl.textContent);
  var T = data.texts;
  var el = Terreau.el;
  var ends = ["source", "target"];
  var active = "source";
  var status = document.getElementById("picker-status");
  var markers = {};

  function hidden(end) { return document.getElementById(end); }
  function input(end) { return document.getElementById(end + "_name"); }

  function choose(end, id, name) {
    var h = hidden(end);
    if (!h) { return; }  /* the server offered choices: they are radios, no hidden field */
    h.value = id;
    input(end).value = name;
    closeList(end);
    highlight();
    say(Terreau.fmt(T.picked, { name: name }));
    if (end === "source" && !hidden("target").value) { active = "target"; }
  }

  function say(text) { if (status) { status.textContent = text; } }

  function closeList(end) {
    var list = document.getElementById(end + "-suggestions");
    list.hidden = true;
    list.textContent = "";
    input(end).setAttribute("aria-expanded", "false");
    input(end).removeAttribute("aria-activedescendant");
  }

  function showList(end, results) {
    var list = document.getElementById(end + "-suggestions");
    list.textContent = "";
    if (!results.length) {
      var none = el("li", "none", T.no_match);
      none.setAttribute("aria-disabled", "true");
      list.appendChild(none);
    }
    results.forEach(function (r, i) {
      var li = el("li", null, r.name + " ");
      li.id = end + "-option-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("data-id", r.id);
      li.setAttribute("data-name", r.name);
      li.appendChild(el("small", null, r.kind_label || ""));
      li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(end, r.id, r.name); });
      list.appendChild(li);
    });
    list.hidden = false;
    input(end).setAttribute("aria-expanded", "true");
  }

  var timers = {};
  var seq = 0;
  function lookUp(end) {
    var text = input(end).value.trim();
    if (text.length < 2) { closeList(end); return; }
    var mine = ++seq;
    fetch(data.suggest + "?q=" + encodeURIComponent(text), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { results: [] }; })
      .then(function (body) { if (mine === seq) { showList(end, body.results || []); } },
            function () { /* offline: the server resolves the typed name on submit */ });
  }

  function move(end, step) {
    var list = document.getElementById(end + "-suggestions");
    var items = list.querySelectorAll("li[role=option]");
    if (!items.length) { return; }
    var current = -1;
    for (var i = 0; i < items.length; i++) { if (items[i].getAttribute("aria-selected") === "true") { current = i; } }
    var next = (current + step + items.length) % items.length;
    for (var j = 0; j < items.length; j++) { items[j].setAttribute("aria-selected", j === next ? "true" : "false"); }
    input(end).setAttribute("aria-activedescendant", items[next].id);
    items[next].scrollIntoView({ block: "nearest" });
  }

  ends.forEach(function (end) {
    var box = input(end);
    if (!box) { return; }
    box.addEventListener("focus", function () { active = end; highlight(); });
    box.addEventListener("input", function () {
      if (hidden(end)) { hidden(end).value = ""; }
      clearTimeout(timers[end]);
      timers[end] = setTimeout(function () { lookUp(end); }, 150);
    });
    box.addEventListener("keydown", function (ev) {
      var list = document.getElementById(end + "-suggestions");
      if (ev.key === "ArrowDown") { ev.preventDefault(); if (list.hidden) { lookUp(end); } else { move(end, 1); } }
      else if (ev.key === "ArrowUp") { ev.preventDefault(); move(end, -1); }
      else if (ev.key === "Escape") { closeList(end); }
      else if (ev.key === "Enter" && !list.hidden) {
        var sel = list.querySelector("li[aria-selected=true]") || list.querySelector("li[role=option]");
        if (sel) { ev.preventDefault(); choose(end, sel.getAttribute("data-id"), sel.getAttribute("data-name")); }
      }
    });
    box.addEventListener("blur", function () { setTimeout(function () { closeList(end); }, 150); });
  });

  /* the map picker */
  var map = null;
  function highlight() {
    var picked = {};
    ends.forEach(function (end) { if (hidden(end) && hidden(end).value) { picked[hidden(end).value] = true; } });
    Object.keys(markers).forEach(function (id) {
      markers[id].setStyle({ weight: picked[id] ? 5 : 2, color: picked[id] ? "#6a1b9a" : markers[id].options.fillColor,
                             radius: picked[id] ? 10 : 7 });
    });
    if (map) { say(active === "source" ? T.pick_first : T.pick_second); }
  }

  function buildPicker() {
    var box = document.getElementById("link-picker");
    if (!box || typeof L === "undefined" || !data.resources.length) { return; }
    box.hidden = false;
    var base = Terreau.baseMap(box, { map: { scrollWheelZoom: false, tap: true }, tiles: data.tiles,
                                      outline: data.boundary, view: [43.6, 3.8, 9] });
    map = base.map;
    var bounds = base.outline.getBounds();
    var points = L.latLngBounds([]);
    /* resources sharing a point (many sit at their commune's centre) are spread on a ring */
    var groups = {};
    data.resources.forEach(function (r) {
      var key = r[4].toFixed(5) + "," + r[3].toFixed(5);
      (groups[key] = groups[key] || []).push(r);
    });
    Object.keys(groups).forEach(function (key) {
      var group = groups[key];
      group.forEach(function (r, i) {
        var ll = L.latLng(r[4], r[3]);
        if (group.length > 1) {
          var z = map.getZoom(), radius = Math.min(14 + 3 * group.length, 80), angle = 2 * Math.PI * i / group.length;
          ll = map.unproject(map.project(ll, z).add([radius * Math.cos(angle), radius * Math.sin(angle)]), z);
        }
        points.extend(ll);
        var colour = Terreau.safeColour(data.colours[r[2]]);
        var span = el("span", null, r[1]);
        markers[r[0]] = L.circleMarker(ll, { radius: 7, color: colour, fillColor: colour, weight: 2, fillOpacity: 0.85 })
          .bindTooltip(span).addTo(map)
          .on("click", function () { choose(active, r[0], r[1]); });
      });
    });
    if (!bounds.isValid() && points.isValid()) { map.fitBounds(points.pad(0.2)); }
    highlight();
  }

  buildPicker();
}());
