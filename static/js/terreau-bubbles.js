/* Terreau's counted bubbles: all the bubbles of a view in one Leaflet layer, written to the
 * marker pane in one go, with one set of listeners for all of them.
 *
 * Why not one L.marker each (as before): a marker is an object with its own icon, tooltip,
 * listeners and 'add' event; a territory's first view drew 38 of them before the browser could
 * paint, and every zoom built them again (docs/benchmarks.md, issue 18). Here a bubble is three
 * elements. The map's own event dispatch (addInteractiveTarget, as markers use it) brings
 * clicks and hovers to the layer, so a drag that ends on a bubble pans the map as it does on a
 * marker, and a bubble's click does not reach the map.
 *
 * What a bubble is: { latlng, count, background (a CSS value built from checked colours),
 * label (its accessible name) } and whatever its owner adds; `options.content(bubble)` gives its
 * tooltip's content (a DOM node), `options.open(bubble)` runs on a click, Enter or Space.
 * Text goes in with textContent only.
 */
(function () {
  'use strict';

  var el = Terreau.el;

  function sizeOf(count) { return count < 100 ? 40 : count < 1000 ? 48 : 56; }

  var BubbleLayer = L.Layer.extend({
    options: { pane: 'markerPane', bubblingMouseEvents: false },

    initialize: function (options) {
      L.setOptions(this, options);
      this._bubbles = [];
      this._nodes = [];
      this.on({ click: this._onClick, keydown: this._onKey, mouseover: this._onOver,
                mouseout: this._onOut }, this);
    },

    onAdd: function (map) {
      this._tip = L.tooltip({ className: 'tm-tooltip', direction: 'top' });
      // Focus does not bubble and the map does not pass it on: the pane listens for its bubbles.
      L.DomEvent.on(this.getPane(), { focusin: this._onFocus, focusout: this._onOut }, this);
      this._draw();
    },

    onRemove: function (map) {
      L.DomEvent.off(this.getPane(), { focusin: this._onFocus, focusout: this._onOut }, this);
      map.closeTooltip(this._tip);
      this._clear();
    },

    getEvents: function () {
      var events = { viewreset: this._place };
      if (this._zoomAnimated) events.zoomanim = this._animate;
      return events;
    },

    // Replaces the bubbles shown (an empty list clears them).
    set: function (bubbles) {
      this._bubbles = bubbles;
      if (this._map) {
        this._map.closeTooltip(this._tip);
        this._clear();
        this._draw();
      }
      return this;
    },

    getBubbles: function () { return this._bubbles; },

    _node: function (b, i) {
      var size = sizeOf(b.count);
      var node = el('div', 'tm-bubble leaflet-marker-icon leaflet-interactive' +
                    (this._zoomAnimated ? ' leaflet-zoom-animated' : ''));
      node.tabIndex = 0;
      node.setAttribute('role', 'button');
      node.setAttribute('data-count', String(b.count));
      node.setAttribute('aria-label', b.label);
      node.style.width = node.style.height = size + 'px';
      node.style.marginLeft = node.style.marginTop = (-size / 2) + 'px';
      node._tmBubble = i;
      var ring = node.appendChild(el('span', 'tm-bubble-ring'));
      ring.style.background = b.background;
      ring.appendChild(el('span', 'tm-bubble-n', String(b.count)));
      return node;
    },

    _draw: function () {
      var self = this, pane = this.getPane(), all = document.createDocumentFragment();
      this._nodes = this._bubbles.map(function (b, i) {
        var node = self._node(b, i);
        self.addInteractiveTarget(node);
        all.appendChild(node);
        return node;
      });
      this._place();
      pane.appendChild(all);
    },

    _clear: function () {
      var self = this;
      this._nodes.forEach(function (node) {
        self.removeInteractiveTarget(node);
        L.DomUtil.remove(node);
      });
      this._nodes = [];
    },

    _setAt: function (node, point) {
      L.DomUtil.setPosition(node, point);
      node.style.zIndex = String(point.y);  // stacked as markers are: lower on screen, in front
    },

    _place: function () {
      var map = this._map, self = this;
      this._nodes.forEach(function (node, i) {
        self._setAt(node, map.latLngToLayerPoint(self._bubbles[i].latlng).round());
      });
    },

    _animate: function (e) {
      var map = this._map, self = this;
      this._nodes.forEach(function (node, i) {
        self._setAt(node, map._latLngToNewLayerPoint(self._bubbles[i].latlng, e.zoom, e.center)
          .round());
      });
    },

    // The bubble an event is about (its target may be the ring or the count inside it).
    _of: function (target) {
      var node = target && target.closest ? target.closest('.tm-bubble') : null;
      return node && node._tmBubble !== undefined ? this._bubbles[node._tmBubble] : null;
    },

    _onClick: function (e) {
      var b = this._of(e.originalEvent.target);
      if (b && this.options.open) this.options.open(b);
    },

    _onKey: function (e) {
      var key = e.originalEvent.key;
      if (key !== 'Enter' && key !== ' ') return;
      var b = this._of(e.originalEvent.target);
      if (!b) return;
      L.DomEvent.preventDefault(e.originalEvent);  // Space would scroll the page
      if (this.options.open) this.options.open(b);
    },

    _onOver: function (e) { this._show(this._of(e.originalEvent.target)); },

    _onFocus: function (e) { this._show(this._of(e.target)); },

    _show: function (b) {
      if (!b || !this._map || !this.options.content) return;
      this._tip.options.offset = L.point(0, -sizeOf(b.count) / 2);
      this._tip.setLatLng(b.latlng).setContent(this.options.content(b));
      this._map.openTooltip(this._tip);
    },

    _onOut: function () {
      if (this._map) this._map.closeTooltip(this._tip);
    }
  });

  Terreau.BubbleLayer = BubbleLayer;
}());
