// Crisis mode: variables inserted at the cursor in the holding answer, and the
// conversations that joined the incident since the page opened marked as new.
(function () {
  "use strict";

  var seen = null;

  function ids() {
    var out = {};
    document.querySelectorAll("#incident-conversations li.conv").forEach(function (el) {
      out[el.dataset.id] = true;
    });
    return out;
  }

  function remember() {
    if (seen === null) seen = ids();
  }

  function markNew() {
    if (seen === null) { remember(); return; }
    var added = 0;
    document.querySelectorAll("#incident-conversations li.conv").forEach(function (el) {
      if (!seen[el.dataset.id]) { el.classList.add("is-new"); added += 1; }
    });
    var lang = document.body.dataset.lang;
    var box = document.querySelector("#incident-conversations .joined");
    if (box && added) {
      box.textContent = lang === "en"
        ? added + (added > 1 ? " new conversations joined the incident." : " new conversation joined the incident.")
        : added + (added > 1 ? " nouvelles conversations ont rejoint l'incident." : " nouvelle conversation a rejoint l'incident.");
    }
  }

  document.addEventListener("DOMContentLoaded", remember);
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.elt;
    if (target && target.id === "incident-conversations") markNew();
    else if (document.getElementById("incident-conversations")) markNew();
  });

  // A variable button inserts "{name}" (etc.) where the cursor is in the answer.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-insert]");
    if (!button) return;
    var field = document.getElementById("holding-text");
    if (!field) return;
    event.preventDefault();
    var text = button.dataset.insert;
    var start = field.selectionStart || 0;
    var end = field.selectionEnd || 0;
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.focus();
    field.selectionStart = field.selectionEnd = start + text.length;
  });
})();
