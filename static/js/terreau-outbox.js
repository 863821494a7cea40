/* Terreau outbox (issue 14): nothing typed is lost on a weak network.
 *
 * A page that writes through the API (the workshop page) hands each addition to
 * `TerreauOutbox.submit(...)` instead of fetching it itself. The addition gets a client UUID
 * (the Feature's `id` for POST /api/resources, `id` for POST /api/links) and is kept in
 * IndexedDB before anything is sent; it leaves the outbox only when the server has answered
 * 2xx. Sending again is therefore safe: the server answers a replay of the same id and content
 * with the row it already has, so an addition is recorded exactly once however many times it
 * is sent (a lost answer, a reload, two tabs).
 *
 * When it is sent: at once, then on the `online` event, every RETRY_MS while something waits,
 * at page load, and when the person presses "Envoyer maintenant". No Background Sync (Safari
 * has none). A network error, a 5xx, 408 or 429 leave the item waiting; any other 4xx (409: the
 * id names other content, 422: a field is wrong, 401/403: the token no longer writes) is not
 * retried: the item is kept, marked refused with the server's message, for the person to edit
 * or discard.
 *
 * The counter: an element `[data-outbox]` holding `[data-outbox-count]`, a `[data-outbox-send]`
 * button and a `[data-outbox-refused]` list; its words come from data attributes the template
 * fills from the catalogue (`data-waiting`, `data-none`, `data-refused`, `data-edit`,
 * `data-discard`), `{n}` standing for the number. The token is asked from the page each time
 * (`token()`): the outbox stores none.
 *
 * Per workshop: a page starts the outbox with its `scope` (the workshop's code); each item
 * keeps the scope it was made in, and a page shows, counts and sends only its own scope's
 * items (with its own token: workshop A's additions never go out with workshop B's token, nor
 * show on B's page). The browser keeps one IndexedDB store for all of them.
 *
 * Items saved before the outbox was per workshop have no scope, so no page would ever send
 * them. They carry no token nor code (the outbox never stored either), but their body names
 * the territory and the item when it was made: a page started with `adopt(item)` (the
 * workshop page: the same territory, made while that workshop was open) takes those it
 * answers true for into its scope, once, before it shows, counts or sends anything; then they
 * go as its own (a replay of one already received is answered with its row: nothing twice).
 *
 * Leaving: a person who signs out (every page's sign-out form, `[data-outbox-warning]`) leaves
 * nothing behind: the outbox is emptied and the service worker drops the pages and answers it
 * kept (`forget`). Leaving a workshop (`TerreauOutbox.leave(warning, code)`) drops that
 * workshop's items and pages only; another workshop's stay. Additions still waiting or
 * refused are never dropped silently: the person is told how many first, and may stay to
 * send them.
 *
 * Loaded by base.html for a signed-in person and by the pages that write; the second copy
 * does nothing.
 */
(function () {
  "use strict";
  if (window.TerreauOutbox) return;

  var DB_NAME = "terreau-outbox";
  var STORE = "items";
  var RETRY_MS = 10000;
  var dbPromise = null;
  var options = { token: function () { return null; }, lang: "fr", scope: null };
  var flushing = null;
  var timer = null;
  var widgets = [];
  var kept = Promise.resolve(0);
  var adopted = Promise.resolve();

  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = function () {
          var store = request.result.createObjectStore(STORE, { keyPath: "id" });
          store.createIndex("created", "created");
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return dbPromise;
  }

  function tx(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode);
        var result = work(t.objectStore(STORE));
        t.oncomplete = function () { resolve(result && "result" in result ? result.result : result); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error); };
      });
    });
  }

  function all() {
    return tx("readonly", function (store) { return store.index("created").getAll(); });
  }

  function inScope(item, scope) { return (item.scope || null) === scope; }

  /* This page's items (its scope's), oldest first (once the old ones are adopted). */
  function mine() {
    return adopted.then(all).then(function (items) {
      return items.filter(function (i) { return inScope(i, options.scope); });
    });
  }

  function put(item) { return tx("readwrite", function (store) { store.put(item); }); }

  function remove(id) { return tx("readwrite", function (store) { store.delete(id); }); }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent("terreau-outbox:" + name, { detail: detail }));
  }

  function retried(status) {
    return status >= 500 || status === 408 || status === 429;
  }

  function problemText(response) {
    return response.text().then(function (body) {
      try {
        var p = JSON.parse(body);
        var fields = (p.errors || []).map(function (e) { return e.message; }).filter(Boolean);
        return [p.detail || p.title || String(response.status)].concat(fields)
          .filter(function (v, i, a) { return a.indexOf(v) === i; }).join(" — ");
      } catch (e) {
        return String(response.status);
      }
    });
  }

  /* Send one item; resolves "sent", "refused" or "waiting" (try again later). */
  function sendOne(item) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json",
                    "Accept-Language": options.lang };
    var token = options.token();
    if (token) headers.Authorization = "Bearer " + token;
    return fetch(item.url, { method: "POST", headers: headers, body: JSON.stringify(item.body),
                             credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.ok) {
          return response.json().catch(function () { return null; }).then(function (row) {
            return remove(item.id).then(function () {
              emit("sent", { item: item, row: row });
              return "sent";
            });
          });
        }
        if (retried(response.status)) {
          item.tries = (item.tries || 0) + 1;
          return put(item).then(function () { return "waiting"; });
        }
        return problemText(response).then(function (text) {
          item.state = "refused";
          item.status = response.status;
          item.error = text;
          return put(item).then(function () {
            emit("refused", { item: item });
            return "refused";
          });
        });
      }, function () {
        item.tries = (item.tries || 0) + 1;
        return put(item).then(function () { return "waiting"; });
      });
  }

  /* Send what waits, oldest first; stop at the first one that must wait (the network is down:
     the others would fail too). One flush at a time per tab, and per browser when the Web
     Locks API is there (two tabs sending the same item is harmless, only wasteful). */
  function flushNow() {
    return mine().then(function (items) {
      var waiting = items.filter(function (i) { return i.state !== "refused"; });
      var chain = Promise.resolve("sent");
      waiting.forEach(function (item) {
        chain = chain.then(function (last) { return last === "waiting" ? last : sendOne(item); });
      });
      return chain;
    });
  }

  function flush() {
    if (flushing) return flushing;
    var run = navigator.locks && navigator.locks.request
      ? function () { return navigator.locks.request("terreau-outbox:" + (options.scope || ""), flushNow); }
      : flushNow;
    flushing = run().catch(function () { return "waiting"; }).then(function (result) {
      flushing = null;
      return render().then(function () { return result; });
    });
    return flushing;
  }

  function schedule() {
    if (timer) return;
    timer = setInterval(function () {
      mine().then(function (items) {
        if (items.some(function (i) { return i.state !== "refused"; })) flush();
      });
    }, RETRY_MS);
  }

  /* Keep an addition and send it. `body` is what the API takes; its client id is set here if
     absent (`id`). `label` is what the counter shows ("Épicerie du port"). Resolves the
     stored item once it is safely in IndexedDB, before any network. */
  function submit(url, body, label) {
    var item = { id: body.id || uuid(), url: url, body: body, label: label || "",
                 scope: options.scope, created: Date.now(), state: "waiting", tries: 0 };
    item.body.id = item.id;
    return put(item).then(function () {
      emit("queued", { item: item });
      render();
      flush();
      return item;
    });
  }

  /* A refused item back to the page (to put in its form), then out of the outbox: the page
     submits it again once edited, under a new id (the refused one named nothing, or, for a
     409, another content). */
  function take(id) {
    return tx("readonly", function (store) { return store.get(id); }).then(function (item) {
      // the counter and the list redrawn before the page gets it back (nothing shows it twice)
      return remove(id).then(render).then(function () { return item; });
    });
  }

  function discard(id) { return remove(id).then(render); }

  function words(el, key, n) {
    return (el.getAttribute("data-" + key) || "").replace("{n}", String(n));
  }

  function render() {
    return mine().then(function (items) {
      var waiting = items.filter(function (i) { return i.state !== "refused"; });
      var refused = items.filter(function (i) { return i.state === "refused"; });
      widgets.forEach(function (el) {
        var count = el.querySelector("[data-outbox-count]");
        if (count) {
          count.textContent = waiting.length ? words(el, "waiting", waiting.length) : words(el, "none", 0);
        }
        el.classList.toggle("outbox-waiting", waiting.length > 0);
        el.setAttribute("data-outbox-waiting", String(waiting.length));
        var list = el.querySelector("[data-outbox-refused]");
        if (!list) return;
        list.textContent = "";
        refused.forEach(function (item) {
          var li = document.createElement("li");
          var what = document.createElement("strong");
          what.textContent = item.label || item.id;
          var why = document.createElement("span");
          why.textContent = " " + words(el, "refused", 1) + " " + (item.error || "");
          var edit = document.createElement("button");
          edit.type = "button";
          edit.textContent = words(el, "edit", 1);
          edit.addEventListener("click", function () {
            take(item.id).then(function (taken) { emit("edit", { item: taken }); });
          });
          var drop = document.createElement("button");
          drop.type = "button";
          drop.textContent = words(el, "discard", 1);
          drop.addEventListener("click", function () { discard(item.id); });
          li.appendChild(what); li.appendChild(why); li.appendChild(edit); li.appendChild(drop);
          list.appendChild(li);
        });
      });
      return { waiting: waiting.length, refused: refused.length };
    });
  }

  /* The items without a scope that `accepts` claims, put in this page's scope (see above). */
  function adopt(accepts) {
    return all().then(function (items) {
      var old = items.filter(function (i) { return !i.scope && accepts(i); });
      if (!old.length) return undefined;
      return tx("readwrite", function (store) {
        old.forEach(function (i) { i.scope = options.scope; store.put(i); });
      });
    }).catch(function () {});
  }

  /* Start on a page: `token` a function giving the Bearer token, `lang` the page's language,
     `scope` what its items belong to (a workshop's code; none: the items made without one),
     `adopt(item)` which of the items saved without a scope are this page's.
     Registers the service worker (the page opens offline once visited). */
  function start(opts) {
    options.token = (opts && opts.token) || options.token;
    options.scope = (opts && opts.scope) || null;
    if (opts && opts.adopt && options.scope) adopted = adopt(opts.adopt);
    options.lang = (opts && opts.lang) || document.documentElement.lang || "fr";
    widgets = Array.prototype.slice.call(document.querySelectorAll("[data-outbox]"));
    widgets.forEach(function (el) {
      var button = el.querySelector("[data-outbox-send]");
      if (button) button.addEventListener("click", function () { flush(); });
    });
    window.addEventListener("online", function () { flush(); });
    keep();
    schedule();
    return flush();
  }

  /* Register the service worker and ask it to keep this page and its files (scripts, styles,
     and `extra` URLs the page reads), so that the page opens offline from the first visit.
     Resolves the number of URLs kept (0 without a worker). */
  function keep(extra) {
    if (!("serviceWorker" in navigator)) return Promise.resolve(0);
    var urls = [location.pathname + location.search];
    Array.prototype.forEach.call(document.querySelectorAll("script[src], link[rel=stylesheet][href], link[rel=icon][href]"),
      function (node) { urls.push(node.getAttribute("src") || node.getAttribute("href")); });
    (extra || []).forEach(function (u) { urls.push(u); });
    kept = navigator.serviceWorker.register("/sw.js", { scope: "/" })
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function (registration) {
        return new Promise(function (resolve) {
          var channel = new MessageChannel();
          channel.port1.onmessage = function (event) { resolve(event.data.kept); };
          registration.active.postMessage({ type: "keep", urls: urls }, [channel.port2]);
        });
      }).catch(function () { return 0; });
    return kept;
  }

  /* Ask the service worker to drop what it kept for this person (of one workshop only when
     `workshop` is given); resolves when it has (or at once without a worker, or after two
     seconds if it does not answer). */
  function forgetKept(workshop) {
    if (!("serviceWorker" in navigator)) return Promise.resolve();
    return navigator.serviceWorker.getRegistration("/").then(function (registration) {
      var worker = registration && (registration.active || registration.waiting);
      if (!worker) return undefined;
      return new Promise(function (resolve) {
        var channel = new MessageChannel();
        channel.port1.onmessage = function () { resolve(); };
        setTimeout(resolve, 2000);
        worker.postMessage({ type: "forget", workshop: workshop || null }, [channel.port2]);
      });
    }).catch(function () {});
  }

  /* What this person left: the outbox's items and the worker's kept pages; with a
     `workshop`, that workshop's only. */
  function forget(workshop) {
    var dropped = workshop
      ? all().then(function (items) {
          return tx("readwrite", function (store) {
            items.filter(function (i) { return inScope(i, workshop); })
              .forEach(function (i) { store.delete(i.id); });
          });
        })
      : tx("readwrite", function (store) { store.clear(); });
    return dropped.catch(function () {})
      .then(function () { return forgetKept(workshop); }).then(render);
  }

  /* Leaving: signing out (everything), or a workshop (`workshop`: its code; its items and
     pages only). With additions of it still in the outbox, `warning` ({n}: how many) is asked
     first; resolves true once they are forgotten, false when the person chose to stay. */
  function leave(warning, workshop) {
    return all().catch(function () { return []; }).then(function (items) {
      if (workshop) items = items.filter(function (i) { return inScope(i, workshop); });
      if (items.length && !window.confirm((warning || "").replace("{n}", String(items.length)))) {
        return false;
      }
      return forget(workshop).then(function () { return true; });
    });
  }

  function guardSignOut() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-outbox-warning]"), function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        leave(form.getAttribute("data-outbox-warning")).then(function (go) {
          if (go) form.submit();  // submit() fires no second "submit" event
        });
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", guardSignOut);
  else guardSignOut();

  window.TerreauOutbox = { start: start, submit: submit, flush: flush, take: take,
                           discard: discard, items: mine, uuid: uuid, render: render, keep: keep,
                           kept: function () { return kept; }, leave: leave, forget: forget };
})();
