// Alerts: j/k move through the list, Enter opens the alert (no inline script: strict CSP).
(function () {
  "use strict";

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr.alert-row"));
  }

  function current() {
    return document.querySelector("tr.alert-row.is-current");
  }

  function select(row) {
    var before = current();
    if (before) before.classList.remove("is-current");
    if (!row) return;
    row.classList.add("is-current");
    var link = row.querySelector("a.alert-link");
    if (link) link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (window.clameurTyping && window.clameurTyping(event.target)) return;
    var list = rows();
    if (!list.length) return;
    var at = list.indexOf(current());
    if (event.key === "j") {
      event.preventDefault();
      select(list[Math.min(list.length - 1, at + 1)]);
    } else if (event.key === "k") {
      event.preventDefault();
      select(list[Math.max(0, at - 1)]);
    } else if (event.key === "Enter" && at >= 0 && event.target === document.body) {
      var link = list[at].querySelector("a.alert-link");
      if (link) { event.preventDefault(); link.click(); }
    }
  });

  // The live refresh replaces the rows: keep the same alert selected.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var row = current();
    if (row && event.detail.target && event.detail.target.id === "alert-rows") {
      event.detail.target.dataset.current = row.dataset.id;
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var box = document.getElementById("alert-rows");
    var id = box && box.dataset.current;
    if (!id) return;
    var row = document.querySelector('tr.alert-row[data-id="' + id + '"]');
    if (row) row.classList.add("is-current");
  });
})();
