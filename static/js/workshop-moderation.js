/* The facilitator's queue: when the workshop changes (/workshops/{code}/events, read with the session cookie)
 * the page reloads itself, unless the facilitator is typing (then a notice offers it). */
(function () {
  'use strict';
  var root = document.getElementById('ws-moderation');
  if (!root || !window.EventSource || !document.getElementById('ws-queue')) return;
  var code = root.getAttribute('data-code'), first = null, typing = false;
  document.addEventListener('input', function () { typing = true; });
  var source = new EventSource('/workshops/' + code + '/events');
  source.addEventListener('feed', function (e) {
    var marker = JSON.parse(e.data).marker;
    if (first === null) { first = marker; return; }
    if (marker === first) return;
    if (!typing) { source.close(); window.location.reload(); return; }
    document.getElementById('ws-news').hidden = false;
  });
})();
