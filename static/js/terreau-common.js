/* Terreau: the browser helpers every page script shares (the territory map, nearby, the
 * cooperation, import, form, record and workshop pages). Loaded before them as a plain script; the offline download
 * inlines it like every other asset. Text always goes through textContent, never innerHTML.
 */
(function (root) {
  'use strict';

  /* An element with an optional class and text (escaped by textContent). */
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /* "{name}" placeholders of a catalogue message filled from `values`. */
  function fmt(template, values) {
    return String(template || '').replace(/\{(\w+)\}/g, function (m, key) {
      return values[key] === undefined ? m : String(values[key]);
    });
  }

  /* A colour from the data, used in style attributes: only #rgb / #rrggbb pass. */
  function safeColour(value) {
    return /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/.test(value || '') ? value : '#616161';
  }

  /* A Font Awesome icon name from the data: only plain names pass. */
  function safeIcon(value) {
    return /^[a-z0-9-]{1,40}$/.test(value || '') ? value : 'circle';
  }

  /* A Leaflet map in `box` as every Terreau map starts: the tile layer when the territory has
     one (`tiles.url`, `tiles.attribution`), the territory's outline (`outline`, GeoJSON) fitted
     in view, else the `view` [lat, lon, zoom]. `map` holds Leaflet's own options. Returns
     {map, tiles, outline, showOutline}: a page that fetches its outline later shows it then. */
  function baseMap(box, opts) {
    opts = opts || {};
    var tiles = opts.tiles || {};
    var view = opts.view || [46.6, 2.4, 6];
    var map = L.map(box, opts.map || {});
    var base = { map: map, tiles: null, outline: null };
    var hasView = false;
    if (tiles.url) {
      base.tiles = L.tileLayer(tiles.url, { attribution: tiles.attribution || '', maxZoom: 19 }).addTo(map);
    }
    /* The outline is the background when there are no tiles: more filled then. The view is
       set before the layer is added (a layer added to a map without a view has no renderer). */
    base.showOutline = function (shape, fit) {
      var layer = L.geoJSON(shape, {
        style: { color: '#2e5d34', weight: 2, fillColor: '#eef0e6', fillOpacity: tiles.url ? 0.08 : 0.6 },
        interactive: false
      });
      var bounds = layer.getBounds();
      if (fit && bounds.isValid()) { map.fitBounds(bounds, { padding: [10, 10] }); hasView = true; }
      if (!hasView) { map.setView([view[0], view[1]], view[2]); hasView = true; }
      base.outline = layer.addTo(map);
      return layer;
    };
    if ('outline' in opts) { base.showOutline(opts.outline, true); }
    else { map.setView([view[0], view[1]], view[2]); hasView = true; }
    return base;
  }

  /* Awaiting validation ("en attente de validation"), drawn one way on every map (the
     territory's, a workshop's); dashes are the approximate position's alone
     (docs/conventions.md). A dot: its marker element has the class `pending.className`, which
     gives it the amber clock badge (static/css/terreau-marks.css, with the legend's samples).
     A line: drawn over a wide amber casing, `pending.casing(weight)` (Leaflet path options for
     the line under it, `weight` being the line's). Its accessible name says it in words. */
  var pending = {
    className: 'is-pending',
    colour: '#ffb300',
    casing: function (weight) {
      return { color: '#ffb300', weight: weight + 7, opacity: 1, lineCap: 'round',
               interactive: false, className: 'tm-link-casing is-pending' };
    }
  };

  root.Terreau = { el: el, fmt: fmt, safeColour: safeColour, safeIcon: safeIcon, baseMap: baseMap,
                   pending: pending };
})(window);
