/* Terreau: the browser helpers every page script shares (the territory map, nearby, the
 * cooperation and import pages). Loaded before them as a plain script; the offline download
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

  root.Terreau = { el: el, fmt: fmt, safeColour: safeColour, safeIcon: safeIcon };
})(window);
