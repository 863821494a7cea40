/* /join/{code}: a pseudonym → the workshop token, kept in this browser's storage (never in an
 * address), then on to the workshop's page. */
(function () {
  'use strict';
  var form = document.getElementById('join-form');
  if (!form) return;
  var code = form.getAttribute('data-code');
  var key = 'terreau.workshop.' + code;
  var texts = JSON.parse(document.getElementById('ws-texts').textContent);
  var error = document.getElementById('join-error');
  if (localStorage.getItem(key)) document.getElementById('join-again').hidden = false;
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    error.hidden = true;
    var button = form.querySelector('button');
    button.disabled = true;
    button.textContent = texts.joining;
    fetch('/api/workshops/' + code + '/join', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json',
                 'Accept-Language': document.documentElement.lang },
      body: JSON.stringify({ pseudonym: document.getElementById('pseudonym').value })
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.detail || texts.failed);
        localStorage.setItem(key, JSON.stringify({ token: body.token, pseudonym: body.pseudonym,
                                                   expires_at: body.expires_at }));
        window.location.replace(form.getAttribute('data-next'));
      });
    }).catch(function (exc) {
      error.textContent = exc.message || texts.failed;
      error.hidden = false;
      button.disabled = false;
      button.textContent = form.getAttribute('data-label') || button.textContent;
    });
  });
})();
