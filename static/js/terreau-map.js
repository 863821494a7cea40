/* Terreau territory map: markers, cooperation links, popups, search, legend, filters, print.
 *
 * folium builds the map, the basemap, the boundary, the communes and one empty layer per
 * resource kind; this script fills them from the data the page carries (or, for large
 * territories, fetches by viewport) and adds everything people interact with.
 *
 * Safety: every text that comes from the data is put into the page with textContent or
 * createTextNode, never with innerHTML; Leaflet's divIcons only receive strings built from
 * checked codes and colours. A resource named <img src=x onerror=alert(1)> shows as text.
 *
 * Resources sharing a point (most demo actors sit at their commune's centre) are spread on a
 * ring around it, with a thin leg to the true point, so none hides another and the links
 * between them stay visible; where more than EXPAND_MAX resources fall together at the
 * current zoom they become one counted bubble, opened by clicking (zooming in).
 */
(function () {
  'use strict';

  var EXPAND_MAX = 40;        // resources spread on a ring/spiral; more become a bubble
  var GROUP_PX = 22;          // markers closer than this (screen pixels) are grouped
  var MARKER_PX = 30;
  // A popup opens below the search box (top right, ~44 px), not under it (issue 12).
  var POPUP_OPTIONS = { maxWidth: 340, minWidth: 240, autoPanPaddingTopLeft: L.point(20, 64),
                        autoPanPaddingBottomRight: L.point(20, 30) };
  var el = Terreau.el, fmt = Terreau.fmt, safeColour = Terreau.safeColour,
    safeIcon = Terreau.safeIcon, pendingMark = Terreau.pending,  // before window.Terreau is ours
    BubbleLayer = Terreau.BubbleLayer;


  function add(parent, child) { parent.appendChild(child); return child; }

  function fold(value) {
    return String(value || '').normalize('NFD').replace(/[\u0300-\u036f]/g, '')
      .toLowerCase().replace(/[\s\-'’_.]+/g, ' ').trim();
  }




  // After the browser has painted what is in the page now (a timer queued from the next frame).
  function afterPaint(fn) {
    if (window.requestAnimationFrame) {
      window.requestAnimationFrame(function () { setTimeout(fn, 0); });
    } else {
      setTimeout(fn, 0);
    }
  }

  function fetchJSON(url, signal) {
    return fetch(url, { signal: signal, headers: { Accept: 'application/json' } })
      .then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status + ' ' + url);
        return response.json();
      });
  }

  function TerreauMap(map, layers, cfg) {
    var self = this;
    this.map = map;
    this.cfg = cfg;
    this.text = cfg.text;
    this.vocab = cfg.vocab;
    this.kindLayers = layers.kinds;
    this.linksLayer = layers.links;
    this.contextLayers = layers.context;
    this.tiles = layers.tiles;
    this.control = layers.control;
    this.panel = cfg.panel ? document.querySelector(cfg.panel) : null;
    // Without a panel, legend and layers sit on the map: unfolded only when it is large.
    this.large = map.getSize().x >= 1200 && map.getSize().y >= 760;
    this.boundaryLayer = layers.boundary;
    this.communesLayer = layers.communes;
    this.resources = {};      // id -> record
    this.links = {};          // id -> record
    this.order = [];          // resource ids, drawing order
    this.minLevel = 1;
    this.categoriesOn = {};
    Object.keys(this.vocab.categories).forEach(function (c) { self.categoriesOn[c] = true; });
    this.linksOn = true;
    this.legs = L.layerGroup().addTo(map);
    this.bubbles = new BubbleLayer({
      content: function (b) { return self._bubbleTip(b); },
      open: function (b) { self._openBubble(b); }
    }).addTo(map);
    this.serverClusters = [];
    this.message = '';
    this.pendingOpen = null;

    map.attributionControl.setPrefix(
      '<a href="https://leafletjs.com" title="Leaflet">Leaflet</a>');
    L.control.scale({ imperial: false, position: 'bottomright' }).addTo(map);
    if (this.panel && this.control) {
      add(this.panel, el('h2', 'tm-panel-title', this.text.panel_layers));
      // Created folded (layers.py: Leaflet measures an unfolded one against the map), it
      // shows its list in the panel (terreau-map.css) and no longer folds on hover or a click.
      var layersBox = this.control.getContainer(), ctl = this.control;
      L.DomEvent.off(layersBox, { mouseenter: ctl._expandSafely, mouseleave: ctl.collapse }, ctl);
      map.off('click', ctl.collapse, ctl);
      layersBox.classList.add('tm-in-panel');
      this.panel.appendChild(layersBox);
    } else if (this.control && this.large) {
      this.control.expand();
    }

    // The first view first: a large territory's request for it leaves before the outlines,
    // labels and controls are built (they are drawn meanwhile, once, at the right zoom).
    this.homeBounds = L.latLngBounds(cfg.bounds);
    if (cfg.mode === 'embedded') {
      this._load(cfg.resources || [], cfg.links || [], cfg.outside || []);
      // Resources placed outside the boundary (a departmental body at the prefecture) stay in
      // the first view, or their links would run off the map.
      var all = L.latLngBounds(cfg.bounds), self2 = this;
      Object.keys(this.resources).forEach(function (id) { all.extend(self2.resources[id].latlng); });
      this.homeBounds = all;
    }
    this.fitOptions = { paddingTopLeft: [70, 70], paddingBottomRight: [70, 70], animate: false };
    if (!this.panel && this.large && this.control) {
      this.fitOptions.paddingBottomRight = [this.control.getContainer().offsetWidth + 40, 70];
    }
    map.fitBounds(this.homeBounds, this.fitOptions);
    if (cfg.mode !== 'embedded') this._viewportLoading();
    map.on('zoomend', function () { self.layout(); });
    map.on('overlayadd overlayremove', function (e) { self._overlayChanged(e); });
    map.getContainer().setAttribute('data-mode', cfg.mode);

    if (this._pageView) {
      // The first view came with the page: its bubbles are drawn now, and the boundary, the
      // mask and the controls once the browser has painted them (then the communes).
      this._applyView(this._pageView);
      this._pageView = null;
      map.getContainer().setAttribute('data-first-view', 'page');
      afterPaint(function () { self._decorate(); self._updateStatus(); });
      this._afterFirstView();
      return;
    }
    this._decorate();  // meanwhile, the first view's request (if any) is under way
    if (cfg.mode === 'embedded') {
      this.layout();
      this._afterFirstView();
    }
  }

  var P = TerreauMap.prototype;

  // What surrounds the markers: the boundary (an embedded map's rings keep spread markers
  // inside it, so it comes before their first layout), the mask, the context layers, the
  // search box, the legend with its filters, the print layout.
  P._decorate = function () {
    this._boundary();
    this._mask();
    this._context();
    this._searchControl();
    this._legendControl();
    this._printSupport();
  };

  /* ---------- background: mask outside the territory, communes, tiles failing ---------- */

  // The boundary's outer rings as [lat, lng] lists (the mask's holes, the ring's limits).
  P._outerRings = function () {
    var rings = [];
    this.boundaryLayer.eachLayer(function (layer) {
      var geom = layer.feature && layer.feature.geometry;
      if (!geom) return;
      var polys = geom.type === 'Polygon' ? [geom.coordinates] :
        geom.type === 'MultiPolygon' ? geom.coordinates : [];
      polys.forEach(function (poly) {
        rings.push(poly[0].map(function (c) { return [c[1], c[0]]; }));
      });
    });
    return rings;
  };

  // The boundary, from the page's data (folium created the layer empty): the rings keep
  // spread markers inside the territory, so it is there before the first layout.
  P._boundary = function () {
    this.boundaryLayer.options.style = function () {
      return { color: '#2e5d34', weight: 3, fill: false };
    };
    this.boundaryLayer.addData(this.cfg.boundary);
  };

  // The communes (hundreds of outlines) and their names come once the first markers are on
  // screen: the browser paints those first. The map says it is ready (data-ready) after.
  // A map loaded by viewport fetches them then (cfg.urls.communes, cached by the browser):
  // inline they made most of a large territory's page. Without them (offline, an error) the
  // map is still ready, without its background.
  P._afterFirstView = function () {
    var self = this;
    if (this._backgroundPlanned) return;
    this._backgroundPlanned = true;
    var none = { type: 'FeatureCollection', features: [] };
    var outlines = this.cfg.communes ? Promise.resolve(this.cfg.communes)
      : fetchJSON(this.cfg.urls.communes).catch(function () { return none; });
    afterPaint(function () {
      outlines.then(function (communes) {
        self.communesLayer.options.style = function (feature) {
          return { color: '#9a9a8a', weight: 1, fillColor: '#efeadb',
                   fillOpacity: feature.properties.inside ? 1 : 0.55 };
        };
        // One canvas for the outlines, not an SVG element each (they take no clicks).
        self.communesLayer.options.renderer = L.canvas({ pane: 'communes', padding: 0.3 });
        self.communesLayer.addData(communes);
        self._background();
        self.backgroundDrawn = true;
        self._updateStatus();
      });
    });
  };

  P._mask = function () {
    var holes = this._outerRings();
    if (!holes.length) return;
    var world = [[-85, -180], [85, -180], [85, 180], [-85, 180]];
    L.polygon([world].concat(holes), {
      stroke: false, fillColor: '#1f2a1f', fillOpacity: 0.13, interactive: false,
      className: 'tm-mask'
    }).addTo(this.map);
    this.boundaryLayer.bringToFront();
  };

  P._background = function () {
    var self = this, map = this.map, inside = 0;
    map.createPane('tm-labels');
    map.getPane('tm-labels').style.zIndex = 380;
    map.getPane('tm-labels').style.pointerEvents = 'none';
    this.labels = L.layerGroup();
    this.communeLabels = [];
    this.communesLayer.eachLayer(function (layer) {
      if (layer.feature && layer.feature.properties.inside) inside += 1;
    });
    this.communesLayer.eachLayer(function (layer) {
      var props = layer.feature && layer.feature.properties;
      // A one-commune territory already bears the commune's name: label its neighbours only.
      if (!props || !props.name || (props.inside && inside < 2)) return;
      var node = el('span', 'tm-commune-label' + (props.inside ? ' inside' : ''), props.name);
      self.communeLabels.push({
        bounds: layer.getBounds(), inside: props.inside,
        marker: L.marker(layer.getBounds().getCenter(), {
          pane: 'tm-labels', interactive: false, keyboard: false,
          icon: L.divIcon({ className: 'tm-label-icon', html: node, iconSize: null,
                            iconAnchor: [0, 0] })
        })
      });
    });
    function refresh() {
      // A name only where the commune is wide enough on screen to carry it.
      self.labels.clearLayers();
      var view = map.getBounds(), shown = 0;
      self.communeLabels.forEach(function (c) {
        if (shown >= 80 || !view.intersects(c.bounds)) return;
        var width = map.latLngToContainerPoint(c.bounds.getNorthEast()).x -
          map.latLngToContainerPoint(c.bounds.getSouthWest()).x;
        if (width < (c.inside ? 70 : 90)) return;
        self.labels.addLayer(c.marker);
        shown += 1;
      });
    }
    function noBasemap(reason) {
      if (self.basemapMissing) return;
      self.basemapMissing = reason;
      map.getContainer().classList.add('tm-no-basemap');
      self.labels.addTo(map);
      refresh();
      map.on('moveend', refresh);
      if (reason === 'failed') self._notice(self.text.tiles_failed);
      self._updateStatus();
    }
    if (!this.tiles) {
      noBasemap('off');
    } else {
      var errors = 0;
      this.tiles.on('tileerror', function () {
        errors += 1;
        if (errors >= 2) noBasemap('failed');
      });
      this.tiles.on('tileload', function () { errors = 0; });
    }
  };

  P._notice = function (message) {
    var box = el('div', 'tm-notice');
    box.setAttribute('role', 'status');
    add(box, el('span', null, message));
    var close = add(box, el('button', 'tm-notice-close', '×'));
    close.type = 'button';
    close.setAttribute('aria-label', this.text.close);
    close.addEventListener('click', function () { box.remove(); });
    this.map.on('popupopen', function () { box.classList.add('tm-notice-hidden'); });
    this.map.on('popupclose', function () { box.classList.remove('tm-notice-hidden'); });
    this.map.getContainer().appendChild(box);
    L.DomEvent.disableClickPropagation(box);
  };

  P._context = function () {
    var self = this, colours = { markets: '#00838f', gardens: '#558b2f',
      community_centres: '#6d4c41', osm_food_shops: '#5c6bc0' };
    Object.keys(this.contextLayers || {}).forEach(function (code) {
      var data = self.cfg.context[code];
      var group = self.contextLayers[code];
      if (!data || !group) return;
      (data.points || []).forEach(function (p) {
        var marker = L.circleMarker([p[0], p[1]], {
          radius: 5, weight: 1.5, color: '#fff', fillColor: colours[code] || '#777',
          fillOpacity: 0.9, className: 'tm-context tm-context-' + code
        });
        marker.bindTooltip(function () {
          var box = el('span');
          add(box, el('strong', null, p[2] || data.label));
          if (p[3]) { add(box, el('br')); add(box, el('small', null, p[3])); }
          return box;
        });
        marker.bindPopup(function () {
          var box = el('div', 'tm-popup');
          add(box, el('p', 'tm-kind', data.label));
          add(box, el('h3', null, p[2] || data.label));
          if (p[3]) add(box, el('p', null, p[3]));
          add(box, el('p', 'tm-source', self.text.context_note));
          return box;
        });
        group.addLayer(marker);
      });
    });
  };

  /* ---------- data ---------- */

  P._kindOrder = function (kind) {
    var keys = Object.keys(this.vocab.kinds);
    var i = keys.indexOf(kind);
    return i < 0 ? keys.length : i;
  };

  P._isApprox = function (precision) {
    return this.vocab.approximate.indexOf(precision) >= 0;
  };

  P._icon = function (r) {
    var k = this.vocab.kinds[r.kind] || ['', '#616161', 'circle'];
    var approx = this._isApprox(r.precision);
    var cls = 'tm-marker k-' + String(r.kind).replace(/[^a-z0-9_-]/gi, '') +
      (approx ? ' is-approx' : ' is-exact') + (r.outside ? ' is-outside' : '') +
      (r.data.pending ? ' ' + pendingMark.className : '');  // its author's, an editor's view
    return L.divIcon({
      className: cls,
      html: '<span class="tm-pin" style="--c:' + safeColour(k[1]) + '">' +
        '<i class="fa-solid fa-' + safeIcon(k[2]) + '" aria-hidden="true"></i></span>',
      iconSize: [MARKER_PX, MARKER_PX], iconAnchor: [MARKER_PX / 2, MARKER_PX / 2],
      popupAnchor: [0, -MARKER_PX / 2], tooltipAnchor: [MARKER_PX / 2, 0]
    });
  };

  P._makeResource = function (data, outside) {
    var self = this;
    var r = {
      id: data.id, data: data, kind: data.kind, name: data.name, precision: data.precision,
      latlng: L.latLng(data.lat, data.lon), outside: !!outside, folded: fold(data.name),
      order: [this._kindOrder(data.kind), fold(data.name), data.id]
    };
    r.marker = L.marker(r.latlng, { icon: this._icon(r), keyboard: true, riseOnHover: true,
                                    title: data.name });
    r.marker.on('add', function () {
      var node = r.marker.getElement();
      if (node) {
        node.setAttribute('role', 'button');
        node.setAttribute('aria-label', data.pending ? data.name + ' (' + self.text.pending + ')'
                                                     : data.name);
        node.removeAttribute('title');
        node.setAttribute('data-id', r.id);
      }
    });
    r.marker.bindTooltip(function () { return el('span', null, r.name); },
                         { direction: 'right', className: 'tm-tooltip' });
    r.marker.bindPopup(function () { return self._resourcePopup(r); },
                       POPUP_OPTIONS);
    return r;
  };

  P._load = function (resources, links, outside) {
    var self = this;
    resources.forEach(function (d) { self.resources[d.id] = self._makeResource(d, false); });
    outside.forEach(function (d) {
      if (!self.resources[d.id]) self.resources[d.id] = self._makeResource(d, true);
    });
    links.forEach(function (d) { self.links[d.id] = self._makeLink(d); });
    this._sortOrder();
    var row = this.legendBox && this.legendBox.querySelector('.tm-legend-pending');
    if (row) row.hidden = !this._anyPending();
  };

  P._anyPending = function () {
    var self = this;
    return Object.keys(this.resources).some(function (id) { return self.resources[id].data.pending; }) ||
      Object.keys(this.links).some(function (id) { return self.links[id].data.pending; });
  };

  P._sortOrder = function () {
    var self = this;
    this.order = Object.keys(this.resources).sort(function (a, b) {
      var x = self.resources[a].order, y = self.resources[b].order;
      for (var i = 0; i < x.length; i += 1) {
        if (x[i] < y[i]) return -1;
        if (x[i] > y[i]) return 1;
      }
      return 0;
    });
  };

  P._makeLink = function (d) {
    var self = this;
    var lv = this.vocab.levels[String(d.level)] || ['', '#999', 3];
    var lk = { id: d.id, data: d, level: d.level, category: d.category,
               source: d.source, target: d.target,
               ends: d.ends ? [L.latLng(d.ends[0], d.ends[1]), L.latLng(d.ends[2], d.ends[3])]
                 : null };
    lk.line = L.polyline([[0, 0], [0, 0]], {
      color: safeColour(lv[1]), weight: lv[2], opacity: 0.92, lineCap: 'round', interactive: false,
      className: 'tm-link tm-level-' + Number(d.level)
    });
    // awaiting validation (its author's, an editor's view): the amber casing every map gives it
    lk.casing = L.polyline([[0, 0], [0, 0]], d.pending ? pendingMark.casing(lv[2]) : {
      color: '#2b2b2b', weight: lv[2] + 2.5, opacity: 0.35, lineCap: 'round', interactive: false,
      className: 'tm-link-casing'
    });
    lk.hit = L.polyline([[0, 0], [0, 0]], {
      weight: 14, opacity: 0, className: 'tm-link-hit', bubblingMouseEvents: false
    });
    lk.hit.bindTooltip(function () { return self._linkTitle(lk, true); },
                       { sticky: true, className: 'tm-tooltip' });
    lk.hit.bindPopup(function () { return self._linkPopup(lk); },
                     L.extend({}, POPUP_OPTIONS, { maxWidth: 360 }));
    lk.hit.on('mouseover', function () { lk.line.setStyle({ opacity: 1, weight: lv[2] + 2 }); });
    lk.hit.on('mouseout', function () { lk.line.setStyle({ opacity: 0.92, weight: lv[2] }); });
    return lk;
  };

  P._endName = function (lk, end) {
    var r = this.resources[lk[end]];
    if (r) return r.name;
    if (lk.data[end + '_name']) return lk.data[end + '_name'];
    return this.text.unknown_end;
  };

  P._linkTitle = function (lk, short) {
    var box = el('span');
    add(box, el('strong', null, this._endName(lk, 'source')));
    add(box, document.createTextNode(lk.data.directed ? ' → ' : ' ↔ '));
    add(box, el('strong', null, this._endName(lk, 'target')));
    if (short) {
      add(box, el('br'));
      add(box, el('small', null, fmt(this.text.level_n, { n: lk.level }) + ' · ' +
        (this.vocab.levels[String(lk.level)] || [''])[0]));
    }
    return box;
  };

  /* ---------- layout: rings for shared points, bubbles for crowds, links between ---------- */

  P._kindVisible = function (kind) {
    var layer = this.kindLayers[kind];
    return layer ? this.map.hasLayer(layer) : true;
  };

  P.layout = function () {
    var self = this, map = this.map;
    if (!map._loaded) return;
    var z = map.getZoom(), maxZ = map.getMaxZoom();
    var grid = {}, groups = [];
    this.legs.clearLayers();
    var bubbles = [];

    this.order.forEach(function (id) {
      var r = self.resources[id];
      r.shownAt = null;
      r.bubble = null;
      if (!self._kindVisible(r.kind)) { self._hide(r); return; }
      var p = map.project(r.latlng, z);
      var cx = Math.floor(p.x / GROUP_PX), cy = Math.floor(p.y / GROUP_PX), found = null;
      for (var dx = -1; dx <= 1 && !found; dx += 1) {
        for (var dy = -1; dy <= 1 && !found; dy += 1) {
          var cell = grid[(cx + dx) + ':' + (cy + dy)];
          if (!cell) continue;
          for (var i = 0; i < cell.length; i += 1) {
            if (cell[i].p.distanceTo(p) < GROUP_PX) { found = cell[i]; break; }
          }
        }
      }
      if (found) {
        found.members.push(r);
      } else {
        var g = { p: p, members: [r] };
        (grid[cx + ':' + cy] = grid[cx + ':' + cy] || []).push(g);
        groups.push(g);
      }
    });

    groups.forEach(function (g) {
      var n = g.members.length;
      if (n === 1) {
        self._show(g.members[0], g.members[0].latlng);
      } else if (n <= EXPAND_MAX || z >= maxZ) {
        self._ring(g, z);
      } else {
        bubbles.push(self._bubble(g, z));
      }
    });
    this.bubbles.set(bubbles.concat(this._serverBubbles()));
    this._drawLinks(z);
    this._updateStatus();
    if (this.pendingOpen && this.resources[this.pendingOpen]) {
      var target = this.resources[this.pendingOpen];
      this.pendingOpen = null;
      if (target.shownAt) target.marker.openPopup();
    }
  };

  P._hide = function (r) {
    var layer = this.kindLayers[r.kind];
    if (layer && layer.hasLayer(r.marker)) layer.removeLayer(r.marker);
    if (!layer && this.map.hasLayer(r.marker)) this.map.removeLayer(r.marker);
  };

  P._show = function (r, latlng) {
    r.shownAt = latlng;
    r.marker.setLatLng(latlng);
    var layer = this.kindLayers[r.kind];
    if (layer) {
      if (!layer.hasLayer(r.marker)) layer.addLayer(r.marker);
    } else if (!this.map.hasLayer(r.marker)) {
      r.marker.addTo(this.map);
    }
  };

  function ringOffsets(n) {
    // One ring when it fits (radius grows with n), else concentric rings, each staggered.
    var out = [], step = MARKER_PX + 8, i;
    if (n <= 18) {
      var radius = Math.max(32, step * n / (2 * Math.PI));
      for (i = 0; i < n; i += 1) {
        var a = -Math.PI / 2 + 2 * Math.PI * i / n;
        out.push([radius * Math.cos(a), radius * Math.sin(a)]);
      }
      return out;
    }
    var r = 56, ring = 0;
    while (out.length < n) {
      var capacity = Math.floor(2 * Math.PI * r / step);
      var count = Math.min(capacity, n - out.length);
      var shift = ring % 2 ? Math.PI / capacity : 0;
      for (i = 0; i < count; i += 1) {
        var b = -Math.PI / 2 + shift + 2 * Math.PI * i / count;
        out.push([r * Math.cos(b), r * Math.sin(b)]);
      }
      r += step + 4;
      ring += 1;
    }
    return out;
  }

  // Is a point inside the territory's boundary (its outer rings, screen pixels at zoom z)?
  P._inside = function (p, z) {
    var rings = this._boundaryRings(z), inside = false;
    rings.forEach(function (ring) {
      for (var i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
        if ((ring[i].y > p.y) !== (ring[j].y > p.y) &&
            p.x < (ring[j].x - ring[i].x) * (p.y - ring[i].y) / (ring[j].y - ring[i].y) + ring[i].x) {
          inside = !inside;
        }
      }
    });
    return inside;
  };

  P._boundaryRings = function (z) {
    if (this._ringsZoom === z) return this._rings;
    var map = this.map;
    var rings = this._outerRings().map(function (ring) {
      return ring.map(function (ll) { return map.project(ll, z); });
    });
    this._ringsZoom = z;
    this._rings = rings;
    return rings;
  };

  // Where the ring goes: around the shared point, or, when some of its markers would fall
  // outside the territory although the point is inside, moved (up to three times its radius)
  // to the nearest place where they all fit, drawn tighter if need be (markers touching),
  // else where the fewest fall outside. The legs still join each marker to the true point.
  P._ringPlace = function (g, z, offsets) {
    var self = this, none = { at: g.p, offsets: offsets };
    if (!this._boundaryRings(z).length || !this._inside(g.p, z)) return none;
    function outside(c, offs) {
      var n = 0;
      offs.forEach(function (o) { if (!self._inside(c.add(L.point(o[0], o[1])), z)) n += 1; });
      return n;
    }
    var best = none, fewest = outside(g.p, offsets);
    if (!fewest) return none;
    var radius = 0;
    offsets.forEach(function (o) { radius = Math.max(radius, Math.sqrt(o[0] * o[0] + o[1] * o[1])); });
    var scales = [1, 0.82];
    for (var s = 0; s < scales.length; s += 1) {
      var offs = offsets.map(function (o) { return [o[0] * scales[s], o[1] * scales[s]]; });
      for (var step = 0; step <= 12; step += 1) {
        var d = radius * step / 4;
        for (var k = 0; k < (step ? 24 : 1); k += 1) {
          var a = 2 * Math.PI * k / 24;
          var c = g.p.add(L.point(d * Math.cos(a), d * Math.sin(a)));
          var n = outside(c, offs);
          if (!n) return { at: c, offsets: offs };
          if (n < fewest) { best = { at: c, offsets: offs }; fewest = n; }
        }
      }
    }
    return best;
  };

  P._ring = function (g, z) {
    var self = this, map = this.map;
    var centre = map.unproject(g.p, z);
    var offsets = ringOffsets(g.members.length);
    var approx = 0;
    var place = this.cfg.mode === 'embedded' ? this._ringPlace(g, z, offsets)
      : { at: g.p, offsets: offsets };
    var ringAt = place.at;
    offsets = place.offsets;
    g.members.forEach(function (r, i) {
      var pos = map.unproject(ringAt.add(L.point(offsets[i][0], offsets[i][1])), z);
      self._show(r, pos);
      if (self._isApprox(r.precision)) approx += 1;
      self.legs.addLayer(L.polyline([centre, pos], {
        color: '#4d584d', weight: 1.2, opacity: 0.6, interactive: false,
        className: 'tm-leg'
      }));
    });
    var anchor = L.circleMarker(centre, {
      radius: 5, color: '#1f2a1f', weight: 2, fillColor: '#fff', fillOpacity: 1,
      className: 'tm-anchor'
    });
    anchor.bindTooltip(function () {
      var box = el('span');
      add(box, el('strong', null, fmt(self.text.anchor_n, { n: g.members.length })));
      if (approx) {
        add(box, el('br'));
        add(box, el('span', null, approx === g.members.length ? self.text.anchor_all_approx
          : fmt(self.text.anchor_some_approx, { n: approx })));
      }
      add(box, el('br'));
      add(box, el('small', null, self.text.anchor_hint));
      return box;
    }, { className: 'tm-tooltip', direction: 'top' });
    this.legs.addLayer(anchor);
  };

  function conic(kinds, colours) {
    var total = 0, parts = [], acc = 0;
    Object.keys(kinds).forEach(function (k) { total += kinds[k]; });
    Object.keys(kinds).forEach(function (k) {
      var start = acc / total * 100;
      acc += kinds[k];
      parts.push(safeColour((colours[k] || [])[1]) + ' ' + start.toFixed(1) + '% ' +
        (acc / total * 100).toFixed(1) + '%');
    });
    return 'conic-gradient(' + parts.join(',') + ')';
  }

  // A bubble as the bubbles' layer draws it (terreau-bubbles.js), all of a layout at once.
  P._bubbleOf = function (latlng, count, kinds, bounds) {
    return { latlng: latlng, count: count, kinds: kinds, bounds: bounds,
             background: conic(kinds, this.vocab.kinds),
             label: fmt(this.text.bubble_n, { n: count }) };
  };

  P._bubbleTip = function (b) {
    var self = this, box = el('span'), kinds = b.kinds;
    add(box, el('strong', null, b.label));
    Object.keys(kinds).sort(function (x, y) { return kinds[y] - kinds[x]; }).slice(0, 6)
      .forEach(function (k) {
        add(box, el('br'));
        add(box, el('span', null, (self.vocab.kinds[k] || [k])[0] + ' : ' + kinds[k]));
      });
    add(box, el('br'));
    add(box, el('small', null, this.text.bubble_hint));
    return box;
  };

  // Opening a bubble: zooming in on its members (all at one point: only the closest zoom
  // spreads them).
  P._openBubble = function (b) {
    var map = this.map, z = map.getZoom(), maxZ = map.getMaxZoom(), bounds = b.bounds;
    if (bounds && bounds.isValid() && !bounds.getNorthEast().equals(bounds.getSouthWest())) {
      var target = Math.min(Math.max(map.getBoundsZoom(bounds, false, L.point(60, 60)), z + 1),
                            maxZ);
      map.setView(bounds.getCenter(), target);
    } else {
      map.setView(b.latlng, maxZ);
    }
  };

  P._bubble = function (g, z) {
    var self = this, kinds = {}, bounds = L.latLngBounds([]);
    var centre = this.map.unproject(g.p, z);
    g.members.forEach(function (r) {
      self._hide(r);
      r.bubble = centre;
      kinds[r.kind] = (kinds[r.kind] || 0) + 1;
      bounds.extend(r.latlng);
    });
    return this._bubbleOf(centre, g.members.length, kinds, bounds);
  };

  // The server's clusters (a view loaded by viewport) as bubbles of the kinds shown.
  P._serverBubbles = function () {
    var self = this, bubbles = [];
    this.serverClusters.forEach(function (c) {
      var kinds = {}, shown = 0;
      Object.keys(c[3]).forEach(function (k) {
        if (self._kindVisible(k)) { kinds[k] = c[3][k]; shown += c[3][k]; }
      });
      if (shown) {
        var box = c[4] ? L.latLngBounds([c[4][0], c[4][1]], [c[4][2], c[4][3]]) : null;
        bubbles.push(self._bubbleOf(L.latLng(c[0], c[1]), shown, kinds, box));
      }
    });
    return bubbles;
  };

  P._endPoint = function (lk, end, index) {
    var r = this.resources[lk[end]];
    if (r) {
      if (r.shownAt) return { at: r.shownAt, key: 'r' + r.id };
      if (r.bubble) return { at: r.bubble, key: 'b' + r.bubble.lat + ',' + r.bubble.lng };
      return null;
    }
    if (lk.ends && this._kindVisible(lk.data[end + '_kind'])) {
      return { at: lk.ends[index], key: 'x' + lk[end] };
    }
    return null;
  };

  P._linkVisible = function (lk) {
    return this.linksOn && lk.level >= this.minLevel && this.categoriesOn[lk.category] !== false;
  };

  P._drawLinks = function (z) {
    var self = this, map = this.map, pairs = {}, drawn = [];
    Object.keys(this.links).forEach(function (id) {
      var lk = self.links[id];
      var a = self._linkVisible(lk) ? self._endPoint(lk, 'source', 0) : null;
      var b = a ? self._endPoint(lk, 'target', 1) : null;
      if (!a || !b || a.key === b.key) {
        self._dropLink(lk);
        lk.shown = false;
        return;
      }
      var key = a.key < b.key ? a.key + '|' + b.key : b.key + '|' + a.key;
      (pairs[key] = pairs[key] || []).push(lk);
      lk.a = a.at;
      lk.b = b.at;
      lk.aKey = a.key;
      drawn.push(lk);
    });
    Object.keys(pairs).forEach(function (key) {
      var list = pairs[key];
      // Several links between the same two ends are drawn as arcs bowing apart (a parallel
      // shift of a few pixels left thick lines on top of each other: Marvejols's two).
      list.sort(function (x, y) { return x.id < y.id ? -1 : 1; });
      list.forEach(function (lk, i) {
        var pa = map.project(lk.a, z), pb = map.project(lk.b, z);
        var latlngs = [lk.a, lk.b];
        if (list.length > 1) {
          var d = pb.subtract(pa), len = Math.sqrt(d.x * d.x + d.y * d.y) || 1;
          // the same side for everyone: measured from the end with the smaller key
          var sign = key.indexOf(lk.aKey + '|') === 0 ? 1 : -1;
          var bow = sign * (i - (list.length - 1) / 2) * Math.max(28, len * 0.3);
          var nx = -d.y / len * bow, ny = d.x / len * bow;
          latlngs = [];
          for (var t = 0; t <= 16; t += 1) {
            var u = t / 16, w = 2 * u * (1 - u);  // quadratic Bézier, control point at 2×bow
            latlngs.push(map.unproject(L.point(pa.x + d.x * u + 2 * nx * w, pa.y + d.y * u + 2 * ny * w), z));
          }
        }
        [lk.casing, lk.line, lk.hit].forEach(function (line) {
          line.setLatLngs(latlngs);
          if (!self.linksLayer.hasLayer(line)) self.linksLayer.addLayer(line);
        });
        lk.shown = true;
      });
    });
    // Weaker links under stronger ones.
    drawn.sort(function (x, y) { return x.level - y.level; }).forEach(function (lk) {
      if (lk.shown) { lk.casing.bringToFront(); lk.line.bringToFront(); }
    });
    drawn.forEach(function (lk) { if (lk.shown) lk.hit.bringToFront(); });
  };

  /* ---------- popups ---------- */

  function day(value, lang) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(value || ''));
    if (!m) return value;
    return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])).toLocaleDateString(
      lang === 'en' ? 'en-GB' : 'fr-FR', { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' });
  }

  function row(dl, term, value) {
    if (value === undefined || value === null || value === '' ||
        (Array.isArray(value) && !value.length)) return null;
    add(dl, el('dt', null, term));
    var dd = add(dl, el('dd'));
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = String(value);
    return dd;
  }

  P._labelList = function (codes, table) {
    return (codes || []).map(function (c) { return table[c] || c; }).join(', ');
  };

  P._fillResource = function (box, r, d) {
    var self = this, T = this.text;
    var k = this.vocab.kinds[d.kind] || [d.kind, '#616161', 'circle'];
    box.textContent = '';
    var head = add(box, el('p', 'tm-kind'));
    var dot = add(head, el('span', 'tm-dot'));
    dot.style.setProperty('--c', safeColour(k[1]));
    add(head, document.createTextNode(k[0]));
    add(box, el('h3', null, d.name));
    if (d.illustrative) add(box, el('p', 'tm-badge', T.illustrative));
    if (d.status === 'closed') add(box, el('p', 'tm-badge', T.closed));
    if (d.pending) add(box, el('p', 'tm-badge tm-pending', T.pending));  // its author's view
    if (r.outside) add(box, el('p', 'tm-badge', T.outside));
    if (d.description) add(box, el('p', 'tm-desc', d.description));
    var dl = add(box, el('dl'));
    row(dl, T.products, this._labelList(d.products, this.vocab.foods));
    row(dl, T.access, this._labelList(d.access_conditions, this.vocab.access));
    row(dl, T.price, d.price_note);
    row(dl, T.documents, d.documents_needed);
    row(dl, T.hours, d.opening_hours);
    row(dl, T.address, d.address);
    var contacts = el('span', 'tm-contacts');
    if (d.phone) {
      var tel = add(contacts, el('a', null, d.phone));
      tel.href = 'tel:' + String(d.phone).replace(/[^0-9+]/g, '');
    }
    if (d.email) {
      var mail = add(contacts, el('a', null, d.email));
      mail.href = 'mailto:' + d.email;
    }
    if (d.website && /^https?:\/\//i.test(d.website)) {
      var web = add(contacts, el('a', null, d.website.replace(/^https?:\/\//i, '')));
      web.href = d.website;
      web.target = '_blank';
      web.rel = 'noopener noreferrer';
    }
    if (contacts.childNodes.length) row(dl, T.contacts, contacts);
    // One wording for approximate positions, the legend's: "Position approximative : …".
    var where = el('span', this._isApprox(d.precision) ? 'tm-approx' : null,
                   T['approx_' + d.precision] || this.vocab.precisions[d.precision] || d.precision);
    if (d.commune_name) where.appendChild(document.createTextNode(' — ' + d.commune_name));
    row(dl, T.location, where);

    var links = d.links || this._linksOf(r.id);
    var section = add(box, el('div', 'tm-links'));
    add(section, el('h4', null, fmt(T.links_n, { n: links.length })));
    if (!links.length) add(section, el('p', 'tm-muted', T.no_links));
    var list = add(section, el('ul'));
    links.forEach(function (lk) {
      var other = lk.source === r.id ? 'target' : 'source';
      var item = add(list, el('li'));
      var swatch = add(item, el('span', 'tm-level-chip', String(lk.level)));
      swatch.style.setProperty('--c', safeColour((self.vocab.levels[String(lk.level)] || [])[1]));
      var button = add(item, el('button', 'tm-linklike',
        lk[other + '_name'] || (self.resources[lk[other]] || {}).name || T.unknown_end));
      button.type = 'button';
      button.addEventListener('click', function () { self.openLink(lk.id); });
      add(item, el('span', 'tm-muted', ' — ' + (self.vocab.levels[String(lk.level)] || [''])[0] +
        ' (' + (self.vocab.categories[lk.category] || lk.category) + ')'));
    });
    // A downloaded file without a public address (TERREAU_PUBLIC_URL) links nowhere.
    if (!this.cfg.urls.record) return;
    var foot = add(box, el('p', 'tm-record'));
    var rec = add(foot, el('a', null, T.record));
    rec.href = this.cfg.urls.record.replace('{id}', encodeURIComponent(r.id));
    if (this.cfg.standalone || window.top !== window.self) rec.target = '_blank';
    add(foot, document.createTextNode(' · '));
    var api = add(foot, el('a', null, T.data));
    api.href = this.cfg.urls.api_record.replace('{id}', encodeURIComponent(r.id));
    api.target = '_blank';
    api.rel = 'noopener';
  };

  P._linksOf = function (id) {
    var self = this;
    return Object.keys(this.links).map(function (k) { return self.links[k]; })
      .filter(function (lk) { return lk.source === id || lk.target === id; })
      .sort(function (a, b) { return b.level - a.level; })
      .map(function (lk) {
        return { id: lk.id, source: lk.source, target: lk.target, level: lk.level,
                 category: lk.category };
      });
  };

  P._resourcePopup = function (r) {
    var self = this, box = el('div', 'tm-popup tm-popup-resource');
    box.setAttribute('data-id', r.id);
    if (this.cfg.mode === 'embedded' || r.detail) {
      this._fillResource(box, r, r.detail || r.data);
    } else {
      add(box, el('h3', null, r.name));
      add(box, el('p', 'tm-muted', this.text.loading));
      fetchJSON(this.cfg.urls.resource.replace('{id}', encodeURIComponent(r.id)))
        .then(function (d) {
          r.detail = d;
          self._fillResource(box, r, d);
          if (r.marker.getPopup()) r.marker.getPopup().update();
        })
        .catch(function () { box.lastChild.textContent = self.text.load_failed; });
    }
    return box;
  };

  P._fillLink = function (box, lk, d) {
    var self = this, T = this.text;
    box.textContent = '';
    add(box, el('p', 'tm-kind', T.link));
    var title = add(box, el('h3'));
    title.appendChild(this._linkTitle({ data: d, source: d.source, target: d.target,
                                        level: d.level }, false));
    if (d.pending) add(box, el('p', 'tm-badge tm-pending', T.pending));
    var dl = add(box, el('dl'));
    row(dl, T.category, this.vocab.categories[d.category] || d.category);
    var level = el('span');
    var chip = add(level, el('span', 'tm-level-chip', String(d.level)));
    chip.style.setProperty('--c', safeColour((this.vocab.levels[String(d.level)] || [])[1]));
    add(level, document.createTextNode(' ' + (this.vocab.levels[String(d.level)] || [''])[0]));
    row(dl, T.level, level);
    if (d.stakes && d.stakes.length) {
      var ul = el('ul', 'tm-stakes');
      d.stakes.forEach(function (s) { add(ul, el('li', null, s)); });
      row(dl, T.stakes, ul);
    }
    row(dl, T.started, d.started_on ? day(d.started_on, this.cfg.lang) : T.not_given);
    if (d.status === 'ended') row(dl, T.link_status, T.ended);
    if (d.description) add(box, el('p', 'tm-desc', d.description));
    var history = d.history || [];
    if (history.length) {
      add(box, el('h4', null, T.history));
      var ol = add(box, el('ol', 'tm-history'));
      history.forEach(function (h) {
        var li = add(ol, el('li'));
        add(li, el('span', 'tm-date', h[0] ? day(h[0], self.cfg.lang) : T.not_given));
        var c = add(li, el('span', 'tm-level-chip', String(h[1])));
        c.style.setProperty('--c', safeColour((self.vocab.levels[String(h[1])] || [])[1]));
        add(li, document.createTextNode(' ' + (self.vocab.levels[String(h[1])] || [''])[0]));
        if (h[2]) add(li, el('div', 'tm-muted', h[2]));
      });
    }
    /* the link's own page (the road travelled, and for editors its level, edit, delete) */
    var page = add(box, el('p', 'tm-record'));
    var to = add(page, el('a', null, T.link_record));
    to.href = this.cfg.urls.record.replace('/resources/', '/links/').replace('{id}', encodeURIComponent(d.id || lk.id));
    if (this.cfg.standalone || window.top !== window.self) to.target = '_blank';
  };

  P._linkPopup = function (lk) {
    var self = this, box = el('div', 'tm-popup tm-popup-link');
    box.setAttribute('data-id', lk.id);
    if (this.cfg.mode === 'embedded' || lk.detail) {
      this._fillLink(box, lk, lk.detail || lk.data);
    } else {
      add(box, el('p', 'tm-muted', this.text.loading));
      fetchJSON(this.cfg.urls.link.replace('{id}', encodeURIComponent(lk.id)))
        .then(function (d) {
          lk.detail = d;
          self._fillLink(box, lk, d);
          if (lk.hit.getPopup()) lk.hit.getPopup().update();
        })
        .catch(function () { box.lastChild.textContent = self.text.load_failed; });
    }
    return box;
  };

  /* ---------- public API (search, tests, links from popups) ---------- */

  P.openResource = function (id) {
    var r = this.resources[id], map = this.map;
    if (!r) return false;
    if (!this._kindVisible(r.kind)) this.map.addLayer(this.kindLayers[r.kind]);
    var zoom = Math.max(map.getZoom(), Math.min(16, map.getMaxZoom()));
    if (r.shownAt && map.getBounds().contains(r.shownAt) && !r.bubble) {
      r.marker.openPopup();
      return true;
    }
    this.pendingOpen = id;
    map.setView(r.latlng, r.bubble ? map.getMaxZoom() - 1 : zoom);
    return true;
  };

  P.openLink = function (id) {
    var lk = this.links[id];
    if (!lk) return false;
    if (!lk.shown) {
      this.minLevel = 1;
      this.categoriesOn[lk.category] = true;
      if (!this.map.hasLayer(this.linksLayer)) this.map.addLayer(this.linksLayer);
      this._syncLegend();
      this.layout();
    }
    if (lk.shown) {
      var ll = lk.hit.getLatLngs(), mid = ll[Math.floor(ll.length / 2)];
      lk.hit.openPopup(ll.length > 2 ? mid :
        L.latLng((ll[0].lat + ll[1].lat) / 2, (ll[0].lng + ll[1].lng) / 2));
    }
    return true;
  };

  P.stats = function () {
    var self = this, markers = 0, inBubbles = 0, links = 0;
    Object.keys(this.resources).forEach(function (id) {
      var r = self.resources[id];
      if (r.outside) return;
      if (r.shownAt) markers += 1; else if (r.bubble) inBubbles += 1;
    });
    var server = 0;
    this.serverClusters.forEach(function (c) {
      Object.keys(c[3]).forEach(function (k) { if (self._kindVisible(k)) server += c[3][k]; });
    });
    Object.keys(this.links).forEach(function (id) { if (self.links[id].shown) links += 1; });
    return { markers: markers, inBubbles: inBubbles + server, resources: markers + inBubbles + server,
             links: links, mode: this.cfg.mode };
  };

  /* ---------- controls: search, legend and filters ---------- */

  P._searchControl = function () {
    var self = this, T = this.text;
    var Search = L.Control.extend({
      options: { position: 'topright' },
      onAdd: function () {
        var box = el('div', 'tm-search leaflet-bar');
        var label = add(box, el('label', 'tm-sr', T.search_label));
        var input = add(box, el('input'));
        input.type = 'search';
        input.id = 'tm-search-' + Math.random().toString(36).slice(2, 8);
        label.htmlFor = input.id;
        input.placeholder = T.search_placeholder;
        input.autocomplete = 'off';
        input.setAttribute('role', 'combobox');
        input.setAttribute('aria-expanded', 'false');
        var list = add(box, el('ul', 'tm-results'));
        list.setAttribute('role', 'listbox');
        list.id = input.id + '-list';
        input.setAttribute('aria-controls', list.id);
        var results = [], active = -1, timer = null, controller = null;

        function render(items, note) {
          results = items;
          active = -1;
          list.textContent = '';
          items.forEach(function (item, i) {
            var li = add(list, el('li', 'tm-result'));
            li.setAttribute('role', 'option');
            li.id = list.id + '-' + i;
            var dot = add(li, el('span', 'tm-dot'));
            dot.style.setProperty('--c', safeColour((self.vocab.kinds[item.kind] || [])[1]));
            add(li, el('span', 'tm-result-name', item.name));
            add(li, el('small', 'tm-muted', ' ' + ((self.vocab.kinds[item.kind] || [''])[0])));
            li.addEventListener('mousedown', function (e) { e.preventDefault(); choose(i); });
          });
          if (note) add(list, el('li', 'tm-result-note', note));
          input.setAttribute('aria-expanded', items.length || note ? 'true' : 'false');
        }

        function choose(i) {
          var item = results[i];
          if (!item) return;
          render([]);
          input.value = item.name;
          input.blur();
          if (self.resources[item.id]) {
            self.openResource(item.id);
          } else {
            self.pendingOpen = item.id;
            self.map.setView([item.lat, item.lon], Math.min(17, self.map.getMaxZoom()));
          }
        }

        function run() {
          var q = fold(input.value);
          if (q.length < 2) { render([]); return; }
          if (self.cfg.mode === 'embedded') {
            var found = self.order.map(function (id) { return self.resources[id]; })
              .filter(function (r) { return !r.outside && r.folded.indexOf(q) >= 0; })
              .sort(function (a, b) { return a.folded.indexOf(q) - b.folded.indexOf(q); })
              .slice(0, 8)
              .map(function (r) { return { id: r.id, name: r.name, kind: r.kind }; });
            render(found, found.length ? null : T.search_none);
            return;
          }
          if (controller) controller.abort();
          controller = window.AbortController ? new AbortController() : null;
          fetchJSON(self.cfg.urls.search + '?q=' + encodeURIComponent(input.value),
                    controller && controller.signal)
            .then(function (body) {
              render(body.results || [], (body.results || []).length ? null : T.search_none);
            })
            .catch(function (e) { if (e.name !== 'AbortError') render([], T.load_failed); });
        }

        input.addEventListener('input', function () {
          clearTimeout(timer);
          timer = setTimeout(run, self.cfg.mode === 'embedded' ? 60 : 220);
        });
        input.addEventListener('keydown', function (e) {
          if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
            e.preventDefault();
            if (!results.length) return;
            active = (active + (e.key === 'ArrowDown' ? 1 : results.length - 1)) % results.length;
            Array.prototype.forEach.call(list.children, function (li, i) {
              li.classList.toggle('active', i === active);
            });
            input.setAttribute('aria-activedescendant', list.id + '-' + active);
          } else if (e.key === 'Enter') {
            e.preventDefault();
            choose(active >= 0 ? active : 0);
          } else if (e.key === 'Escape') {
            render([]);
          }
        });
        input.addEventListener('blur', function () { setTimeout(function () { render([]); }, 150); });
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        return box;
      }
    });
    new Search().addTo(this.map);
  };

  P._legendControl = function () {
    var self = this, T = this.text, V = this.vocab;
    function build() {
        var box = el('div', 'tm-legend' + (self.panel ? ' tm-in-panel' : ' leaflet-bar'));
        var details = add(box, el('details'));
        details.open = !!self.panel || self.large;
        add(details, el('summary', null, T.legend));

        var res = add(details, el('section', 'tm-legend-markers'));
        add(res, el('h4', null, T.legend_resources));
        var exact = add(res, el('div', 'tm-legend-row'));
        add(exact, el('span', 'tm-sample tm-sample-exact'));
        add(exact, el('span', null, T.legend_exact));
        var approx = add(res, el('div', 'tm-legend-row'));
        add(approx, el('span', 'tm-sample tm-sample-approx'));
        add(approx, el('span', null, T.legend_approx));
        var anchor = add(res, el('div', 'tm-legend-row'));
        add(anchor, el('span', 'tm-sample tm-sample-anchor'));
        add(anchor, el('span', null, T.legend_anchor));
        var leg = add(res, el('div', 'tm-legend-row'));
        add(leg, el('span', 'tm-sample tm-sample-leg'));
        add(leg, el('span', null, T.legend_leg));
        var bubble = add(res, el('div', 'tm-legend-row'));
        add(bubble, el('span', 'tm-sample tm-sample-bubble', '12'));
        add(bubble, el('span', null, T.legend_bubble));
        // shown once the map holds something awaiting validation (its author's, an editor's)
        var pending = add(res, el('div', 'tm-legend-row tm-legend-pending'));
        add(pending, el('span', 'tm-sample tm-sample-exact tm-sample-pending'));
        add(pending, el('span', 'tm-sample-pending-line'));
        add(pending, el('span', null, T.legend_pending));
        pending.hidden = !self._anyPending();
        if (!self.panel) add(res, el('p', 'tm-muted tm-legend-kinds-note', T.legend_kinds));

        var links = add(details, el('section', 'tm-legend-links'));
        add(links, el('h4', null, T.legend_links));
        var minRow = add(links, el('label', 'tm-minlevel'));
        add(minRow, el('span', null, T.min_level + ' '));
        var select = add(minRow, el('select'));
        select.name = 'min_level';
        Object.keys(V.levels).forEach(function (n) {
          var opt = add(select, el('option', null, n + ' — ' + V.levels[n][0]));
          opt.value = n;
        });
        select.addEventListener('change', function () { self.setMinLevel(Number(select.value)); });
        self._minSelect = select;
        var ramp = add(links, el('ol', 'tm-ramp'));
        self._rampRows = {};
        Object.keys(V.levels).forEach(function (n) {
          var li = add(ramp, el('li'));
          li.setAttribute('data-level', n);
          var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
          svg.setAttribute('width', '34');
          svg.setAttribute('height', '12');
          svg.setAttribute('aria-hidden', 'true');
          var line = document.createElementNS('http://www.w3.org/2000/svg', 'line');
          line.setAttribute('x1', '2'); line.setAttribute('y1', '6');
          line.setAttribute('x2', '32'); line.setAttribute('y2', '6');
          line.setAttribute('stroke', safeColour(V.levels[n][1]));
          line.setAttribute('stroke-width', String(V.levels[n][2]));
          line.setAttribute('stroke-linecap', 'round');
          svg.appendChild(line);
          li.appendChild(svg);
          add(li, el('span', 'tm-ramp-n', n));
          add(li, el('span', null, V.levels[n][0]));
          self._rampRows[n] = li;
        });
        var cats = add(links, el('fieldset', 'tm-categories'));
        add(cats, el('legend', null, T.categories));
        var present = self.cfg.counts.categories || {};
        self._catBoxes = {};
        Object.keys(V.categories).forEach(function (code) {
          if (self.cfg.mode === 'embedded' && !present[code]) return;
          var lab = add(cats, el('label'));
          var cb = add(lab, el('input'));
          cb.type = 'checkbox';
          cb.checked = true;
          cb.name = 'category';
          cb.value = code;
          cb.addEventListener('change', function () { self.setCategory(code, cb.checked); });
          add(lab, el('span', null, ' ' + V.categories[code] +
            (present[code] !== undefined ? ' (' + present[code] + ')' : '')));
          self._catBoxes[code] = cb;
        });
        var status = add(details, el('p', 'tm-status'));
        status.setAttribute('aria-live', 'polite');
        self._status = status;
        var srcs = add(box, el('p', 'tm-status tm-status-short'));
        self._statusShort = srcs;
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        return box;
    }
    if (this.panel) {
      this.legendBox = this.panel.appendChild(build());
    } else {
      var Legend = L.Control.extend({ options: { position: 'bottomleft' }, onAdd: build });
      this.legendBox = new Legend().addTo(this.map).getContainer();
    }
  };

  P._syncLegend = function () {
    var self = this;
    if (this._minSelect) this._minSelect.value = String(this.minLevel);
    Object.keys(this._rampRows || {}).forEach(function (n) {
      self._rampRows[n].classList.toggle('tm-off', Number(n) < self.minLevel);
    });
    Object.keys(this._catBoxes || {}).forEach(function (c) {
      self._catBoxes[c].checked = self.categoriesOn[c] !== false;
    });
  };

  P.setMinLevel = function (level) {
    this.minLevel = level;
    this._syncLegend();
    if (this.cfg.mode === 'viewport') this._fetchView(); else this.layout();
  };

  P.setCategory = function (code, on) {
    this.categoriesOn[code] = on;
    this._syncLegend();
    if (this.cfg.mode === 'viewport') this._fetchView(); else this.layout();
  };

  P._overlayChanged = function (e) {
    if (e.layer === this.linksLayer) {
      this.linksOn = e.type === 'overlayadd';
      this._updateStatus();
      return;
    }
    var isKind = false, self = this;
    Object.keys(this.kindLayers).forEach(function (k) {
      if (self.kindLayers[k] === e.layer) isKind = true;
    });
    if (!isKind) return;
    if (this.cfg.mode === 'viewport' && this.serverClusters.length) this._fetchView();
    this.layout();
  };

  P._updateStatus = function () {
    if (!this._status) return;
    var s = this.stats(), T = this.text, shownLinks = this.linksOn ? s.links : 0;
    var line = fmt(T.shown, { resources: s.resources, links: shownLinks });
    this._status.textContent = line;
    this._status.setAttribute('data-resources', String(s.resources));
    this._status.setAttribute('data-links', String(shownLinks));
    var extra = this.message ? ' ' + this.message : '';
    this._status.textContent = line + extra;
    this._statusShort.textContent = line + extra;
    this.map.getContainer().setAttribute('data-shown-resources', String(s.resources));
    this.map.getContainer().setAttribute('data-shown-links', String(shownLinks));
    if (this.backgroundDrawn) this.map.getContainer().setAttribute('data-ready', 'true');
  };

  /* ---------- loading by viewport (large territories) ---------- */

  P._viewportLoading = function () {
    var self = this, timer = null;
    this.map.on('moveend', function () {
      clearTimeout(timer);
      timer = setTimeout(function () { self._fetchView(); }, 120);
    });
    this._fetchView();
  };

  P._fetchView = function () {
    var self = this, map = this.map;
    if (!map._loaded) return;
    var b = map.getBounds().pad(0.15), z = Math.round(map.getZoom());
    var params = ['bbox=' + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
      .map(function (v) { return v.toFixed(5); }).join(','), 'zoom=' + z];
    var off = Object.keys(this.kindLayers).filter(function (k) { return !self._kindVisible(k); });
    if (off.length) {
      params.push('kinds=' + Object.keys(this.kindLayers)
        .filter(function (k) { return self._kindVisible(k); }).join(','));
    }
    if (this.minLevel > 1) params.push('min_level=' + this.minLevel);
    var catsOff = Object.keys(this.categoriesOn).filter(function (c) { return !self.categoriesOn[c]; });
    if (catsOff.length) {
      params.push('categories=' + Object.keys(this.categoriesOn)
        .filter(function (c) { return self.categoriesOn[c]; }).join(','));
    }
    // The first view came with the page (cfg.first: the server's answer for any box that holds
    // every resource, at each zoom a screen may round its fit to): drawn at once when this box
    // holds them all with every kind on; any later view, or another one, is asked for.
    var first = this.cfg.first;
    this.cfg.first = null;
    if (first && !off.length && first.views[String(z)] &&
        b.contains(L.latLngBounds([first.extent[0], first.extent[1]],
                                  [first.extent[2], first.extent[3]]))) {
      this._pageView = first.views[String(z)];  // drawn once the controls are built
      return;
    }
    if (this._controller) this._controller.abort();
    this._controller = window.AbortController ? new AbortController() : null;
    map.getContainer().setAttribute('data-loading', 'true');
    fetchJSON(this.cfg.urls.features + '?' + params.join('&'),
              this._controller && this._controller.signal)
      .then(function (body) { self._applyView(body); })
      .catch(function (e) {
        if (e.name === 'AbortError') return;
        self.message = self.text.load_failed;
        self._updateStatus();
      })
      .then(function () {
        map.getContainer().removeAttribute('data-loading');
        self._afterFirstView();
      });
  };

  P._applyView = function (body) {
    var self = this, T = this.text, keep = {};
    if (body.mode === 'points') {
      this.serverClusters = [];
      body.resources.forEach(function (p) {
        keep[p[0]] = true;
        if (!self.resources[p[0]]) {
          self.resources[p[0]] = self._makeResource(
            { id: p[0], name: p[1], kind: p[2], lat: p[3], lon: p[4], precision: p[5] }, false);
        }
      });
      var linkKeep = {};
      (body.links || []).forEach(function (l) {
        linkKeep[l[0]] = true;
        if (!self.links[l[0]]) {
          self.links[l[0]] = self._makeLink({ id: l[0], source: l[1], target: l[2], category: l[3],
                                              level: l[4], ends: [l[5], l[6], l[7], l[8]] });
        }
      });
      Object.keys(this.links).forEach(function (id) {
        if (!linkKeep[id]) { self._dropLink(self.links[id]); delete self.links[id]; }
      });
      this.message = body.links_truncated ? fmt(T.links_truncated, { n: (body.links || []).length })
        : '';
    } else {
      this.serverClusters = body.clusters || [];
      Object.keys(this.links).forEach(function (id) { self._dropLink(self.links[id]); });
      this.links = {};
      this.message = T.zoom_for_links;
    }
    Object.keys(this.resources).forEach(function (id) {
      if (!keep[id]) { self._hide(self.resources[id]); delete self.resources[id]; }
    });
    this._sortOrder();
    this.layout();
    this.map.getContainer().setAttribute('data-view-mode', body.mode);
  };

  P._dropLink = function (lk) {
    this.linksLayer.removeLayer(lk.casing);
    this.linksLayer.removeLayer(lk.line);
    this.linksLayer.removeLayer(lk.hit);
  };

  /* ---------- print: A4 / A3 landscape with title, date, legend, attribution, scale ---------- */

  P._printSupport = function () {
    var self = this;
    window.addEventListener('beforeprint', function () {
      document.querySelectorAll('.tm-print-date').forEach(function (node) {
        node.textContent = new Date().toLocaleDateString(self.cfg.lang === 'en' ? 'en-GB' : 'fr-FR',
          { year: 'numeric', month: 'long', day: 'numeric' });
      });
      var details = self.legendBox && self.legendBox.querySelector('details');
      if (details) { self._legendWasOpen = details.open; details.open = true; }
      self.map.invalidateSize(false);
    });
    window.addEventListener('afterprint', function () {
      document.body.classList.remove('tm-print-a4', 'tm-print-a3');
      var style = document.getElementById('tm-page-size');
      if (style) style.remove();
      if (self.legendBox && self._legendWasOpen === false) {
        self.legendBox.querySelector('details').open = false;
      }
      setTimeout(function () { self.map.invalidateSize(false); self.layout(); }, 50);
    });
  };

  P.print = function (size) {
    var self = this, format = size === 'a3' ? 'a3' : 'a4';
    var style = document.getElementById('tm-page-size') || document.head.appendChild(el('style'));
    style.id = 'tm-page-size';
    style.textContent = '@page { size: ' + format.toUpperCase() + ' landscape; margin: 8mm; }';
    document.body.classList.remove('tm-print-a4', 'tm-print-a3');
    document.body.classList.add('tm-print-' + format);
    this.map.invalidateSize(false);
    this.map.fitBounds(this.homeBounds, { padding: [40, 40], animate: false });
    this.layout();
    setTimeout(function () { window.print(); }, 700);
  };

  window.Terreau = {
    // cfg: the data, or the id of the JSON <script> element that holds it (the pages).
    init: function (map, layers, cfg) {
      if (typeof cfg === 'string') cfg = JSON.parse(document.getElementById(cfg).textContent);
      var instance = new TerreauMap(map, layers, cfg);
      window.terreauMap = instance;
      document.querySelectorAll('[data-tm-print]').forEach(function (button) {
        button.addEventListener('click', function () {
          instance.print(button.getAttribute('data-tm-print'));
        });
      });
      return instance;
    },
    fold: fold
  };
}());
