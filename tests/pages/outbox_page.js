/* The page of tests/pages/test_outbox_browser.py: adds a resource through the outbox, with the
   token the test put in localStorage, as the workshop page does. */
(function () {
  "use strict";
  var form = document.getElementById("add");
  var nameInput = document.getElementById("name");
  TerreauOutbox.start({ token: function () { return localStorage.getItem("terreau-test-token"); },
                        lang: "fr" });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var name = nameInput.value;
    TerreauOutbox.submit("/api/resources", {
      type: "Feature", geometry: { type: "Point", coordinates: [3.6957, 43.4028] },
      properties: { name: name, kind: "shared_garden", territories: ["api-a"],
                    location_precision: "exact" }
    }, name);
    form.reset();
  });
  document.addEventListener("terreau-outbox:sent", function (event) {
    var li = document.createElement("li");
    li.textContent = event.detail.row ? event.detail.row.properties.name : "?";
    document.getElementById("sent").appendChild(li);
  });
  document.addEventListener("terreau-outbox:edit", function (event) {
    nameInput.value = event.detail.item.body.properties.name;
  });
})();
