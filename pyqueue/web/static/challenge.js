/* The join of a room that asks for proof of work: solve the challenge, then join.
 *
 * The server renders the challenge into the page (#pq-challenge). A Web Worker
 * (challenge-worker.js) solves it with Web Crypto while this shows its progress; the solution
 * goes into the join form's hidden field as ALTCHA's payload (base64 of the solution's JSON),
 * and the form is sent: at once, or, where the visitor has a code to enter, when they send it.
 */
(function () {
  "use strict";

  var element = document.getElementById("pq-challenge");
  var form = document.getElementById("pq-challenge-form");
  if (!element || !form) return;
  var data = JSON.parse(element.textContent);
  var field = document.getElementById("pq-challenge-solution");
  var bar = document.getElementById("pq-challenge-progress");
  var label = document.getElementById("pq-challenge-state");
  var solved = false;
  form.hidden = false;
  document.getElementById("pq-challenge-work").hidden = false;
  // Without a code to enter, the visitor has nothing to do: the form goes once solved.
  var wanted = !form.querySelector("[name=identity]");

  function say(text) {
    if (label.textContent !== text) label.textContent = text;
  }

  function send() {
    if (solved && wanted) form.submit();
  }

  form.addEventListener("submit", function (event) {
    if (!solved) {
      event.preventDefault();
      wanted = true;
    }
  });

  if (!window.Worker || !window.crypto || !window.crypto.subtle) {
    say(data.texts.unsupported);
    return;
  }
  var worker = new Worker(data.workerUrl);
  worker.onmessage = function (event) {
    var message = event.data;
    if (message.progress !== undefined) {
      var percent = Math.min(99, Math.floor(message.progress * 100));
      bar.value = percent;
      say(data.texts.working.replace("{percent}", String(percent)));
    } else if (message.number !== undefined) {
      var c = data.challenge;
      var solution = {
        algorithm: c.algorithm,
        challenge: c.challenge,
        number: message.number,
        salt: c.salt,
        signature: c.signature,
      };
      field.value = btoa(JSON.stringify(solution));
      bar.value = 100;
      solved = true;
      say(data.texts.done);
      send();
    } else {
      say(data.texts.failed);
    }
  };
  worker.onerror = function () {
    say(data.texts.failed);
  };
  worker.postMessage(data.challenge);
})();
