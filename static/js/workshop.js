/* A workshop's live map (issue 14), for the participants' page (data-mode="participant") and
 * the projector (data-mode="projector").
 *
 * Live: the feed comes as server-sent events from /api/workshops/{code}/events, read with
 * fetch so that a participant's token goes in the Authorization header (EventSource cannot
 * send one; the projector, signed in by its cookie, uses EventSource). When the stream fails
 * the page polls /feed every POLL_MS and tries the stream again later.
 *
 * Writes: every addition of a participant goes through the offline outbox
 * (static/js/terreau-outbox.js): kept in IndexedDB with a client-generated UUID as its id, sent
 * with the participant's token, again when the network returns (the API answers a replay with
 * the row it has); the outbox's counter says what waits. The outbox is started with the
 * workshop's code as its scope: another workshop's unsent additions are neither shown nor
 * sent here, and leaving this one keeps theirs. What waits is drawn on the map too, marked
 * "en attente d'envoi" (a white dot, distinct from "à valider", which carries the amber clock
 * badge every map gives what awaits validation, Terreau.pending; the legend under the map says
 * both), and gives way to the real addition once sent. Without the outbox (an
 * old page), TerreauWorkshop.send(path, body) posts directly.
 *
 * Text from the data goes in with textContent only.
 */
(function () {
  'use strict';
  var POLL_MS = 3000, RETRY_STREAM_MS = 30000;
  var el = Terreau.el, safeColour = Terreau.safeColour;
  var root = document.getElementById('ws');
  if (!root || typeof L === 'undefined') return;
  var mode = root.getAttribute('data-mode');
  var cfg = JSON.parse(document.getElementById('ws-config').textContent);
  var texts = JSON.parse(document.getElementById('ws-texts').textContent);
  var code = cfg.code;
  var stored = null;
  try { stored = JSON.parse(localStorage.getItem('terreau.workshop.' + code) || 'null'); }
  catch (e) { stored = null; }
  var token = stored && stored.token;
  if (mode === 'participant' && !token) {
    window.location.replace('/join/' + code + window.location.search);
    return;
  }
  var lang = document.documentElement.lang;

  function headers(extra) {
    var h = { Accept: 'application/json', 'Accept-Language': lang };
    if (token) h.Authorization = 'Bearer ' + token;
    Object.keys(extra || {}).forEach(function (k) { h[k] = extra[k]; });
    return h;
  }

  // --- the map ---------------------------------------------------------------------------
  var map = Terreau.baseMap('ws-map', { map: { zoomControl: true, tap: true }, tiles: cfg.tiles,
                                        outline: JSON.parse(cfg.outline.shape) }).map;
  var known = L.layerGroup().addTo(map);      // the territory's validated resources
  var added = L.layerGroup().addTo(map);      // what the workshop added
  var linkLayer = L.layerGroup().addTo(map);
  var unsentLayer = L.layerGroup().addTo(map); // what this device has not sent yet
  var resourcesById = {};                     // id -> {id, name, kind, lon, lat, moderation}

  function kindColour(kind) {
    return safeColour((cfg.kinds[kind] || {}).color);
  }

  function loadTerritory() {
    if (left) return Promise.resolve();
    return fetch('/api/resources?territory=' + encodeURIComponent(cfg.territory) + '&limit=2000',
                 { headers: headers() })
      .then(function (r) { return r.ok ? r.json() : { features: [] }; })
      .then(function (fc) {
        known.clearLayers();
        fc.features.forEach(function (f) {
          var p = f.properties, c = f.geometry.coordinates;
          if (!resourcesById[f.id]) {
            resourcesById[f.id] = { id: f.id, name: p.name, kind: p.kind, lon: c[0], lat: c[1],
                                    moderation: p.moderation || 'validated', mine: false };
          }
          L.circleMarker([c[1], c[0]], { radius: 6, color: '#555', weight: 1,
                                         fillColor: kindColour(p.kind), fillOpacity: 0.7 })
            .bindTooltip(p.name).addTo(known);
        });
        fillEnds();
      }).catch(function () { /* offline: the workshop's own additions still show */ });
  }

  // a workshop addition's dot: its kind's colour in a ring (green once validated); awaiting
  // validation, the badge every map gives it (Terreau.pending, static/css/terreau-marks.css)
  function dotIcon(r, pending) {
    return L.divIcon({
      className: 'tm-marker ws-dot' + (pending ? ' ' + Terreau.pending.className : ''),
      html: '<span class="ws-pin" style="--c:' + kindColour(r.kind) + '"></span>',
      iconSize: [24, 24], iconAnchor: [12, 12], tooltipAnchor: [0, -12] });
  }

  // what a screen reader says of a mark: its name, and in words that it awaits validation
  function named(node, name, pending) {
    if (!node) return;
    node.setAttribute('role', 'img');
    node.setAttribute('aria-label', pending ? name + ' (' + texts.awaiting + ')' : name);
  }

  function status(item) {
    return texts[item.moderation] || item.moderation;
  }

  function draw(feed) {
    added.clearLayers();
    linkLayer.clearLayers();
    var list = document.getElementById('ws-additions');
    if (list) list.textContent = '';
    feed.resources.forEach(function (r) {
      r.mine = true;
      resourcesById[r.id] = r;
      var pending = r.moderation === 'pending';
      var marker = L.marker([r.lat, r.lon], { icon: dotIcon(r, pending), keyboard: false });
      marker.bindTooltip(r.name + (pending ? ' — ' + texts.pending : ''),
                         { permanent: mode === 'projector', direction: 'top' });
      marker.on('add', function () { named(marker.getElement(), r.name, pending); });
      marker.addTo(added);
      if (list) {
        var li = el('li', 'ws-item ' + r.moderation);
        li.setAttribute('data-id', r.id);
        li.appendChild(el('span', 'ws-name', r.name));
        li.appendChild(el('span', 'badge ' + r.moderation, status(r)));
        list.appendChild(li);
      }
    });
    feed.links.forEach(function (l) {
      var pending = l.moderation === 'pending';
      var ends = [[l.source_lat, l.source_lon], [l.target_lat, l.target_lon]];
      var name = l.source_name + ' ↔ ' + l.target_name;
      if (pending) L.polyline(ends, Terreau.pending.casing(2 + l.level)).addTo(linkLayer);
      var line = L.polyline(ends, { color: pending ? '#b35c00' : '#7f0000', weight: 2 + l.level,
                                    opacity: pending ? 1 : 0.8,
                                    className: 'ws-link' + (pending ? ' is-pending' : '') })
        .bindTooltip(name + (pending ? ' — ' + texts.pending : ''))
        .addTo(linkLayer);
      named(line.getElement(), name, pending);
      if (list) {
        var li = el('li', 'ws-item link ' + l.moderation);
        li.setAttribute('data-id', l.id);
        li.appendChild(el('span', 'ws-name', l.source_name + ' ↔ ' + l.target_name));
        li.appendChild(el('span', 'ws-level', (cfg.categories[l.category] || l.category) +
                                                ' · ' + (cfg.levels[String(l.level)] || l.level)));
        li.appendChild(el('span', 'badge ' + l.moderation, status(l)));
        list.appendChild(li);
      }
    });
    counters(feed.counters);
    question(feed.question);
    closed(feed.state);
    fillEnds();
    drawUnsent();
  }

  // what this participant added and the outbox has not sent yet: at the end of the list, and
  // on the map as a white dot (a line for a cooperation), until the real one replaces it
  function drawUnsent() {
    var list = document.getElementById('ws-additions');
    if (!list || !outbox) return;
    outbox.items().then(function (items) {
      list.querySelectorAll('li.unsent').forEach(function (li) { li.remove(); });
      unsentLayer.clearLayers();
      items.filter(function (i) { return i.state !== 'refused'; }).forEach(function (item) {
        var li = el('li', 'ws-item unsent' + (item.body.properties ? '' : ' link'));
        li.setAttribute('data-id', item.id);
        li.appendChild(el('span', 'ws-name', item.label || item.id));
        li.appendChild(el('span', 'badge unsent', texts.unsent));
        list.appendChild(li);
        drawWaiting(item);
      });
    }).catch(function () {});
  }

  function drawWaiting(item) {
    var b = item.body, tip = (item.label || item.id) + ' — ' + texts.unsent;
    if (b.properties && b.geometry) {
      var c = b.geometry.coordinates;
      L.circleMarker([c[1], c[0]], { radius: 11, color: '#4a4a40', weight: 3, fillColor: '#fff',
                                     fillOpacity: 1, className: 'ws-unsent' })
        .bindTooltip(tip, { direction: 'top' }).addTo(unsentLayer);
      return;
    }
    var from = resourcesById[b.source], to = resourcesById[b.target];
    if (!from || !to) return;
    L.polyline([[from.lat, from.lon], [to.lat, to.lon]], {
      color: '#4a4a40', weight: 3, opacity: 0.9, className: 'ws-unsent' })
      .bindTooltip(tip).addTo(unsentLayer);
  }

  function counters(c) {
    var box = document.getElementById('ws-counters');
    if (!box || !c) return;
    box.textContent = '';
    box.appendChild(el('p', 'ws-total', c.resources + ' ' + texts.resources + ' · ' +
                                        c.links + ' ' + texts.links));
    var ul = el('ul', 'ws-chips');
    Object.keys(c.by_kind).forEach(function (k) {
      var li = el('li', 'chip', ((cfg.kinds[k] || {}).label || k) + ' · ' + c.by_kind[k]);
      li.style.setProperty('--c', kindColour(k));
      ul.appendChild(li);
    });
    Object.keys(c.by_category).forEach(function (k) {
      ul.appendChild(el('li', 'chip', (cfg.categories[k] || k) + ' · ' + c.by_category[k]));
    });
    box.appendChild(ul);
  }

  // --- the open question -----------------------------------------------------------------------
  var myVote = {};
  function question(q) {
    var box = document.getElementById('ws-question');
    if (!box) return;
    box.textContent = '';
    box.hidden = !q;
    if (!q) return;
    box.appendChild(el('h2', null, q.text));
    var most = Math.max.apply(null, q.options.map(function (o) { return o.votes; }).concat([1]));
    q.options.forEach(function (o) {
      if (mode === 'participant') {
        var b = el('button', 'ws-option' + (myVote[q.id] === o.index ? ' chosen' : ''), o.label);
        b.type = 'button';
        b.disabled = !q.open;
        b.setAttribute('aria-pressed', myVote[q.id] === o.index ? 'true' : 'false');
        b.addEventListener('click', function () { vote(q, o.index); });
        box.appendChild(b);
      } else {
        var row = el('div', 'ws-bar');
        row.appendChild(el('span', 'ws-bar-label', o.label));
        var bar = el('span', 'ws-bar-fill');
        bar.style.width = Math.round(100 * o.votes / most) + '%';
        row.appendChild(bar);
        row.appendChild(el('span', 'ws-bar-count', String(o.votes)));
        box.appendChild(row);
      }
    });
    box.appendChild(el('p', 'ws-voters', q.voters + ' ' + texts.voted));
  }

  function vote(q, index) {
    fetch('/api/workshops/' + code + '/questions/' + q.id + '/vote', {
      method: 'POST', headers: headers({ 'Content-Type': 'application/json' }),
      body: JSON.stringify({ option: index })
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { say(body.detail || texts.refused, true); return; }
        myVote[q.id] = index;
        question(body);
      });
    }).catch(function () { say(texts.failed, true); });
  }

  function closed(state) {
    var box = document.getElementById('ws-state');
    if (!box) return;
    box.hidden = state === 'open';
    box.textContent = state === 'open' ? '' : texts[state];
    document.querySelectorAll('[data-ws-open]').forEach(function (b) {
      b.disabled = state !== 'open';
    });
  }

  function say(text, bad) {
    var box = document.getElementById('ws-message');
    if (!box) return;
    box.textContent = text;
    box.className = 'ws-message' + (bad ? ' bad' : '');
    box.hidden = false;
  }

  // --- live updates ------------------------------------------------------------------------
  var lastMarker = null, pollTimer = null;
  function receive(feed) {
    if (feed.marker === lastMarker) return;
    lastMarker = feed.marker;
    draw(feed);
  }

  // A participant reads the API with its token; the projector, signed in by its session
  // cookie, reads the pages' twins (the API ignores cookies).
  var liveBase = token ? '/api/workshops/' + code : '/workshops/' + code;

  var left = false;  // leaving: nothing is read (and kept by the worker) any more
  function poll() {
    if (left) return Promise.resolve();
    return fetch(liveBase + (token ? '/feed' : '/feed.json'), { headers: headers() })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (feed) { if (feed) receive(feed); })
      .catch(function () { /* offline: keep what is drawn */ });
  }

  function live(text) {
    var box = document.getElementById('ws-live');
    if (box) { box.textContent = text; }
  }

  function startPolling() {
    if (pollTimer) return;
    live(texts.polling);
    pollTimer = setInterval(poll, POLL_MS);
    setTimeout(function () { stopPolling(); stream(); }, RETRY_STREAM_MS);
  }

  function stopPolling() {
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
  }

  function stream() {
    var url = liveBase + '/events';
    if (!token && window.EventSource) {   // the projector: its session cookie
      var source = new EventSource(url);
      source.addEventListener('feed', function (e) { live(texts.live); receive(JSON.parse(e.data)); });
      source.onerror = function () { source.close(); startPolling(); };
      return;
    }
    if (!window.fetch || !window.TextDecoder || !window.ReadableStream) { startPolling(); return; }
    fetch(url, { headers: headers({ Accept: 'text/event-stream' }) }).then(function (response) {
      if (!response.ok || !response.body) throw new Error('stream');
      live(texts.live);
      var reader = response.body.getReader(), decoder = new TextDecoder(), buffer = '';
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) throw new Error('ended');
          buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, '\n');
          var at;
          while ((at = buffer.indexOf('\n\n')) >= 0) {
            var block = buffer.slice(0, at); buffer = buffer.slice(at + 2);
            var data = block.split('\n').filter(function (line) { return line.indexOf('data:') === 0; })
              .map(function (line) { return line.slice(5).replace(/^ /, ''); }).join('\n');
            if (data) receive(JSON.parse(data));
          }
          return pump();
        });
      }
      return pump();
    }).catch(function () { startPolling(); });
  }

  // --- the forms (participants) -------------------------------------------------------------
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  var api = window.TerreauWorkshop = {
    code: code, token: token, uuid: uuid, refresh: poll,
    /* POST body (with its client id) to path; resolves with the Response. The offline outbox
       replaces or wraps this function. */
    send: function (path, body) {
      return fetch(path, { method: 'POST', headers: headers({ 'Content-Type': 'application/json' }),
                           body: JSON.stringify(body) });
    }
  };

  function label(path, body) {
    if (body.properties) return body.properties.name;
    return ((resourcesById[body.source] || {}).name || '?') + ' ↔ ' +
           ((resourcesById[body.target] || {}).name || '?');
  }

  function submit(form, path, body) {
    if (outbox) {
      return outbox.submit(path, body, label(path, body)).then(function () {
        form.reset();
        form.hidden = true;
      });
    }
    var button = form.querySelector('button[type=submit]');
    button.disabled = true;
    return api.send(path, body).then(function (response) {
      if (response.ok) {
        say(texts.saved, false);
        form.reset();
        form.hidden = true;
        poll();
        return;
      }
      return response.json().then(function (problem) {
        var detail = problem.detail || texts.refused;
        if (problem.errors && problem.errors.length) {
          detail = problem.errors.map(function (e) { return e.message; }).join(' ; ');
        }
        say(detail, true);
      });
    }).catch(function () { say(texts.failed, true); })
      .then(function () { button.disabled = false; });
  }

  var outbox = mode === 'participant' && window.TerreauOutbox ? window.TerreauOutbox : null;
  var picked = null, pickMarker = null;
  function fillEnds() {
    ['ws-source', 'ws-target'].forEach(function (id) {
      var select = document.getElementById(id);
      if (!select) return;
      var value = select.value;
      select.textContent = '';
      select.appendChild(el('option', null, '—')).value = '';
      Object.keys(resourcesById).map(function (k) { return resourcesById[k]; })
        .sort(function (a, b) { return a.name.localeCompare(b.name); })
        .forEach(function (r) {
          var o = el('option', null, r.name + (r.moderation === 'pending' ? ' (' + texts.pending + ')' : ''));
          o.value = r.id;
          select.appendChild(o);
        });
      select.value = value;
    });
  }

  if (mode === 'participant') {
    var resourceForm = document.getElementById('ws-resource-form');
    var linkForm = document.getElementById('ws-link-form');
    document.getElementById('ws-add-resource').addEventListener('click', function () {
      linkForm.hidden = true;
      resourceForm.hidden = !resourceForm.hidden;
      if (!resourceForm.hidden) say(texts.tap_map, false);
    });
    document.getElementById('ws-add-link').addEventListener('click', function () {
      resourceForm.hidden = true;
      linkForm.hidden = !linkForm.hidden;
    });
    document.querySelectorAll('[data-ws-cancel]').forEach(function (b) {
      b.addEventListener('click', function () { b.closest('form').hidden = true; });
    });
    map.on('click', function (e) {
      if (resourceForm.hidden) return;
      picked = e.latlng;
      if (pickMarker) pickMarker.setLatLng(picked);
      else pickMarker = L.marker(picked).addTo(map);
    });
    resourceForm.addEventListener('submit', function (event) {
      event.preventDefault();
      var where = picked || map.getCenter();
      var note = resourceForm.elements.description.value.trim();
      var props = { name: resourceForm.elements.name.value.trim(), kind: resourceForm.elements.kind.value,
                    territories: [cfg.territory], location_precision: 'approximate' };
      if (note) props.description = note;
      submit(resourceForm, '/api/resources', {
        type: 'Feature', id: uuid(), properties: props,
        geometry: { type: 'Point', coordinates: [Math.round(where.lng * 1e6) / 1e6,
                                                  Math.round(where.lat * 1e6) / 1e6] } })
        .then(function () {
          if (resourceForm.hidden && pickMarker) { map.removeLayer(pickMarker); pickMarker = null; picked = null; }
        });
    });
    linkForm.addEventListener('submit', function (event) {
      event.preventDefault();
      var source = linkForm.elements.source.value, target = linkForm.elements.target.value;
      if (!source || !target || source === target) { say(texts.choose_two, true); return; }
      var level = linkForm.querySelector('input[name=level]:checked');
      var body = { id: uuid(), source: source, target: target, territory: cfg.territory,
                   category: linkForm.elements.category.value,
                   level: parseInt(level ? level.value : '1', 10) };
      var note = linkForm.elements.description.value.trim();
      if (note) body.description = note;
      submit(linkForm, '/api/links', body);
    });
    // an item saved before the outbox was per workshop (no scope) is this workshop's when it
    // names its territory and was made while it was open (the only workshop its token, gone
    // with the item, could write in then; two of one territory open at once on one device
    // is not a case a workshop has)
    var madeHere = function (item) {
      var b = item.body || {};
      var territory = b.properties ? (b.properties.territories || [])[0] : b.territory;
      return territory === cfg.territory && item.created >= Date.parse(cfg.open_from) &&
        item.created <= Date.parse(cfg.open_until);
    };
    if (outbox) {
      // what waits in the outbox can already be an end of a cooperation: it is sent first
      var waitingEnds = function () {
        return outbox.items().then(function (items) {
          items.forEach(function (item) {
            var b = item.body;
            if (!b.properties || !b.geometry || resourcesById[b.id]) return;
            resourcesById[b.id] = { id: b.id, name: b.properties.name, kind: b.properties.kind,
                                    lon: b.geometry.coordinates[0], lat: b.geometry.coordinates[1],
                                    moderation: 'pending', mine: true };
          });
          fillEnds();
          drawUnsent();
        });
      };
      document.addEventListener('terreau-outbox:queued', waitingEnds);
      // the first visit is not the service worker's yet: once it is, read again, so that it
      // keeps the feed and the territory's resources too and the page reopens offline with them
      if (navigator.serviceWorker && !navigator.serviceWorker.controller) {
        navigator.serviceWorker.addEventListener('controllerchange', function () {
          poll();
          loadTerritory();
        });
      }
      document.addEventListener('terreau-outbox:sent', function () {
        say(texts.saved, false);
        drawUnsent();
        poll();
      });
      document.addEventListener('terreau-outbox:refused', function (event) {
        say(event.detail.item.error || texts.refused, true);
      });
      // a refused addition back in its form, to correct and send again (under a new id)
      document.addEventListener('terreau-outbox:edit', function (event) {
        var body = event.detail.item.body;
        if (body.properties) {
          linkForm.hidden = true;
          resourceForm.hidden = false;
          resourceForm.elements.name.value = body.properties.name || '';
          resourceForm.elements.kind.value = body.properties.kind || resourceForm.elements.kind.value;
          resourceForm.elements.description.value = body.properties.description || '';
          picked = L.latLng(body.geometry.coordinates[1], body.geometry.coordinates[0]);
          if (pickMarker) pickMarker.setLatLng(picked); else pickMarker = L.marker(picked).addTo(map);
        } else {
          resourceForm.hidden = true;
          linkForm.hidden = false;
          linkForm.elements.source.value = body.source;
          linkForm.elements.target.value = body.target;
          linkForm.elements.category.value = body.category;
          var level = linkForm.querySelector('input[name=level][value="' + body.level + '"]');
          if (level) level.checked = true;
          linkForm.elements.description.value = body.description || '';
        }
      });
      outbox.start({ token: function () { return token; }, lang: lang, scope: code,
                     adopt: madeHere });
      waitingEnds();  // once the outbox knows its scope: this workshop's items only
    }
    // leaving: the token, the outbox and the pages kept offline go (told first what is unsent)
    document.getElementById('ws-leave').addEventListener('click', function () {
      left = true;  // the polls go on, reading nothing, until the person chooses to stay
      (outbox ? outbox.leave(texts.leave_warning, code) : Promise.resolve(true)).then(function (go) {
        left = go;
        if (!go) return;
        localStorage.removeItem('terreau.workshop.' + code);
        window.location.replace('/join/' + code + window.location.search);
      });
    });
    loadTerritory();
  }
  poll();
  stream();
})();
