/* Terreau « À proximité »: what is near a commune, a place, a resource or your position.
 *
 * The state lives in the query string (shareable link, back button): commune | resource |
 * lat+lon(+label), kind, product, radius_km, open, access. Every change reruns the search on
 * /api/nearby and redraws the list and the map from the same answer.
 *
 * Safety: every text that comes from the data or the URL reaches the page through
 * textContent / createTextNode, never innerHTML; map pins are DOM nodes built the same way;
 * links are only made from http(s) URLs, tel: from digits, mailto: from an address.
 * Without Leaflet or without a tile URL the list still works (the map degrades or hides).
 */
(function () {
  'use strict';

  var cfg = JSON.parse(document.getElementById('nb-config').textContent);
  var T = cfg.text;
  var lang = cfg.lang === 'en' ? 'en' : 'fr';
  var BEARINGS = (T.bearing || 'N,NE,E,SE,S,SW,W,NW').split(',');
  var CODES = ['N', 'NE', 'E', 'SE', 'S', 'SW', 'W', 'NW'];
  var LIMIT = 20;
  var DEFAULT_VIEW = { lat: 43.95, lon: 3.55, zoom: 7 };  // Gard, Hérault, Haute-Loire, Lozère

  var $ = function (id) { return document.getElementById(id); };
  var form = $('nb-form'), input = $('nb-q'), listbox = $('nb-suggest'), statusEl = $('nb-status');
  var list = $('nb-list'), shareBtn = $('nb-share');

  var state = {
    origin: null,  // {type: commune|resource|point|place, code|id, lat, lon, label}
    kinds: ['producer'],
    kindsChosen: false,  // the pre-selected kind: a first tap replaces it, further taps add
    products: [],
    radius: cfg.default_radius,
    open: false,
    uncond: false
  };

  /* ------------------------------------------------------------------ helpers */

  var el = Terreau.el, fmt = Terreau.fmt, safeColour = Terreau.safeColour;


  function icon(name) {
    var i = el('i', 'fa-solid fa-' + Terreau.safeIcon(name));
    i.setAttribute('aria-hidden', 'true');
    return i;
  }



  function number(value, digits) {
    try {
      return new Intl.NumberFormat(lang === 'en' ? 'en-GB' : 'fr-FR',
        { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(value);
    } catch (e) { return String(value); }
  }

  function distance(m) {
    if (m < 1000) return fmt(T.m, { d: number(m, 0) });
    return fmt(T.km, { d: number(m / 1000, m < 10000 ? 1 : 0) });
  }

  // Placed at a commune's or neighbourhood's centre: the distance is to that centre, so it is
  // shown rounded and marked "≈" (700 m, not a measured 680 m).
  function shownDistance(p) {
    if (!p.distance_approximate) return distance(p.distance_m);
    var m = p.distance_m < 1000 ? Math.max(100, Math.round(p.distance_m / 100) * 100)
      : p.distance_m < 10000 ? Math.round(p.distance_m / 100) * 100 : Math.round(p.distance_m / 1000) * 1000;
    return fmt(T.approx_distance, { d: distance(m) });
  }

  function approxWhere(p) {
    if (p.location_precision === 'commune') return T.approx_commune;
    if (p.location_precision === 'neighbourhood') return T.approx_neighbourhood;
    return T.approx_other;
  }

  var ARROWS = ['\u2191', '\u2197', '\u2192', '\u2198', '\u2193', '\u2199', '\u2190', '\u2196'];

  function bearing(code) {
    var i = CODES.indexOf(code);
    return i < 0 ? '' : ARROWS[i] + '\u00a0' + BEARINGS[i];
  }

  function kindInfo(code) {
    return cfg.all_kinds[code] || { label: code, colour: '#616161', icon: 'circle' };
  }

  function setStatus(text, kind) {
    statusEl.textContent = text;
    statusEl.className = 'nb-status' + (kind ? ' nb-status-' + kind : '');
  }

  function originLabel(origin, answer) {
    var o = (answer && answer.origin) || {};
    if (!origin) return '';
    if (origin.type === 'point' || origin.type === 'map') {
      return origin.label || (origin.type === 'map' ? T.origin_map : T.origin_point);
    }
    return origin.label || o.label || '';
  }

  /* ------------------------------------------------------------------ URL state */

  function readUrl() {
    var p = new URLSearchParams(window.location.search);
    var lat = parseFloat(p.get('lat')), lon = parseFloat(p.get('lon'));
    if (p.get('commune')) {
      state.origin = { type: 'commune', code: p.get('commune'), label: p.get('label') || p.get('commune') };
    } else if (p.get('resource')) {
      state.origin = { type: 'resource', id: p.get('resource'), label: p.get('label') || '' };
    } else if (isFinite(lat) && isFinite(lon)) {
      var from = p.get('from');
      // a shared "my position" is, for whoever opens the link, just a point on the map
      state.origin = { type: from === 'place' ? 'place' : 'map', lat: lat, lon: lon,
                       label: from === 'place' ? (p.get('label') || '') : '' };
    }
    if (p.get('kind')) {
      state.kinds = p.get('kind').split(',').filter(function (k) { return k in cfg.all_kinds; });
      state.kindsChosen = true;
    }
    if (p.get('product')) state.products = p.get('product').split(',').filter(Boolean);
    var r = parseFloat(p.get('radius_km'));
    if (isFinite(r) && r > 0 && r <= 200) state.radius = r;
    state.open = p.get('open') === '1';
    state.uncond = p.get('access') === 'unconditional';
  }

  function pageParams() {
    var p = new URLSearchParams();
    var o = state.origin;
    if (o) {
      if (o.type === 'commune') p.set('commune', o.code);
      else if (o.type === 'resource') p.set('resource', o.id);
      else { p.set('lat', o.lat.toFixed(5)); p.set('lon', o.lon.toFixed(5)); }
      if (o.type === 'map' || o.type === 'place') p.set('from', o.type);
      if (o.label && (o.type === 'commune' || o.type === 'resource' || o.type === 'place')) {
        p.set('label', o.label);
      }
    }
    p.set('kind', state.kinds.join(','));
    if (state.products.length) p.set('product', state.products.join(','));
    if (state.radius !== cfg.default_radius) p.set('radius_km', String(state.radius));
    if (state.open) p.set('open', '1');
    if (state.uncond) p.set('access', 'unconditional');
    if (lang === 'en') p.set('lang', 'en');
    return p;
  }

  function writeUrl() {
    var url = window.location.pathname + '?' + pageParams().toString();
    window.history.replaceState(null, '', url);
  }

  function apiParams() {
    var p = new URLSearchParams();
    var o = state.origin;
    if (o.type === 'commune') p.set('commune', o.code);
    else if (o.type === 'resource') p.set('resource', o.id);
    else { p.set('lat', String(o.lat)); p.set('lon', String(o.lon)); }
    state.kinds.forEach(function (k) { p.append('kind', k); });
    state.products.forEach(function (k) { p.append('product', k); });
    p.set('radius_km', String(state.radius));
    p.set('limit', String(LIMIT));
    if (state.open) p.set('open_at', 'now');
    if (state.uncond) p.set('access', 'unconditional');
    p.set('lang', lang);
    return p;
  }

  /* ------------------------------------------------------------------ controls */

  function syncControls() {
    Array.prototype.forEach.call(document.querySelectorAll('.nb-kind'), function (b) {
      b.setAttribute('aria-pressed', state.kinds.indexOf(b.dataset.kind) >= 0 ? 'true' : 'false');
    });
    Array.prototype.forEach.call(document.querySelectorAll('.nb-chip'), function (b) {
      b.setAttribute('aria-pressed', state.products.indexOf(b.dataset.product) >= 0 ? 'true' : 'false');
    });
    var select = $('nb-radius');
    if (!Array.prototype.some.call(select.options, function (o) { return Number(o.value) === state.radius; })) {
      var extra = el('option', null, state.radius + ' km');
      extra.value = String(state.radius);
      select.appendChild(extra);
    }
    select.value = String(state.radius);
    $('nb-open').checked = state.open;
    $('nb-uncond').checked = state.uncond;
    if (state.products.length || state.open || state.uncond || state.radius !== cfg.default_radius) {
      $('nb-more').open = true;
    }
    if (state.origin && state.origin.label && document.activeElement !== input) {
      input.value = state.origin.label;
    }
  }

  function toggle(listName, code) {
    var values = state[listName];
    var i = values.indexOf(code);
    if (i >= 0) values.splice(i, 1); else values.push(code);
  }

  document.getElementById('nb-kinds').addEventListener('click', function (e) {
    var b = e.target.closest('.nb-kind');
    if (!b) return;
    if (!state.kindsChosen) {
      state.kinds = [b.dataset.kind];  // a first tap chooses
      state.kindsChosen = true;
    } else {
      toggle('kinds', b.dataset.kind);  // further taps add or remove
    }
    syncControls();
    run();
  });
  document.getElementById('nb-products').addEventListener('click', function (e) {
    var b = e.target.closest('.nb-chip');
    if (!b) return;
    toggle('products', b.dataset.product);
    syncControls();
    run();
  });
  $('nb-radius').addEventListener('change', function () {
    state.radius = Number(this.value);
    run();
  });
  $('nb-open').addEventListener('change', function () { state.open = this.checked; run(); });
  $('nb-uncond').addEventListener('change', function () { state.uncond = this.checked; run(); });

  $('nb-locate').addEventListener('click', function () {
    if (!navigator.geolocation) { setStatus(T.locate_failed, 'error'); return; }
    setStatus(T.locating, 'busy');
    navigator.geolocation.getCurrentPosition(function (pos) {
      setOrigin({ type: 'point', lat: pos.coords.latitude, lon: pos.coords.longitude, label: T.origin_point });
    }, function () {
      setStatus(T.locate_failed, 'error');
    }, { enableHighAccuracy: false, timeout: 15000, maximumAge: 120000 });
  });

  shareBtn.addEventListener('click', function () {
    var url = window.location.href;
    var done = function () {
      var label = shareBtn.querySelector('span');
      label.textContent = T.copied;
      setTimeout(function () { label.textContent = T.share; }, 2000);
    };
    if (navigator.share && /Mobi|Android/i.test(navigator.userAgent)) {
      navigator.share({ url: url, title: document.title }).catch(function () {});
    } else if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(url).then(done, function () { window.prompt('', url); });
    } else {
      window.prompt('', url);
    }
  });

  var revealResults = false;  // after a person's choice on a phone, bring the results into view

  function setOrigin(origin) {
    state.origin = origin;
    revealResults = true;
    input.value = origin.type === 'point' || origin.type === 'map' ? '' : (origin.label || '');
    if (origin.type === 'point' || origin.type === 'map') input.placeholder = origin.label || cfg.text.placeholder;
    closeSuggestions();
    run();
  }

  /* ------------------------------------------------------------------ suggestions */

  var suggestTimer = null, suggestCtrl = null, options = [], active = -1;

  function closeSuggestions() {
    listbox.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    options = [];
    active = -1;
  }

  function typeLabel(item) {
    if (item.type === 'commune') return T.suggest_commune;
    if (item.type === 'territory') return T.suggest_place;
    return item.kind_label || T.suggest_resource;
  }

  function itemOrigin(item) {
    if (item.type === 'commune') return { type: 'commune', code: item.code, label: item.label };
    if (item.type === 'territory') return { type: 'place', lat: item.lat, lon: item.lon, label: item.label };
    return { type: 'resource', id: item.id, label: item.name };
  }

  function showSuggestions(items, message) {
    while (listbox.firstChild) listbox.removeChild(listbox.firstChild);
    options = items;
    active = -1;
    if (!items.length) {
      if (!message) { closeSuggestions(); return; }
      var empty = el('li', 'nb-suggest-empty', message);
      empty.setAttribute('role', 'presentation');
      listbox.appendChild(empty);
    }
    items.forEach(function (item, i) {
      var li = el('li', 'nb-suggest-item');
      li.id = 'nb-opt-' + i;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', 'false');
      var name = el('span', 'nb-suggest-name', item.label);
      var extra = item.type === 'resource' && item.commune_name ? ' · ' + item.commune_name : '';
      var type = el('span', 'nb-suggest-type', typeLabel(item) + extra);
      li.appendChild(name);
      li.appendChild(type);
      li.addEventListener('mousedown', function (e) { e.preventDefault(); });
      li.addEventListener('click', function () { choose(i); });
      listbox.appendChild(li);
    });
    listbox.hidden = false;
    input.setAttribute('aria-expanded', 'true');
  }

  function highlight(i) {
    var items = listbox.querySelectorAll('[role=option]');
    if (!items.length) return;
    active = (i + items.length) % items.length;
    Array.prototype.forEach.call(items, function (li, j) {
      li.setAttribute('aria-selected', j === active ? 'true' : 'false');
    });
    input.setAttribute('aria-activedescendant', items[active].id);
    items[active].scrollIntoView({ block: 'nearest' });
  }

  function choose(i) {
    var item = options[i];
    if (!item) return;
    input.blur();  // closes the phone's keyboard
    setOrigin(itemOrigin(item));
  }

  function fetchSuggestions(q) {
    if (suggestCtrl) suggestCtrl.abort();
    suggestCtrl = window.AbortController ? new AbortController() : null;
    var url = cfg.suggest + '?' + new URLSearchParams({ q: q, lang: lang }).toString();
    return fetch(url, { signal: suggestCtrl ? suggestCtrl.signal : undefined, headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
      .then(function (body) { return body.suggestions || []; });
  }

  input.addEventListener('input', function () {
    var q = input.value.trim();
    clearTimeout(suggestTimer);
    if (q.length < 2) { closeSuggestions(); return; }
    suggestTimer = setTimeout(function () {
      fetchSuggestions(q).then(function (items) {
        if (input.value.trim() === q) showSuggestions(items, T.no_suggestion);
      }).catch(function () {});
    }, 160);
  });

  input.addEventListener('keydown', function (e) {
    if (e.key === 'ArrowDown') { e.preventDefault(); if (listbox.hidden) input.dispatchEvent(new Event('input')); else highlight(active + 1); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); highlight(active - 1); }
    else if (e.key === 'Escape') { closeSuggestions(); }
    else if (e.key === 'Enter') {
      e.preventDefault();
      if (!listbox.hidden && active >= 0) { choose(active); return; }
      var q = input.value.trim();
      if (q.length < 2) return;
      // Enter without picking: the first suggestion, or the text as a commune name
      input.blur();
      fetchSuggestions(q).then(function (items) {
        if (items.length) setOrigin(itemOrigin(items[0]));
        else setOrigin({ type: 'commune', code: q, label: q });
      }).catch(function () { setOrigin({ type: 'commune', code: q, label: q }); });
    }
  });
  input.addEventListener('blur', function () { setTimeout(closeSuggestions, 150); });
  form.addEventListener('submit', function (e) { e.preventDefault(); });

  /* ------------------------------------------------------------------ map */

  var map = null, layer = null, originLayer = null, pins = {};

  function initMap() {
    var box = $('nb-map');
    if (!window.L) { box.parentNode.hidden = true; return; }
    var base = Terreau.baseMap(box, { map: { zoomControl: true, attributionControl: true }, tiles: cfg.tiles,
                                      view: [DEFAULT_VIEW.lat, DEFAULT_VIEW.lon, DEFAULT_VIEW.zoom] });
    map = base.map;
    if (base.tiles) {
      var tiles = base.tiles;
      var errors = 0;
      tiles.on('tileerror', function () { errors += 1; if (errors >= 2) communesBackground(T.tiles_failed); });
      tiles.on('tileload', function () { errors = 0; });
    } else {
      communesBackground(T.tiles_off);
    }
    layer = L.layerGroup().addTo(map);
    originLayer = L.layerGroup().addTo(map);
    map.on('click', function (e) {
      setOrigin({ type: 'map', lat: e.latlng.lat, lon: e.latlng.lng, label: T.origin_map });
    });
  }

  // Without tiles (none configured, or unreachable) the communes are the background, as on the
  // territory maps: outlines and names of the communes in view (/nearby/communes.json).
  var communes = null;

  function communesBackground(note) {
    if (communes || !map) return;
    var box = $('nb-map');
    box.classList.add('nb-no-tiles');
    box.setAttribute('data-background', 'communes');
    map.attributionControl.addAttribution(note);
    map.createPane('nb-communes');
    map.getPane('nb-communes').style.zIndex = 150;
    map.getPane('nb-communes').style.pointerEvents = 'none';
    communes = L.geoJSON(null, {
      pane: 'nb-communes', interactive: false,
      style: { color: '#9a9a8a', weight: 1, fillColor: '#efeadb', fillOpacity: 0.9 },
      onEachFeature: function (f, l) {
        l.bindTooltip(el('span', null, f.properties.name), { permanent: true, direction: 'center',
          className: 'nb-commune-label', pane: 'nb-communes', interactive: false });
      }
    }).addTo(map);
    var ctrl = null, timer = null;
    function load() {
      if (ctrl) ctrl.abort();
      ctrl = window.AbortController ? new AbortController() : null;
      var b = map.getBounds().pad(0.1);
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(4); }).join(',');
      fetch(cfg.communes + '?bbox=' + bbox, { signal: ctrl ? ctrl.signal : undefined, headers: { Accept: 'application/json' } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          if (!body) return;
          communes.clearLayers();
          communes.addData(body);
          box.setAttribute('data-communes', String(body.features.length));
          // Names only when the map is close enough for them to fit.
          box.classList.toggle('nb-commune-names', map.getZoom() >= 11);
        }).catch(function () {});
    }
    map.on('moveend', function () { clearTimeout(timer); timer = setTimeout(load, 150); });
    load();
  }

  function pinIcon(label, colour) {
    var node = el('span', 'nb-pin-dot', label);
    node.style.background = safeColour(colour);
    return L.divIcon({ className: 'nb-pin', html: node, iconSize: [30, 30], iconAnchor: [15, 15], popupAnchor: [0, -13] });
  }

  function popupEntry(f, n) {
    var p = f.properties;
    var box = el('div', 'nb-popup-entry');
    box.appendChild(el('strong', null, n + '. ' + p.name));
    box.appendChild(el('div', 'nb-popup-kind', (p.kind_label || kindInfo(p.kind).label) + ' · ' +
      shownDistance(p) + (p.bearing ? ' ' + bearing(p.bearing) : '')));
    if (p.distance_approximate) box.appendChild(el('div', 'nb-approx', approxWhere(p)));
    if (p.opening_hours) box.appendChild(el('div', p.open ? 'nb-open' : 'nb-closed', p.opening_status));
    var go = el('button', 'nb-linkish', T.from_here);
    go.type = 'button';
    go.addEventListener('click', function () { searchAround(p); });
    box.appendChild(go);
    return box;
  }

  function drawMap(answer) {
    if (!map) return;
    layer.clearLayers();
    originLayer.clearLayers();
    pins = {};
    var o = answer.origin;
    var centre = [o.lat, o.lon];
    // The search radius: a thin solid outline and a faint fill (dashes are the approximate
    // position's alone, docs/conventions.md).
    var circle = L.circle(centre, { radius: state.radius * 1000, color: '#2e5d34', weight: 1.5,
      opacity: 0.7, fillColor: '#2e5d34', fillOpacity: 0.07, interactive: false,
      className: 'nb-radius-area' }).addTo(originLayer);
    L.circleMarker(centre, { radius: 8, color: '#fff', weight: 3, fillColor: '#1f2a1f', fillOpacity: 1 })
      .bindTooltip(originLabel(state.origin, answer) || T.origin).addTo(originLayer);
    var bounds = L.latLngBounds([centre]);
    // Resources placed at the same point (a commune's centre) share one pin listing them all.
    var groups = [], byPoint = {};
    answer.features.forEach(function (f, i) {
      var c = f.geometry.coordinates, key = c[0].toFixed(5) + ',' + c[1].toFixed(5);
      if (!byPoint[key]) { byPoint[key] = { lat: c[1], lon: c[0], items: [] }; groups.push(byPoint[key]); }
      byPoint[key].items.push({ f: f, n: i + 1 });
    });
    groups.forEach(function (g) {
      var first = g.items[0];
      var label = g.items.length === 1 ? String(first.n)
        : g.items.length <= 3 ? g.items.map(function (x) { return x.n; }).join('·') : first.n + '+';
      var names = g.items.map(function (x) { return x.n + '. ' + x.f.properties.name; }).join('\n');
      var marker = L.marker([g.lat, g.lon], { icon: pinIcon(label, kindInfo(first.f.properties.kind).colour),
        title: names, riseOnHover: true });
      var content = el('div', 'nb-popup');
      if (g.items.length > 1) {
        content.appendChild(el('p', 'nb-popup-shared', fmt(T.same_point_n, { n: g.items.length })));
      }
      g.items.forEach(function (x) { content.appendChild(popupEntry(x.f, x.n)); });
      marker.bindPopup(content, { maxHeight: 260 });
      marker.addTo(layer);
      g.items.forEach(function (x) { pins[x.f.id] = marker; });
      bounds.extend([g.lat, g.lon]);
    });
    // no zoom animation: on slow phones it shows the pins briefly scaled up
    if (answer.features.length) map.fitBounds(bounds.pad(0.15), { maxZoom: 15, animate: false });
    else map.fitBounds(circle.getBounds(), { animate: false });
  }

  /* ------------------------------------------------------------------ list */

  function contact(href, iconName, label) {
    var a = el('a', 'nb-contact');
    a.href = href;
    a.appendChild(icon(iconName));
    a.appendChild(el('span', null, label));
    return a;
  }

  function contacts(p) {
    var row = el('div', 'nb-contacts');
    if (p.phone && /^\+?[0-9 ().\-]{6,25}$/.test(p.phone)) {
      row.appendChild(contact('tel:' + p.phone.replace(/[^0-9+]/g, ''), 'phone', p.phone));
    }
    if (p.email && /^[^\s@<>"]+@[^\s@<>"]+$/.test(p.email)) {
      row.appendChild(contact('mailto:' + p.email, 'envelope', T.email));
    }
    if (p.website && /^https?:\/\/[^\s]+$/i.test(p.website)) {
      var web = contact(p.website, 'globe', T.website);
      web.rel = 'noopener noreferrer';
      web.target = '_blank';
      row.appendChild(web);
    }
    return row.childNodes.length ? row : null;
  }

  function searchAround(p) {
    if (map) map.closePopup();
    setOrigin({ type: 'resource', id: p.id, label: p.name });
    window.scrollTo({ top: 0, behavior: 'smooth' });
  }

  function card(f, n, sharing) {
    var p = f.properties, k = kindInfo(p.kind);
    var li = el('li', 'nb-card');
    li.style.setProperty('--c', safeColour(k.colour));
    var head = el('div', 'nb-card-head');
    var num = el('span', 'nb-num', n);
    num.setAttribute('aria-hidden', 'true');
    head.appendChild(num);
    var titles = el('div', 'nb-card-titles');
    titles.appendChild(el('h2', 'nb-name', p.name));
    var kind = el('span', 'nb-kind-label');
    kind.appendChild(icon(k.icon));
    kind.appendChild(document.createTextNode(' ' + (p.kind_label || k.label)));
    titles.appendChild(kind);
    head.appendChild(titles);
    var dist = el('span', 'nb-dist');
    dist.appendChild(el('span', null, shownDistance(p)));
    if (p.bearing) dist.appendChild(el('small', null, bearing(p.bearing)));
    head.appendChild(dist);
    li.appendChild(head);

    var where = [];
    if (p.commune_name) where.push(p.commune_name);
    if (p.address) where.unshift(p.address);
    if (where.length) li.appendChild(el('p', 'nb-where-line', where.join(' · ')));
    if (p.distance_approximate) {
      var approx = el('p', 'nb-approx');
      approx.appendChild(document.createTextNode(approxWhere(p)));
      // Several results at one centre: say which, so they do not read as neighbours.
      if (sharing && sharing.length) {
        approx.appendChild(document.createTextNode(' — ' + fmt(sharing.length === 1 ? T.same_point_one
          : T.same_point, { others: sharing.join(', ') })));
      }
      li.appendChild(approx);
    }

    if (p.opening_hours) {
      var hours = el('p', 'nb-hours ' + (p.open ? 'nb-open' : 'nb-closed'));
      hours.appendChild(icon('clock'));
      hours.appendChild(document.createTextNode(' ' + p.opening_status));
      hours.title = p.opening_hours;
      li.appendChild(hours);
    }
    if (p.product_labels && p.product_labels.length) {
      var prods = el('ul', 'nb-tags');
      prods.setAttribute('aria-label', T.products);
      p.product_labels.forEach(function (label) { prods.appendChild(el('li', null, label)); });
      li.appendChild(prods);
    }
    if (p.access_labels && p.access_labels.length) {
      var acc = el('p', 'nb-access');
      acc.appendChild(icon('door-open'));
      acc.appendChild(document.createTextNode(' ' + p.access_labels.join(' · ')));
      li.appendChild(acc);
    }
    if (p.price_note) li.appendChild(el('p', 'nb-note', p.price_note));
    if (p.documents_needed) li.appendChild(el('p', 'nb-note', p.documents_needed));
    if (p.description) li.appendChild(el('p', 'nb-desc', p.description));
    var c = contacts(p);
    if (c) li.appendChild(c);

    var actions = el('div', 'nb-actions');
    if (map) {
      var show = el('button', 'nb-linkish');
      show.type = 'button';
      show.appendChild(icon('map-location-dot'));
      show.appendChild(document.createTextNode(' ' + T.map));
      show.addEventListener('click', function () {
        var m = pins[f.id];
        if (!m) return;
        map.setView(m.getLatLng(), Math.max(map.getZoom(), 13));
        m.openPopup();
        $('nb-map').scrollIntoView({ behavior: 'smooth', block: 'center' });
      });
      actions.appendChild(show);
    }
    var around = el('button', 'nb-linkish');
    around.type = 'button';
    around.appendChild(icon('arrows-to-circle'));
    around.appendChild(document.createTextNode(' ' + T.from_here));
    around.addEventListener('click', function () { searchAround(p); });
    actions.appendChild(around);
    if (p.illustrative) actions.appendChild(el('span', 'nb-badge', T.illustrative));
    li.appendChild(actions);
    return li;
  }

  function clearList() { while (list.firstChild) list.removeChild(list.firstChild); }

  function count(n, one, many) { return fmt(n === 1 ? one : many, { n: n }); }

  // "Ouvert maintenant": how many were left out, and why (closed then, or no hours given).
  function leftOut(answer) {
    var parts = [];
    if (answer.closed) parts.push(count(answer.closed, T.left_closed_one, T.left_closed));
    if (answer.without_hours) parts.push(count(answer.without_hours, T.left_no_hours_one, T.left_no_hours));
    if (!parts.length) return '';
    return fmt(answer.without_hours_exact === false ? T.left_out_more : T.left_out,
               { parts: parts.join(', ') });
  }

  function summary(answer) {
    var o = originLabel(state.origin, answer);
    var r = number(state.radius, state.radius % 1 ? 1 : 0);
    var n = answer.matched;
    if (state.open && answer.without_hours !== null && answer.without_hours !== undefined) {
      if (!answer.features.length) {
        var text0 = fmt(T.open_none, { r: r, origin: o });
        var out = leftOut(answer);
        if (out) text0 += ' ' + out;
        if (answer.without_hours && !answer.closed) text0 += ' ' + T.open_uncheck;
        else if (!out) text0 += ' ' + T.none_hint;
        return text0;
      }
    }
    if (!answer.features.length) return fmt(T.none, { r: r, origin: o }) + ' ' + T.none_hint;
    var text = answer.matched_exact
      ? fmt(n === 1 ? T.matched_one : T.matched, { n: n, r: r, origin: o })
      : fmt(T.matched_more, { n: n, r: r, origin: o });
    if (!answer.matched_exact || answer.returned < n) text += ' — ' + fmt(T.shown, { n: answer.returned });
    text += '.';
    if (state.open) {
      var left = leftOut(answer);
      if (left) text += ' ' + left;
    }
    return text;
  }

  /* ------------------------------------------------------------------ search */

  var searchCtrl = null;

  function problemMessage(body) {
    var errs = (body && body.errors) || [];
    if (errs.length) return errs.map(function (e) { return e.message; }).join(' ; ');
    return (body && (body.detail || body.title)) || '';
  }

  function run() {
    writeUrl();
    if (!state.origin) { setStatus(T.start); return; }
    if (!state.kinds.length) { clearList(); setStatus(T.kinds_none, 'error'); return; }
    if (searchCtrl) searchCtrl.abort();
    searchCtrl = window.AbortController ? new AbortController() : null;
    setStatus(T.loading, 'busy');
    list.setAttribute('aria-busy', 'true');
    fetch(cfg.api + '?' + apiParams().toString(), {
      signal: searchCtrl ? searchCtrl.signal : undefined,
      headers: { Accept: 'application/geo+json, application/problem+json' }
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      list.removeAttribute('aria-busy');
      if (!res.ok) {
        clearList();
        if (res.body && res.body.candidates && res.body.candidates.length) {
          setStatus(T.ambiguous, 'error');
          input.value = state.origin.label || '';
          input.focus();
          showSuggestions(res.body.candidates.map(function (c) {
            return { type: 'commune', code: c.code, name: c.name, department: c.department, label: c.label };
          }));
          return;
        }
        setStatus(fmt(T.error, { msg: problemMessage(res.body) }), 'error');
        return;
      }
      var answer = res.body;
      if (state.origin.type === 'commune' && answer.origin && answer.origin.code) {
        state.origin = { type: 'commune', code: answer.origin.code, label: answer.origin.label };
        if (document.activeElement !== input) input.value = answer.origin.label;
        writeUrl();
      }
      if (state.origin.type === 'resource' && answer.origin && !state.origin.label) {
        state.origin.label = answer.origin.label;
        input.value = answer.origin.label;
        writeUrl();
      }
      clearList();
      var atPoint = {};
      answer.features.forEach(function (f, i) {
        var key = f.geometry.coordinates.join(',');
        (atPoint[key] = atPoint[key] || []).push(i + 1);
      });
      answer.features.forEach(function (f, i) {
        var others = atPoint[f.geometry.coordinates.join(',')].filter(function (k) { return k !== i + 1; });
        list.appendChild(card(f, i + 1, others));
      });
      setStatus(summary(answer), answer.features.length ? 'ok' : 'empty');
      shareBtn.hidden = false;
      drawMap(answer);
      if (revealResults && window.innerWidth < 900) {
        statusEl.scrollIntoView({ behavior: 'smooth', block: 'start' });
      }
      revealResults = false;
    }).catch(function (err) {
      if (err && err.name === 'AbortError') return;
      list.removeAttribute('aria-busy');
      setStatus(T.offline, 'error');
    });
  }

  readUrl();
  initMap();
  syncControls();
  if (state.origin) run();
}());
