// Clameur inbox: the keyboard (j/k move, Enter opens, r replies, e resolves, a assigns to
// me, x selects), the selection for bulk actions, and keeping both across live refreshes.
// No inline script (strict CSP): the page declares its forms and htmx attributes; this
// file only reads and drives them.
(function () {
  "use strict";

  var root = document.querySelector(".inbox");
  if (!root) return;
  var bulk = document.getElementById("bulk-form");
  var count = document.getElementById("bulk-count");
  var all = document.getElementById("select-all");
  var live = document.getElementById("inbox-live");
  var selected = new Set();
  var currentId = null;
  var shownBefore = null;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#inbox-items > li.conv"));
  }
  function rowOf(id) {
    return id ? document.getElementById("conv-" + id) : null;
  }
  function message(name, n) {
    var text = root.dataset[name] || "";
    return text.replace("{n}", String(n));
  }
  // typing in a field (a checkbox is not a field: j/k keep working after a click on one)
  function typing(el) {
    if (!el) return false;
    if (el.isContentEditable) return true;
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    return tag === "INPUT" && !/^(checkbox|radio|button|submit|reset)$/i.test(el.type || "");
  }
  function toast(text) {
    if (window.clameurToast) window.clameurToast(text);
  }

  // -- the current row (a visible focus ring that follows j/k) ---------------------------

  function setCurrent(row, focus) {
    var previous = rowOf(currentId);
    if (previous && previous !== row) {
      previous.classList.remove("current");
      var old = previous.querySelector("a.open");
      if (old) old.removeAttribute("aria-current");
    }
    if (!row) { currentId = null; return; }
    currentId = row.dataset.id;
    row.classList.add("current");
    var link = row.querySelector("a.open");
    if (link) {
      link.setAttribute("aria-current", "true");
      if (focus) link.focus({ preventScroll: true });
    }
    if (focus) row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var list = rows();
    if (!list.length) return;
    var index = list.indexOf(rowOf(currentId));
    var next = index < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, index + step));
    setCurrent(list[next], true);
  }

  document.addEventListener("focusin", function (event) {
    var row = event.target.closest && event.target.closest("#inbox-items > li.conv");
    if (row) setCurrent(row, false);
  });

  // -- selection --------------------------------------------------------------------------

  function refreshSelection() {
    var list = rows();
    var present = new Set(list.map(function (row) { return row.dataset.id; }));
    selected.forEach(function (id) { if (!present.has(id)) selected.delete(id); });
    list.forEach(function (row) {
      var box = row.querySelector(".pick input");
      var on = selected.has(row.dataset.id);
      if (box) box.checked = on;
      row.classList.toggle("is-selected", on);
    });
    if (count) count.textContent = selected.size ? message("msgSelected", selected.size) : message("msgNone", 0);
    if (bulk) bulk.classList.toggle("has-selection", selected.size > 0);
    if (all) {
      all.checked = list.length > 0 && selected.size === list.length;
      all.indeterminate = selected.size > 0 && selected.size < list.length;
    }
  }

  function toggle(row, on) {
    var id = row.dataset.id;
    if (on === undefined) on = !selected.has(id);
    if (on) selected.add(id); else selected.delete(id);
  }

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el === all) {
      rows().forEach(function (row) { toggle(row, all.checked); });
      refreshSelection();
    } else if (el.matches && el.matches("#inbox-items .pick input")) {
      toggle(el.closest("li.conv"), el.checked);
      refreshSelection();
    }
  });

  if (bulk) {
    // a bulk action needs a selection; spam asks first; Enter in the tag field tags
    bulk.addEventListener("click", function (event) {
      var button = event.target.closest("button[name=action]");
      if (!button) return;
      if (!selected.size) {
        event.preventDefault();
        toast(root.dataset.msgEmpty);
        return;
      }
      var question = button.dataset.confirm;
      if (question && !window.confirm(question)) event.preventDefault();
    });
    var tag = document.getElementById("bulk-tag");
    if (tag) {
      tag.addEventListener("keydown", function (event) {
        if (event.key !== "Enter") return;
        event.preventDefault();
        var button = bulk.querySelector(".tag-with button[name=action]");
        if (button) button.click();
      });
    }
  }

  // -- requests: keep what was loaded, restore focus and selection after a swap ------------

  document.addEventListener("htmx:configRequest", function (event) {
    var path = event.detail.path || "";
    var elt = event.detail.elt;
    var refresh = elt && elt.id === "inbox-rows";
    if (refresh || path.indexOf("/inbox/bulk") === 0) {
      event.detail.parameters.shown = String(rows().length);
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || (target.id !== "inbox-rows" && target.id !== "inbox-items")) return;
    var list = document.getElementById("inbox-items");
    var active = document.activeElement;
    root.dataset.hadFocus = list && active && list.contains(active) ? "1" : "";
    shownBefore = new Set(rows().map(function (row) { return row.dataset.id; }));
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target || (target.id !== "inbox-rows" && target.id !== "inbox-items")) return;
    var row = rowOf(currentId);
    if (row) setCurrent(row, root.dataset.hadFocus === "1");
    else if (root.dataset.hadFocus === "1") setCurrent(rows()[0] || null, true);
    root.dataset.hadFocus = "";
    refreshSelection();
    if (target.id === "inbox-rows" && shownBefore && live) {
      var fresh = rows().filter(function (r) { return !shownBefore.has(r.dataset.id); }).length;
      if (fresh) live.textContent = fresh === 1 ? message("msgNewOne", 1) : message("msgNewMany", fresh);
    }
    shownBefore = null;
  });

  // a bulk action that went through: its conversations are no longer picked
  document.addEventListener("htmx:afterRequest", function (event) {
    if (bulk && event.detail.elt === bulk && event.detail.successful) {
      selected.clear();
      refreshSelection();
    }
  });

  // -- the keys ---------------------------------------------------------------------------

  function submitAction(row, action) {
    var form = row && row.querySelector('form[data-action="' + action + '"]');
    if (form) form.requestSubmit();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var dialog = document.getElementById("keys");
    if (dialog && dialog.open) return;
    var row = rowOf(currentId);
    switch (event.key) {
      case "j": event.preventDefault(); move(1); break;
      case "k": event.preventDefault(); move(-1); break;
      case "Enter":
        if (row && !(event.target.closest && event.target.closest("a, button, form"))) {
          event.preventDefault();
          window.location.assign(row.querySelector("a.open").href);
        }
        break;
      case "r":
        if (row) { event.preventDefault(); window.location.assign(row.querySelector("a.open").href + "#reply"); }
        break;
      case "e": if (row) { event.preventDefault(); submitAction(row, "resolve"); } break;
      case "a": if (row) { event.preventDefault(); submitAction(row, "assign_me"); } break;
      case "x":
        if (row && row.querySelector(".pick input")) { event.preventDefault(); toggle(row); refreshSelection(); }
        break;
    }
  });

  refreshSelection();
})();
