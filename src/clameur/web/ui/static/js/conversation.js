// The conversation page: presence (viewing, typing, left), the reply box (canned replies
// by /shortcode, suggestions, the draft kept across reloads, Ctrl+Enter), the live regions
// (what the agent was doing in them survives a refresh) and the page's keys.
// No inline script (strict CSP): everything is wired here from data- attributes and ids.
(function () {
  "use strict";

  var root = document.getElementById("conversation");
  if (!root) return;
  var id = root.dataset.conversation;
  var body = document.body;
  var english = body.dataset.lang === "en";
  var DRAFT = "clameur-reply-" + id;

  function csrf() { return body.dataset.csrf || ""; }
  function say(fr, en) { return english ? en : fr; }
  function textarea() { return document.getElementById("reply-text"); }

  // -- presence: every ~10 s while the page is visible, typing at most every 3 s ---------
  var lastTyping = 0;
  function report(state, keepalive) {
    var options = {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Content-Type": "application/x-www-form-urlencoded" },
      body: "state=" + encodeURIComponent(state),
      keepalive: !!keepalive
    };
    return fetch("/presence/" + id, options).then(function (answer) {
      if (!answer.ok || state === "left") return;
      return answer.text().then(function (html) {
        var box = document.getElementById("presence");
        if (box) box.innerHTML = html;
      });
    }).catch(function () { /* offline for a moment: the next beat tries again */ });
  }
  function beat() { if (document.visibilityState === "visible") report("viewing"); }
  beat();
  setInterval(beat, 10000);
  document.addEventListener("visibilitychange", beat);
  window.addEventListener("pagehide", function () { report("left", true); });
  document.addEventListener("input", function (event) {
    if (event.target !== textarea()) return;
    var now = Date.now();
    if (now - lastTyping > 3000) { lastTyping = now; report("typing"); }
    try { sessionStorage.setItem(DRAFT, event.target.value); } catch (e) { /* private mode */ }
  });

  // -- the thread: start at the newest message, follow new ones, announce them ----------
  var scroller = document.getElementById("thread-scroll");
  function atBottom() {
    return !scroller || scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
  }
  function toBottom() { if (scroller) scroller.scrollTop = scroller.scrollHeight; }
  function count() {
    var list = document.querySelector("#thread .thread");
    return list ? parseInt(list.dataset.count || "0", 10) : 0;
  }
  toBottom();

  // -- live regions keep what the agent was doing: open menus, typed values, focus ------
  var REGIONS = "#conv-head, #conv-side, #thread";
  var kept = null;
  function changed(el) {
    if (el.type === "hidden") return false;
    if (el.type === "radio" || el.type === "checkbox") return el.checked !== el.defaultChecked;
    if (el.tagName === "SELECT") {
      return Array.prototype.some.call(el.options, function (o) { return o.selected !== o.defaultSelected; });
    }
    return el.value !== el.defaultValue;
  }
  function capture() {
    var state = { open: [], values: {}, focus: null, start: null, end: null, bottom: atBottom(), count: count() };
    document.querySelectorAll(REGIONS).forEach(function (region) {
      region.querySelectorAll("details[open][id]").forEach(function (d) { state.open.push(d.id); });
      region.querySelectorAll("input[id], textarea[id], select[id]").forEach(function (el) {
        if (!changed(el)) return;
        state.values[el.id] = (el.type === "radio" || el.type === "checkbox") ? el.checked : el.value;
      });
    });
    var active = document.activeElement;
    if (active && active.id && active.closest && active.closest(REGIONS)) {
      state.focus = active.id;
      if (typeof active.selectionStart === "number") { state.start = active.selectionStart; state.end = active.selectionEnd; }
    }
    return state;
  }
  function restore(state) {
    state.open.forEach(function (name) { var d = document.getElementById(name); if (d) d.open = true; });
    Object.keys(state.values).forEach(function (name) {
      var el = document.getElementById(name);
      if (!el) return;
      if (el.type === "radio" || el.type === "checkbox") el.checked = state.values[name];
      else el.value = state.values[name];
    });
    if (state.focus) {
      var el = document.getElementById(state.focus);
      if (el) {
        el.focus({ preventScroll: true });
        if (state.start !== null && el.setSelectionRange) {
          try { el.setSelectionRange(state.start, state.end); } catch (e) { /* not a text field */ }
        }
      }
    }
    if (state.bottom) toBottom();
    var now = count();
    if (now > state.count) {
      var n = now - state.count;
      var status = document.getElementById("thread-status");
      if (status) status.textContent = n === 1 ? say("1 nouveau message", "1 new message") : say(n + " nouveaux messages", n + " new messages");
    }
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "thread") kept = capture();
    // the reply box shows why a reply did not go (409 conflict, 422 invalid): swap it in
    if (target && target.id === "reply-box" && (event.detail.xhr.status === 409 || event.detail.xhr.status === 422)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "thread" && kept) { restore(kept); kept = null; }
    if (target && target.id === "reply-box") {
      var box = textarea();
      if (box && document.getElementById("reply-conflict")) {
        box.focus();
        box.setSelectionRange(box.value.length, box.value.length);
      }
    }
  });

  // forms marked data-reset empty themselves (and close their menu) once they succeeded
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!form || form.tagName !== "FORM" || !event.detail.successful) return;
    if (form.hasAttribute("data-reset")) {
      form.reset();
      var menu = form.closest("details");
      if (menu) menu.open = false;
    }
  });

  // a reply went out: forget the kept draft
  document.addEventListener("reply-sent", function () {
    try { sessionStorage.removeItem(DRAFT); } catch (e) { /* private mode */ }
    lastTyping = 0;
    report("viewing"); // no longer typing: colleagues see it at once
  });

  // -- the reply box ------------------------------------------------------------------
  (function restoreDraft() {
    var box = textarea();
    if (!box || box.value) return;
    try {
      var saved = sessionStorage.getItem(DRAFT);
      if (saved) box.value = saved;
    } catch (e) { /* private mode */ }
  })();
  if (location.hash === "#reply" && textarea()) textarea().focus();

  var caret = null; // where the cursor was when the text area lost focus
  document.addEventListener("focusout", function (event) {
    if (event.target === textarea()) caret = [event.target.selectionStart, event.target.selectionEnd];
  });

  function insert(text, start, end) {
    var box = textarea();
    if (!box) return;
    if (start === undefined) {
      var at = document.activeElement === box ? [box.selectionStart, box.selectionEnd] : (caret || [box.value.length, box.value.length]);
      start = at[0]; end = at[1];
    }
    var before = box.value.slice(0, start);
    var spacer = before && !/\s$/.test(before) ? " " : "";
    box.setRangeText(spacer + text, start, end, "end");
    box.focus();
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // clicking a suggestion or a canned reply inserts it at the cursor
  document.addEventListener("click", function (event) {
    var item = event.target.closest && event.target.closest("button.suggestion, button.canned-item");
    if (!item) return;
    event.preventDefault();
    insert(item.dataset.text || "");
  });

  // the language of the answer: canned replies in that language first, the others hidden
  document.addEventListener("change", function (event) {
    if (event.target.id !== "reply-lang") return;
    filterCanned(event.target.value);
  });
  function filterCanned(lang) {
    document.querySelectorAll("#canned .canned-list li").forEach(function (li) {
      li.classList.toggle("hidden-lang", !!lang && li.dataset.lang !== lang);
    });
  }
  var langSelect = document.getElementById("reply-lang");
  if (langSelect) filterCanned(langSelect.value);
  document.addEventListener("htmx:afterSettle", function () {
    var select = document.getElementById("reply-lang");
    if (select) filterCanned(select.value);
  });

  // /shortcodes: a menu of the matching canned replies while typing; Enter or Tab picks
  var menuItems = [];
  var active = -1;
  function shortcodes() {
    var out = [];
    document.querySelectorAll("#canned button[data-shortcode]").forEach(function (b) {
      out.push({ code: b.dataset.shortcode, name: b.dataset.name || "", text: b.dataset.text || "" });
    });
    return out;
  }
  function typedToken(box) {
    var upto = box.value.slice(0, box.selectionStart);
    var found = /(^|\s)\/([A-Za-z0-9_-]{0,32})$/.exec(upto);
    if (!found) return null;
    return { prefix: found[2].toLowerCase(), start: box.selectionStart - found[2].length - 1, end: box.selectionStart };
  }
  function menu() { return document.getElementById("shortcode-menu"); }
  function closeMenu() {
    var m = menu();
    if (m) { m.hidden = true; m.innerHTML = ""; }
    var box = textarea();
    if (box) { box.removeAttribute("aria-activedescendant"); box.setAttribute("aria-expanded", "false"); }
    menuItems = []; active = -1;
  }
  function showMenu(box) {
    var token = typedToken(box);
    var m = menu();
    if (!token || !m) { closeMenu(); return; }
    menuItems = shortcodes().filter(function (s) { return s.code.indexOf(token.prefix) === 0; }).slice(0, 8);
    if (!menuItems.length) { closeMenu(); return; }
    m.innerHTML = "";
    menuItems.forEach(function (s, i) {
      var li = document.createElement("li");
      li.id = "shortcode-" + i;
      li.setAttribute("role", "option");
      li.dataset.index = String(i);
      var code = document.createElement("code");
      code.textContent = "/" + s.code;
      var name = document.createElement("span");
      name.className = "muted";
      name.textContent = s.name;
      li.appendChild(code);
      li.appendChild(name);
      m.appendChild(li);
    });
    m.hidden = false;
    box.setAttribute("aria-expanded", "true");
    select(0);
  }
  function select(index) {
    active = (index + menuItems.length) % menuItems.length;
    var m = menu();
    m.querySelectorAll("li").forEach(function (li, i) { li.setAttribute("aria-selected", i === active ? "true" : "false"); });
    var box = textarea();
    if (box) box.setAttribute("aria-activedescendant", "shortcode-" + active);
  }
  function expand(code, start, end, fallback) {
    var box = textarea();
    var data = new URLSearchParams();
    data.set("text", "/" + code);
    fetch("/c/" + id + "/expand", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Content-Type": "application/x-www-form-urlencoded" },
      body: data.toString()
    }).then(function (answer) {
      return answer.ok ? answer.json() : Promise.reject(answer.status);
    }).then(function (result) {
      if (!box || !result || typeof result.text !== "string" || result.text === "/" + code) return;
      box.setRangeText(result.text, start, end, "end");
      box.focus();
      box.dispatchEvent(new Event("input", { bubbles: true }));
    }).catch(function () {
      if (box && fallback) { box.setRangeText(fallback, start, end, "end"); box.focus(); }
    });
  }
  function pick(index) {
    var box = textarea();
    var chosen = menuItems[index];
    var token = box && typedToken(box);
    closeMenu();
    if (!chosen || !token) return;
    expand(chosen.code, token.start, token.end, chosen.text);
  }
  document.addEventListener("input", function (event) {
    var box = textarea();
    if (event.target !== box || event.isTrusted === false) return;
    // a known /shortcode followed by a space or punctuation expands at once
    var upto = box.value.slice(0, box.selectionStart);
    var done = /(^|\s)\/([A-Za-z0-9_-]{1,32})([\s.,;:!?])$/.exec(upto);
    if (done) {
      var code = done[2].toLowerCase();
      var known = shortcodes().filter(function (s) { return s.code === code; })[0];
      if (known) {
        var end = box.selectionStart - done[3].length;
        closeMenu();
        expand(code, end - code.length - 1, end, known.text);
        return;
      }
    }
    showMenu(box);
  });
  document.addEventListener("mousedown", function (event) {
    var li = event.target.closest && event.target.closest("#shortcode-menu li");
    if (!li) return;
    event.preventDefault();
    pick(parseInt(li.dataset.index, 10));
  });

  // -- keys ---------------------------------------------------------------------------
  document.addEventListener("keydown", function (event) {
    var box = textarea();
    if (event.target === box) {
      var m = menu();
      if (m && !m.hidden && menuItems.length) {
        if (event.key === "ArrowDown") { event.preventDefault(); select(active + 1); return; }
        if (event.key === "ArrowUp") { event.preventDefault(); select(active - 1); return; }
        if (event.key === "Enter" || event.key === "Tab") { event.preventDefault(); pick(active); return; }
        if (event.key === "Escape") { event.preventDefault(); closeMenu(); return; }
      }
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        if (box.form) box.form.requestSubmit(document.getElementById("reply-send"));
        return;
      }
      if (event.key === "Escape") { box.blur(); return; }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (window.clameurTyping && window.clameurTyping(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    var button;
    switch (event.key) {
      case "r":
        if (box) { event.preventDefault(); box.focus(); }
        break;
      case "a":
        button = document.querySelector("#assign-me button");
        if (button) { event.preventDefault(); button.click(); }
        break;
      case "e":
        button = document.querySelector("#resolve button");
        if (button) { event.preventDefault(); button.click(); }
        break;
      case "n":
        var note = document.getElementById("note-text");
        if (note) { event.preventDefault(); note.focus(); }
        break;
      case "u":
        event.preventDefault();
        location.href = "/inbox";
        break;
    }
  });
})();
