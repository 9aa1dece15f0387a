/* Solves a proof-of-work challenge in ALTCHA's format off the page's thread.
 *
 * The challenge is the SHA-256 of salt + number for a secret number in 0..maxnumber; this
 * tries numbers from 0 up with Web Crypto (crypto.subtle.digest), a batch at a time so the
 * browser can hash in parallel, and reports how much of the range it has tried.
 * Messages out: {progress: 0..1}, then {number: n}, or {failed: true}.
 */
"use strict";

var BATCH = 512;
var REPORT_EVERY = 4096;

function bytesOf(hex) {
  var out = new Uint8Array(hex.length / 2);
  for (var i = 0; i < out.length; i++) {
    out[i] = parseInt(hex.substr(i * 2, 2), 16);
  }
  return out;
}

function same(digest, target) {
  for (var i = 0; i < target.length; i++) {
    if (digest[i] !== target[i]) return false;
  }
  return true;
}

self.onmessage = async function (event) {
  var challenge = event.data;
  var target = bytesOf(challenge.challenge);
  var encoder = new TextEncoder();
  var max = challenge.maxnumber;
  var reported = 0;
  try {
    for (var start = 0; start <= max; start += BATCH) {
      var end = Math.min(max, start + BATCH - 1);
      var jobs = [];
      for (var n = start; n <= end; n++) {
        jobs.push(crypto.subtle.digest("SHA-256", encoder.encode(challenge.salt + n)));
      }
      var digests = await Promise.all(jobs);
      for (var i = 0; i < digests.length; i++) {
        if (same(new Uint8Array(digests[i]), target)) {
          self.postMessage({ number: start + i });
          return;
        }
      }
      if (end - reported >= REPORT_EVERY) {
        reported = end;
        self.postMessage({ progress: end / max });
      }
    }
  } catch (error) {
    // No Web Crypto here (an insecure context): the page says so.
  }
  self.postMessage({ failed: true });
};
