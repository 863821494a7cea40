/* The resource form (templates/resource_form.html), made easier: place the resource by tapping
 * a map, commune suggestions (accents ignored, from /api/nearby/suggest), a day-and-time helper
 * that writes the OpenStreetMap opening-hours syntax, and the server's check of that syntax as
 * one types (/api/opening-hours/check: the same rule as every write). Everything here is an
 * addition: the form posts and works without this script. Loaded after terreau-common.js.
 * Text goes through textContent only.
 */
(function () {
  'use strict';
  var form = document.getElementById('resource-form');
  if (!form) return;
  var T = window.Terreau;
  var lang = document.documentElement.lang === 'en' ? 'en' : 'fr';
  var said = function (name) { return form.getAttribute('data-t-' + name) || ''; };
  var byId = function (id) { return document.getElementById(id); };
  var lat = byId('lat'), lon = byId('lon'), atCommune = byId('at_commune');
  var precision = byId('location_precision'), commune = byId('commune');

  function debounce(fn, ms) {
    var timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  function getJSON(url, done) {
    fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) done(data); })
      .catch(function () { /* the form still works without the help */ });
  }

  /* --- the map picker ------------------------------------------------------------------- */
  var box = byId('picker');
  if (box && typeof L !== 'undefined') {
    box.hidden = false;
    byId('picker-hint').hidden = false;
    var base = T.baseMap(box, { map: { zoomControl: true, attributionControl: true, tap: true },
                                tiles: { url: box.getAttribute('data-tiles'), attribution: box.getAttribute('data-attribution') } });
    var map = base.map;
    map.attributionControl.setPrefix(false);
    var marker = null;
    var show = function (y, x) {
      if (marker) { marker.setLatLng([y, x]); } else {
        marker = L.circleMarker([y, x], { radius: 11, color: '#1f2a1f', weight: 3, fillColor: '#2e5d34', fillOpacity: 0.8 }).addTo(map);
      }
    };
    var place = function (y, x) {
      // in the reader's way of writing decimals (43,461190 in French); the server reads both
      var decimal = function (v) { var s = v.toFixed(6); return lang === 'fr' ? s.replace('.', ',') : s; };
      lat.value = decimal(y);
      lon.value = decimal(x);
      precision.value = 'exact';
      if (atCommune) atCommune.checked = false;
      show(y, x);
      byId('picker-status').textContent = T.fmt(said('placed'), { lat: lat.value, lon: lon.value });
    };
    var y0 = parseFloat((lat.value || '').replace(',', '.'));
    var x0 = parseFloat((lon.value || '').replace(',', '.'));
    var known = !isNaN(y0) && !isNaN(x0);
    if (known) { show(y0, x0); map.setView([y0, x0], 14); }
    getJSON(box.getAttribute('data-outline'), function (feature) {
      if (!feature || !feature.geometry) return;
      base.showOutline(feature, !known);
    });
    map.on('click', function (e) { place(e.latlng.lat, e.latlng.lng); });
    // Keyboard: move the map with the arrows, Enter places the resource at its centre.
    box.addEventListener('keydown', function (e) {
      if (e.key === 'Enter') {
        e.preventDefault();
        var c = map.getCenter();
        place(c.lat, c.lng);
      }
    });
  }

  /* --- commune suggestions -------------------------------------------------------------- */
  var list = byId('commune-suggestions');
  if (commune && list) {
    var items = [], active = -1;
    var close = function () {
      list.hidden = true; list.textContent = ''; items = []; active = -1;
      commune.setAttribute('aria-expanded', 'false');
      commune.removeAttribute('aria-activedescendant');
    };
    var choose = function (item) {
      commune.value = item.label;
      if (atCommune) atCommune.checked = true;
      precision.value = 'commune';
      close();
    };
    var mark = function (i) {
      active = i;
      Array.prototype.forEach.call(list.children, function (li, j) {
        li.setAttribute('aria-selected', j === i ? 'true' : 'false');
      });
      if (i >= 0) commune.setAttribute('aria-activedescendant', 'commune-option-' + i);
    };
    var render = function (found) {
      list.textContent = '';
      items = found;
      if (!found.length) {
        list.appendChild(T.el('li', 'none', said('no_commune')));
      }
      found.forEach(function (item, i) {
        var li = T.el('li', '', item.label);
        li.id = 'commune-option-' + i;
        li.setAttribute('role', 'option');
        li.setAttribute('aria-selected', 'false');
        li.addEventListener('mousedown', function (e) { e.preventDefault(); choose(item); });
        list.appendChild(li);
      });
      list.hidden = false;
      commune.setAttribute('aria-expanded', 'true');
      active = -1;
    };
    var lookUp = debounce(function () {
      var q = commune.value.trim();
      if (q.length < 2) { close(); return; }
      getJSON('/api/nearby/suggest?limit=8&lang=' + lang + '&q=' + encodeURIComponent(q), function (data) {
        if (commune.value.trim() !== q) return;
        render((data.suggestions || []).filter(function (s) { return s.type === 'commune'; }));
      });
    }, 200);
    commune.addEventListener('input', lookUp);
    commune.addEventListener('blur', function () { setTimeout(close, 150); });
    commune.addEventListener('keydown', function (e) {
      if (list.hidden || !items.length) return;
      if (e.key === 'ArrowDown') { e.preventDefault(); mark(Math.min(active + 1, items.length - 1)); }
      else if (e.key === 'ArrowUp') { e.preventDefault(); mark(Math.max(active - 1, 0)); }
      else if (e.key === 'Enter' && active >= 0) { e.preventDefault(); choose(items[active]); }
      else if (e.key === 'Escape') { close(); }
    });
  }

  /* --- opening hours: the helper and the check ------------------------------------------ */
  var hours = byId('opening_hours'), check = byId('hours-check');
  var verify = debounce(function () {
    var value = hours.value.trim();
    if (!value) { check.textContent = ''; check.className = 'hours-check'; return; }
    check.textContent = said('checking');
    getJSON('/api/opening-hours/check?lang=' + lang + '&value=' + encodeURIComponent(value), function (data) {
      if (hours.value.trim() !== value) return;
      check.textContent = data.message || '';
      check.className = 'hours-check ' + (data.valid ? 'ok' : 'bad');
    });
  }, 300);
  if (hours && check) {
    hours.addEventListener('input', verify);
    if (hours.value.trim()) verify();
  }
  var helper = byId('hours-helper');
  if (helper && hours) {
    helper.hidden = false;
    var DAYS = ['Mo', 'Tu', 'We', 'Th', 'Fr', 'Sa', 'Su'];
    /* Ticked days as OSM writes them: runs of three or more as a range (Mo-Fr), others listed. */
    var daysText = function (ticked) {
      var idx = ticked.map(function (d) { return DAYS.indexOf(d); }).sort();
      var parts = [], start = 0;
      for (var i = 1; i <= idx.length; i++) {
        if (i === idx.length || idx[i] !== idx[i - 1] + 1) {
          var run = idx.slice(start, i);
          if (run.length >= 3) parts.push(DAYS[run[0]] + '-' + DAYS[run[run.length - 1]]);
          else run.forEach(function (k) { parts.push(DAYS[k]); });
          start = i;
        }
      }
      return parts.join(',');
    };
    byId('hours-add').addEventListener('click', function () {
      var boxes = helper.querySelectorAll('input.hours-day');
      var ticked = [];
      Array.prototype.forEach.call(boxes, function (b) { if (b.checked) ticked.push(b.value); });
      if (!ticked.length) {
        check.textContent = said('pick_day'); check.className = 'hours-check bad';
        return;
      }
      var ranges = [];
      [['hours-from', 'hours-to'], ['hours-from2', 'hours-to2']].forEach(function (p) {
        var a = byId(p[0]).value, b = byId(p[1]).value;
        if (a && b) ranges.push(a + '-' + b);
      });
      var rule = daysText(ticked) + (ranges.length ? ' ' + ranges.join(',') : '');
      var now = hours.value.trim();
      hours.value = now ? now + '; ' + rule : rule;
      Array.prototype.forEach.call(boxes, function (b) { b.checked = false; });
      verify();
    });
  }

  /* --- a producer's output and surfaces: shown for producers --------------------------- */
  var producer = byId('producer-section');
  if (producer) {
    var filled = Array.prototype.some.call(producer.querySelectorAll('input[type=text]'), function (i) { return i.value; });
    var toggle = function () {
      var kind = form.querySelector('input[name=kind]:checked');
      producer.hidden = !filled && !(kind && kind.value === 'producer');
    };
    Array.prototype.forEach.call(form.querySelectorAll('input[name=kind]'), function (r) {
      r.addEventListener('change', toggle);
    });
    toggle();
  }
}());
