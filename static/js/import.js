// /territories/{slug}/import: upload → dry-run report as a table → confirm (the same files
// sent again with dry_run=false). Every text comes from the page (the message catalogue).
(function () {
  "use strict";
  var form = document.getElementById("imp-form");
  var T = JSON.parse(document.getElementById("imp-text").textContent);
  var status = document.getElementById("imp-status");
  var result = document.getElementById("imp-result");

  var el = Terreau.el;  // (tag, cls, text), static/js/terreau-common.js
  function say(text, isError) { status.textContent = text; status.className = "imp-status" + (isError ? " error" : ""); }

  function send(dryRun, report) {
    // the page's own form post: the session cookie and the form's anti-CSRF value (no token
    // in the page); the answer is the API's JSON, or the report file
    var body = new FormData();
    body.append("csrf", form.elements.csrf.value);
    body.append("file", document.getElementById("imp-file").files[0]);
    var links = document.getElementById("imp-links").files[0];
    if (links) body.append("links", links);
    body.append("dry_run", dryRun ? "1" : "0");
    if (report) body.append("report", report);
    var format = document.getElementById("imp-format").value;
    if (format) body.append("format", format);
    return fetch(form.action, {method: "POST", body: body, credentials: "same-origin",
                               headers: {"Accept": "application/json"}});
  }
  function problem(resp) {
    return resp.json().then(function (p) {
      var detail = (p.errors && p.errors.length ? p.errors.map(function (e) { return e.message; }).join(" ; ") : "") ||
        p.detail || p.title || resp.status;
      say(detail, true);
    }, function () { say(T.failed + " (" + resp.status + ")", true); });
  }
  function counts(part) {
    var c = part.counts;
    return c.created + " " + T.created + ", " + c.updated + " " + T.updated + ", " +
      c.unchanged + " " + T.unchanged + ", " + c.rejected + " " + T.rejected;
  }
  function show(body) {
    var tbody = document.querySelector("#imp-table tbody");
    tbody.textContent = "";
    var parts = [["", body.resources], [T.links + " — ", body.links]];
    var text = [];
    parts.forEach(function (p) {
      if (!p[1]) return;
      text.push(p[0] + counts(p[1]));
      p[1].lines.forEach(function (x) {
        var tr = el("tr", x.status);
        tr.appendChild(el("td", null, (x.sheet ? x.sheet + " " : "") + x.line));
        tr.appendChild(el("td", "st", T["status_" + x.status] || x.status));
        tr.appendChild(el("td", null, p[0] + (x.label || "")));
        tr.appendChild(el("td", null, x.field || ""));
        tr.appendChild(el("td", null, x.reason || ""));
        tbody.appendChild(tr);
      });
    });
    document.getElementById("imp-counts").textContent = text.join(" ; ");
    result.hidden = false;
  }

  document.getElementById("imp-now").hidden = true;  // the script checks first, then confirms
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    say(T.checking);
    send(true).then(function (resp) {
      if (!resp.ok) return problem(resp);
      return resp.json().then(function (body) { show(body); say(T.checked); });
    }, function () { say(T.failed, true); });
  });
  document.getElementById("imp-confirm").addEventListener("click", function () {
    say(T.importing);
    send(false).then(function (resp) {
      if (!resp.ok) return problem(resp);
      return resp.json().then(function (body) { show(body); say(T.done); });
    }, function () { say(T.failed, true); });
  });
  ["csv", "xlsx"].forEach(function (fmt) {
    document.getElementById("imp-report-" + fmt).addEventListener("click", function () {
      send(true, fmt).then(function (resp) {
        if (!resp.ok) return problem(resp);
        return resp.blob().then(function (blob) {
          var a = el("a");
          a.href = URL.createObjectURL(blob);
          a.download = "rapport-import." + fmt;
          document.body.appendChild(a); a.click(); a.remove();
        });
      });
    });
  });
})();
