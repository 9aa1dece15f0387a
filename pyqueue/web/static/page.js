/* The waiting-room page script: clocks that tick, and the status poll.
 *
 * The server renders every view; this script only keeps it current. It polls
 * /v1/rooms/{room}/status exactly as often as the server asks (poll_after_ms and
 * Retry-After, whichever is later), backs off on errors, updates place, wait and progress
 * in place, and reloads the page when the view must change (the server renders the new one).
 * Without it the page still works: a <noscript> refresh reloads it at the server's interval.
 */
(function () {
  "use strict";

  // Entry rooms: the portal links to /rooms/{room}#entry=<token>. A fragment never reaches a
  // server, a proxy log or a Referer; the token is posted with the join form and taken out of
  // the address (and so out of the history) first.
  if (location.hash.indexOf("#entry=") === 0) {
    var entryToken = decodeURIComponent(location.hash.slice("#entry=".length));
    history.replaceState(null, "", location.pathname + location.search);
    var entryForm = document.getElementById("pq-entry-form");
    if (!entryForm) {
      // Already in line on this device: the token may name another person, so it joins too.
      entryForm = document.createElement("form");
      entryForm.method = "post";
      entryForm.action = location.pathname;
      var field = document.createElement("input");
      field.type = "hidden";
      field.name = "entry";
      field.id = "pq-entry";
      entryForm.appendChild(field);
      document.body.appendChild(entryForm);
    }
    document.getElementById("pq-entry").value = entryToken;
    entryForm.submit();
    return;
  }

  var MIN_POLL_MS = 500;
  var MAX_BACKOFF_MS = 60000;
  var RELOAD_GUARD_MS = 60000;

  var dataElement = document.getElementById("pq-data");
  var data = dataElement ? JSON.parse(dataElement.textContent) : null;
  var T = data ? data.texts.strings : {};

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  function setText(element, text) {
    // Only real changes: the live region must not announce the same words again.
    if (element && element.textContent !== text) {
      element.textContent = text;
    }
  }

  // ------------------------------------------------------------------------- phrasing
  // The same rules as pyqueue/web/i18n.py, so a reload never changes the words.

  function number(value) {
    return new Intl.NumberFormat(data.texts.lang).format(value);
  }

  function decimal(value) {
    return String(Math.round(value * 10) / 10).replace(".", data.texts.decimal);
  }

  function ahead(count) {
    if (count <= 0) return T.ahead_none;
    if (count === 1) return T.ahead_one;
    return format(T.ahead_many, { n: number(count) });
  }

  function wait(low, high) {
    low = Math.max(0, low);
    high = Math.max(0, high, low);
    if (high < 60) return T.eta_under_minute;
    var loMin = Math.max(1, Math.floor(low / 60));
    var hiMin = Math.max(loMin, Math.ceil(high / 60));
    if (hiMin >= data.texts.hoursFromMinutes) {
      var loH = Math.max(0.5, Math.floor(low / 1800) / 2);
      var hiH = Math.max(loH, Math.ceil(high / 1800) / 2);
      if (loH === hiH) return format(T.eta_hours_single, { n: decimal(loH) });
      return format(T.eta_hours, { low: decimal(loH), high: decimal(hiH) });
    }
    if (loMin === hiMin) {
      return loMin === 1 ? T.eta_one_minute : format(T.eta_minutes_single, { n: loMin });
    }
    return format(T.eta_minutes, { low: loMin, high: hiMin });
  }

  function rate(perMinute) {
    if (perMinute >= data.texts.perSecondFromMinute) {
      return format(T.eta_rate_second, { n: number(Math.round(perMinute / 60)) });
    }
    if (perMinute <= 1) return T.eta_rate_one_minute;
    return format(T.eta_rate_minute, { n: number(perMinute) });
  }

  function etaWords(eta) {
    if (eta.reason === "paused") return T.eta_paused;
    if (eta.reason === "measuring") return T.eta_measuring;
    return wait(eta.low, eta.high);
  }

  function etaReason(eta) {
    var speed = rate(eta.admit_per_minute || 0);
    if (eta.reason === "rate" || eta.reason === "capacity" || eta.reason === "measuring") {
      return format(T["eta_reason_" + eta.reason], { rate: speed });
    }
    if (eta.reason === "expiry") return T.eta_reason_expiry;
    return "";
  }

  // As Texts.clock in i18n.py: from a day on, the days in the words of data-days
  // ("1 day|{n} days"), then hh:mm:ss.
  function clockFace(seconds, element) {
    var total = Math.max(0, Math.ceil(seconds));
    var days = Math.floor(total / 86400);
    var hours = Math.floor((total % 86400) / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var secs = total % 60;
    var mm = (minutes < 10 ? "0" : "") + minutes;
    var ss = (secs < 10 ? "0" : "") + secs;
    var words = (element && element.getAttribute("data-days")) || "";
    if (days && words) {
      var forms = words.split("|");
      var inDays = days === 1 ? forms[0] : forms[1].replace("{n}", String(days));
      return inDays + ", " + (hours < 10 ? "0" : "") + hours + ":" + mm + ":" + ss;
    }
    hours += days * 24;
    return hours ? hours + ":" + mm + ":" + ss : mm + ":" + ss;
  }

  function timeNow() {
    return new Intl.DateTimeFormat(data.texts.lang, {
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
      timeZone: data.zone,
    }).format(new Date());
  }

  // --------------------------------------------------------------------------- clocks

  var clocks = Array.prototype.slice.call(document.querySelectorAll("[data-countdown]"));

  function setClock(element, seconds) {
    element.pqEnd = performance.now() + seconds * 1000;
    element.pqDone = false;
  }

  function onZero(element) {
    var action = element.getAttribute("data-on-zero");
    if (action === "reload") {
      window.location.reload();
    } else if (action === "handoff") {
      var go = document.getElementById("pq-go");
      if (go) window.location.assign(go.href);
    } else if (action === "expire") {
      var expired = document.getElementById("pq-hold-expired");
      var confirm = document.getElementById("pq-confirm");
      if (expired) expired.hidden = false;
      if (confirm) confirm.hidden = true;
    }
  }

  function tickClocks() {
    var now = performance.now();
    clocks.forEach(function (element) {
      if (element.pqDone) return;
      var left = Math.max(0, (element.pqEnd - now) / 1000);
      if (!element.hidden) setText(element, clockFace(left, element));
      if (left <= 0) {
        element.pqDone = true;
        onZero(element);
      }
    });
  }

  clocks.forEach(function (element) {
    setClock(element, Number(element.getAttribute("data-countdown")));
  });
  if (clocks.length) {
    tickClocks();
    window.setInterval(tickClocks, 250);
  }

  // ----------------------------------------------------------------------------- poll

  function viewKey(status) {
    var slot = status.offer ? status.offer.slot : "";
    return status.state + "|" + (status.paused ? "true" : "false") + "|" + slot;
  }

  function field(status, path) {
    return path.split(".").reduce(function (value, name) {
      return value === null || value === undefined ? value : value[name];
    }, status);
  }

  function showProblem(text) {
    var problem = document.getElementById("pq-problem");
    if (!problem) return;
    setText(problem, text || "");
    problem.hidden = !text;
  }

  function update(status) {
    var count = status.ahead || 0;
    setText(document.getElementById("pq-place"), number(count + 1));
    setText(document.getElementById("pq-ahead"), ahead(count));
    if (status.eta) {
      setText(document.getElementById("pq-eta"), etaWords(status.eta));
      var because = document.getElementById("pq-eta-reason");
      if (because) {
        setText(because, etaReason(status.eta));
        because.hidden = !because.textContent;
      }
      var first = document.getElementById("pq-first-estimate");
      if (first) first.hidden = status.eta.known || status.eta.reason !== "rate";
    }
    var progress = document.getElementById("pq-progress");
    if (progress) {
      var start = Math.max(count, status.ahead_at_start === null ? count : status.ahead_at_start);
      progress.max = Math.max(1, start);
      progress.value = start ? start - count : 1;
      setText(progress, start - count + "/" + start);
    }
    setText(document.getElementById("pq-updated"), format(T.updated_at, { time: timeNow() }));
    clocks.forEach(function (element) {
      var path = element.getAttribute("data-sync");
      var seconds = path ? field(status, path) : null;
      if (typeof seconds === "number") setClock(element, seconds);
    });
  }

  function retryAfterMs(response) {
    var header = response.headers.get("Retry-After");
    var seconds = header === null ? NaN : Number(header);
    return isFinite(seconds) ? seconds * 1000 : 0;
  }

  function reloadOnce() {
    // A ticket the API refuses: the page itself knows what comes next (a new place, or
    // why not). Guarded, so a refusal that persists cannot reload in a loop.
    var last = Date.now();
    try {
      last = Number(window.sessionStorage.getItem("pq-forced-reload") || 0);
      if (Date.now() - last > RELOAD_GUARD_MS) {
        window.sessionStorage.setItem("pq-forced-reload", String(Date.now()));
        window.location.reload();
        return true;
      }
    } catch (error) {
      // No session storage (a strict privacy mode): never reload by ourselves, then.
    }
    showProblem(T.poll_stopped);
    return false;
  }

  function Poller(initial) {
    this.interval = Math.max(MIN_POLL_MS, initial);
    this.failures = 0;
    this.timer = null;
    this.dueAt = 0;
    this.busy = false;
  }

  Poller.prototype.schedule = function (ms) {
    var self = this;
    window.clearTimeout(this.timer);
    this.dueAt = Date.now() + ms;
    this.timer = window.setTimeout(function () {
      self.poll();
    }, ms);
  };

  Poller.prototype.failed = function (retryMs) {
    this.failures += 1;
    var backoff = Math.min(MAX_BACKOFF_MS, this.interval * Math.pow(2, this.failures));
    backoff *= 0.8 + 0.4 * Math.random();
    this.schedule(Math.max(backoff, retryMs, this.interval));
    showProblem(T.connection_problem);
  };

  Poller.prototype.poll = function () {
    var self = this;
    if (this.busy) return;
    this.busy = true;
    window
      .fetch(data.statusUrl, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      })
      .then(function (response) {
        var retryMs = retryAfterMs(response);
        if (response.ok) {
          return response.json().then(function (status) {
            self.busy = false;
            self.failures = 0;
            showProblem("");
            if (viewKey(status) !== data.key) {
              window.location.reload();
              return;
            }
            update(status);
            self.interval = Math.max(MIN_POLL_MS, status.poll_after_ms || 0);
            // Never sooner than asked: the later of the body's and the header's answer.
            self.schedule(Math.max(self.interval, retryMs));
          });
        }
        self.busy = false;
        if ([401, 403, 404, 410].indexOf(response.status) >= 0) {
          reloadOnce();
          return;
        }
        self.failed(retryMs);
      })
      .catch(function () {
        self.busy = false;
        self.failed(0);
      });
  };

  if (data && data.statusUrl) {
    var poller = new Poller(data.status.poll_after_ms);
    poller.schedule(poller.interval);
    document.addEventListener("visibilitychange", function () {
      // Background tabs may have had their timers slowed; once visible, a poll that is
      // already due goes out now (never before it is due).
      if (document.visibilityState === "visible" && !poller.busy && Date.now() >= poller.dueAt) {
        poller.poll();
      }
    });
  }

  var focus = document.querySelector("[data-focus]");
  if (focus) focus.focus();
})();
