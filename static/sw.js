/* Terreau's service worker (issue 14): a page that writes opens offline once visited.
 *
 * Served at /sw.js (scope "/": it must cover /workshops/ and the edit pages), registered by
 * static/js/terreau-outbox.js. It never touches a write: POSTs go to the network, and what
 * could not be sent waits in the outbox (IndexedDB), not here.
 *
 * - Pages that write (PAGES below) and the API reads they make (map data, vocabularies):
 *   network first, the last answer kept; offline, the kept answer. The answer keeps its own
 *   headers, Content-Security-Policy included, so a page's nonce still matches its scripts.
 * - Files under /static: the kept copy at once when there, refreshed from the network behind
 *   it for the next visit (a new release is seen one visit later); fetched and kept otherwise.
 * Anything else is left to the browser. Nothing is cached for another origin.
 * - Signing out (the POST to /sign-out, seen here before it leaves) and leaving a workshop
 *   (the page's "forget" message) drop every kept page and API answer first: they are what
 *   this person saw (a moderation queue, their pending additions). The files under /static,
 *   the same for everyone, stay; leaving one workshop keeps the pages and answers of the
 *   other workshops this person still takes part in (`workshop` in the message). The outbox's unsent additions are the page's to warn about
 *   (terreau-outbox.js), never silently dropped here.
 */
"use strict";

var CACHE = "terreau-v1";
var PAGES = [
  /^\/workshops\//,
  /^\/join\//,
  /^\/territories\/[^/]+\/(resources|links)\/new$/,
  /^\/(resources|links)\/[^/]+\/edit$/,
  /^\/moderation$/,
];
var READS = [/^\/api\/(territories|vocab|resources|links)(\/|$)/, /^\/api\/workshops\/[^/]+(\/feed)?$/,
             /^\/workshops\/[^/]+\/feed\.json$/, /^\/maps\//];

self.addEventListener("install", function () { self.skipWaiting(); });

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n !== CACHE; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function matches(list, path) {
  return list.some(function (re) { return re.test(path); });
}

// bumped by forget(): an answer asked for before it is not kept after it
var generation = 0;

function networkFirst(request) {
  var asked = generation;
  return fetch(request).then(function (response) {
    if (response.ok && response.type === "basic" && asked === generation) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
    }
    return response;
  }, function () {
    // ignoreVary: a page that varies on Accept-Language is still this page offline
    return caches.match(request, { ignoreVary: true }).then(function (kept) {
      return kept || Response.error();
    });
  });
}

function keptThenRefreshed(request) {
  var fresh = fetch(request).then(function (response) {
    if (response.ok && response.type === "basic") {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
    }
    return response;
  });
  return caches.match(request).then(function (kept) {
    if (kept) {
      fresh.catch(function () {});
      return kept;
    }
    return fresh;
  });
}

/* The workshop code a path belongs to (/workshops/C…, /api/workshops/C…, /join/C), or null. */
function workshopOf(path) {
  var found = /^\/(?:api\/)?(?:workshops|join)\/([^/?#]+)/.exec(path);
  return found ? decodeURIComponent(found[1]) : null;
}

/* Drop what this person saw: every kept entry but the files under /static (and, leaving
   `workshop` only, but the other workshops' pages and answers). */
function forget(workshop) {
  generation += 1;
  return caches.open(CACHE).then(function (cache) {
    return cache.keys().then(function (requests) {
      return Promise.all(requests.filter(function (r) {
        var path = new URL(r.url).pathname;
        if (path.indexOf("/static/") === 0) return false;
        var of = workshopOf(path);
        return !workshop || of === null || of === workshop;
      }).map(function (r) { return cache.delete(r); }));
    });
  });
}

/* A page asks to keep itself and its files now (terreau-outbox.js, at each visit): one visit is
   enough for the page to open offline, even the first, which this worker did not serve. */
self.addEventListener("message", function (event) {
  var data = event.data || {};
  var port = event.ports && event.ports[0];
  if (data.type === "forget") {
    var workshop = typeof data.workshop === "string" ? data.workshop : null;
    event.waitUntil(forget(workshop).then(function () { if (port) port.postMessage({ forgotten: true }); }));
    return;
  }
  if (data.type !== "keep" || !Array.isArray(data.urls)) return;
  var urls = data.urls.filter(function (u) {
    try { return new URL(u, self.location.href).origin === self.location.origin; }
    catch (e) { return false; }
  });
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(urls.map(function (u) {
      return fetch(u, { credentials: "same-origin" }).then(function (response) {
        if (response.ok) return cache.put(u, response);
      }).catch(function () {});
    }));
  }).then(function () { if (port) port.postMessage({ kept: urls.length }); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method === "POST" && new URL(request.url).pathname === "/sign-out" &&
      new URL(request.url).origin === self.location.origin) {
    // forgotten before the server is asked: the page that follows is already a stranger's
    event.respondWith(forget().catch(function () {}).then(function () { return fetch(request); }));
    return;
  }
  if (request.method !== "GET") return;
  // a live stream (server-sent events) is never kept: it does not end
  if ((request.headers.get("Accept") || "").indexOf("text/event-stream") !== -1) return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(keptThenRefreshed(request));
  } else if (matches(PAGES, url.pathname) || matches(READS, url.pathname)) {
    event.respondWith(networkFirst(request));
  }
});
