// Clameur: what every page does in the browser. No inline script anywhere (strict CSP):
// pages declare behaviour with data- attributes and htmx; this file wires the rest.
(function () {
  "use strict";

  var body = document.body;

  // htmx requests carry the session's CSRF token (the pages check it on every write).
  document.addEventListener("htmx:configRequest", function (event) {
    var token = body && body.dataset.csrf;
    if (token) event.detail.headers["X-CSRF-Token"] = token;
  });

  // A server can answer with HX-Trigger: {"toast": "message"} to show a short notice.
  function toast(text) {
    var box = document.getElementById("toast");
    if (!box || !text) return;
    var item = document.createElement("div");
    item.textContent = text;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 6000);
  }
  window.clameurToast = toast;
  document.addEventListener("toast", function (event) {
    var detail = event.detail;
    toast(typeof detail === "string" ? detail : detail && detail.value);
  });
  // An htmx request the server refused: show its message instead of failing silently.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var text = xhr.getResponseHeader("X-Clameur-Message");
    toast(text ? decodeURIComponent(text) : (body.dataset.lang === "en"
      ? "The action failed (" + xhr.status + ")." : "L'action a échoué (" + xhr.status + ")."));
  });
  document.addEventListener("htmx:sendError", function () {
    toast(body.dataset.lang === "en" ? "The server cannot be reached." : "Le serveur est injoignable.");
  });

  // SLA countdowns turn amber at their warning time and red at their due time.
  function tickSla() {
    var now = Date.now();
    document.querySelectorAll("time.sla[data-due]").forEach(function (el) {
      if (el.classList.contains("sla-paused") || !el.dataset.due) return;
      var due = Date.parse(el.dataset.due);
      var warn = el.dataset.warn ? Date.parse(el.dataset.warn) : NaN;
      var state = now >= due ? "breached" : (!isNaN(warn) && now >= warn ? "warning" : "ok");
      ["ok", "warning", "breached"].forEach(function (s) {
        el.classList.toggle("sla-" + s, s === state);
      });
    });
  }
  setInterval(tickSla, 15000);

  // Keyboard: "/" searches, "?" lists the keys. Pages add their own keys (inbox.js…).
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }
  window.clameurTyping = typing;
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.key === "/") {
      var search = document.getElementById("page-search") || document.getElementById("global-search");
      if (search) { event.preventDefault(); search.focus(); search.select(); }
    } else if (event.key === "?") {
      var keys = document.getElementById("keys");
      if (keys && keys.showModal && !keys.open) { event.preventDefault(); keys.showModal(); }
    }
  });

  // Forms with data-confirm ask before they are sent (no inline onclick under the CSP).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.dataset && form.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  // Selects with data-autosubmit send their form when changed (filters, the tenant switcher).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.dataset && el.dataset.autosubmit !== undefined && el.form) el.form.requestSubmit();
  });
})();
