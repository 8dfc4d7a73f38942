// Stockroom's few behaviours. No inline script anywhere: the CSP forbids it and htmx runs
// with eval disabled, so dialogs, shortcuts and auto-submit live here. It runs in the head,
// before the body exists: everything here listens on the document, and what needs the page
// waits for DOMContentLoaded.
(function () {
  "use strict";

  var opener = null;
  // How to find the opener again once htmx has replaced it (a swapped row, a reloaded
  // page): an element id, and inside it the control (a row's button or its More toggle).
  var openerKey = null;
  // Set when an action succeeded: focus goes to the opener's replacement after the swap.
  var refocusPending = false;

  function dialog() { return document.getElementById("action-dialog"); }

  function rememberOpener(element) {
    opener = element;
    openerKey = null;
    if (!element) { return; }
    if (element.id) { openerKey = { id: element.id, selector: null }; return; }
    var row = element.closest("tr[id]");
    if (row) {
      var after = row.nextElementSibling || row.previousElementSibling;
      openerKey = {
        id: row.id,
        selector: element.matches("summary") ? "details.menu > summary"
          : element.matches("[data-more]") ? ".row-actions > a[data-more]"
          : ".row-actions > a[data-dialog]",
        neighbour: after && after.id ? after.id : null
      };
    }
  }

  function find(id, selector) {
    var element = id ? document.getElementById(id) : null;
    return element && selector ? element.querySelector(selector) : element;
  }

  // Whether focus has nowhere useful to be: on the body, or on an element a swap removed,
  // or inside a dialog that has closed. Only then may a swap's aftermath move it.
  function focusLost() {
    var active = document.activeElement;
    if (!active || active === document.body || !active.isConnected) { return true; }
    var inDialog = active.closest ? active.closest("dialog") : null;
    return Boolean(inDialog && !inDialog.open);
  }

  // After a successful action: the opener's replacement, once htmx has put it in place. A
  // deleted row hands focus to its neighbour's button, a page without the control to main.
  // Focus has one owner: if the user has moved it since (a key, a click), it stays put.
  function refocus() {
    if (!refocusPending || !openerKey) { refocusPending = false; return; }
    var replacement = find(openerKey.id, openerKey.selector);
    if (replacement === opener) { return; }  // not swapped yet
    refocusPending = false;
    if (!focusLost()) { return; }
    var target = replacement || find(openerKey.neighbour, openerKey.selector) ||
      document.getElementById("main");
    if (target) { target.focus(); }
  }

  // A dialog's first field; in a confirmation with nothing to fill in whose action destroys
  // or hides something, its Cancel, so that a stray Enter (or a scanner's) does no harm.
  function focusFirst(root) {
    var target = root.querySelector("[aria-invalid=true]") ||
      root.querySelector("input:not([type=hidden]), select, textarea") ||
      root.querySelector("button.danger ~ [data-close-dialog]") ||
      root.querySelector("button");
    if (target) { target.focus(); }
  }

  function closeDialog() {
    var d = dialog();
    if (d && d.open) { d.close(); }
  }

  function openDialog(href, source, openerElement) {
    rememberOpener(openerElement);
    window.htmx.ajax("GET", href, { source: source, target: "#dialog-slot", swap: "innerHTML" });
  }

  // An overview row's "More": the page holds one menu per set of actions (a template whose
  // links name entry 0); opening it puts a copy under the row's button with the row's entry
  // in its links. Without JavaScript "More" is a plain link to the entry's page.
  var ROW_MENU_SLOT = /\/entries\/0\//;

  function rowMenuLinks(more) {
    var template = document.getElementById("row-menu-" + more.getAttribute("data-more"));
    var row = more.closest("tr[id^='entry-']");
    if (!template || !row) { return null; }
    var menu = template.content.firstElementChild.cloneNode(true);
    var slot = "/entries/" + row.id.slice("entry-".length) + "/";
    menu.querySelectorAll("a[href]").forEach(function (link) {
      link.setAttribute("href", link.getAttribute("href").replace(ROW_MENU_SLOT, slot));
    });
    return menu;
  }

  function closeRowMenus(except) {
    document.querySelectorAll(".row-menu").forEach(function (menu) {
      if (menu === except) { return; }
      var more = menu.previousElementSibling;
      if (more && more.hasAttribute("data-more")) { more.setAttribute("aria-expanded", "false"); }
      menu.remove();
    });
  }

  function toggleRowMenu(more) {
    var open = more.nextElementSibling;
    if (open && open.classList.contains("row-menu")) { closeRowMenus(); return; }
    closeRowMenus();
    var menu = rowMenuLinks(more);
    if (!menu) { window.location.assign(more.getAttribute("href")); return; }
    // A disclosure: focus stays on "More", and Tab goes on into the links just after it.
    more.after(menu);
    more.setAttribute("aria-expanded", "true");
  }

  document.addEventListener("click", function (event) {
    // Action links are plain links (they work without JavaScript); with it, they open
    // their form in the dialog. One href per link keeps the overview's rows small.
    var plain = event.button === 0 && !event.ctrlKey && !event.metaKey && !event.shiftKey &&
      !event.altKey && window.htmx;
    var more = event.target.closest("a[data-more]");
    if (more && plain) {
      event.preventDefault();
      toggleRowMenu(more);
      return;
    }
    var trigger = event.target.closest("a[data-dialog]");
    if (trigger && plain) {
      event.preventDefault();
      var menu = trigger.closest("details.menu");
      if (menu) { menu.open = false; }
      var rowMenu = trigger.closest(".row-menu");
      var rowMore = rowMenu ? rowMenu.previousElementSibling : null;
      // The menu goes before the request: its "More" stands in as the request's source.
      if (rowMenu) { closeRowMenus(); }
      openDialog(trigger.getAttribute("href"), rowMore || trigger,
        menu ? menu.querySelector("summary") : rowMore || trigger);
    }
    if (event.target.closest("[data-close-dialog]")) { closeDialog(); }
    var help = event.target.closest("[data-close-help]");
    if (help && help.closest("dialog")) { help.closest("dialog").close(); }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "dialog-slot") {
      var d = dialog();
      if (d && !d.open) {
        // The browser hands focus back to whatever had it before the dialog opened; the
        // opener is better (a row key opens the dialog from the row, not its button). Not
        // when the user has since put focus somewhere else: the close event comes late.
        var before = document.activeElement;
        d.addEventListener("close", function () {
          if (refocusPending) { return; }  // the swap that follows decides
          var untouched = focusLost() || document.activeElement === before;
          if (opener && document.body.contains(opener) && untouched) { opener.focus(); }
        }, { once: true });
        d.showModal();
        focusFirst(d);
      }
    } else if (target && target.id === "dialog-body") {
      focusFirst(target);
    }
  });

  // An action succeeded: close the dialog; its row (or page) is swapped next.
  document.addEventListener("close-dialog", function () {
    refocusPending = Boolean(openerKey);
    closeDialog();
  });
  document.addEventListener("htmx:afterSettle", refocus);
  // The user acting again (a key, a pointer) takes focus over: a refocus still waiting for
  // a late swap is dropped, so it can never pull focus back from where they went.
  function userTookOver(event) {
    if (event.isTrusted && refocusPending && !(dialog() && dialog().open)) {
      refocusPending = false;
    }
  }
  document.addEventListener("keydown", userTookOver, true);
  document.addEventListener("pointerdown", userTookOver, true);

  // Esc closes an open row menu (or, on a phone, the folded navigation or filters) and hands
  // focus back to its toggle. An open dialog closes first, by itself.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    if (document.querySelector("dialog[open]")) { return; }
    var rowMenu = document.querySelector(".row-menu");
    if (rowMenu) {
      var owner = rowMenu.previousElementSibling;
      closeRowMenus();
      if (owner) { owner.focus(); }
      event.preventDefault();
      return;
    }
    var open = Array.prototype.filter.call(
      document.querySelectorAll("details.menu[open], details.fold[open]"),
      function (menu) {
        var toggle = menu.querySelector("summary");
        // A fold's toggle is hidden from tablet width up, where its content always shows.
        return toggle && toggle.getClientRects().length > 0;
      });
    open.forEach(function (menu) {
      var inside = menu.contains(document.activeElement);
      menu.open = false;
      if (inside || document.activeElement === document.body) {
        menu.querySelector("summary").focus();
      }
      event.preventDefault();
    });
  });

  // "/" jumps to search, as in most admin tools; not while typing in a field.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.target.isContentEditable) { return; }
    var search = document.querySelector("[data-search]");
    if (search) { event.preventDefault(); search.focus(); search.select(); }
  });

  // A scanner types a code fast and sends Enter. Enter in the overview's search box asks the
  // scan endpoint what the code names (an entry opens, a location becomes the filter, several
  // entries are listed) and selects the text at once, so the next scan replaces it instead of
  // being appended to it.
  var lastScan = null;

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.isComposing || !window.htmx) { return; }
    var box = event.target;
    if (!box.matches || !box.matches("#filters [data-search]")) { return; }
    var code = box.value.trim();
    event.preventDefault();  // neither the form's submit nor the search event
    box.select();
    if (!code) { return; }
    var form = box.form;
    lastScan = box.value;
    // The form is the source, so htmx sends its fields (the store, location and other
    // filters are the scan's scope) and its hx-sync drops an older search still on the way.
    window.htmx.ajax("GET", form.getAttribute("data-scan-url"),
      { source: form, target: "#results", swap: "outerHTML" });
  });

  // A scan that found one entry, for a user who chose that a scan opens Adjust: the answer
  // keeps the overview and names the form (HX-Trigger open-dialog), which opens in the
  // dialog as from the row's link. Closing it hands focus back to the search box, ready
  // for the next scan. Only a path of this site is opened.
  document.addEventListener("open-dialog", function (event) {
    var detail = event.detail || {};
    var url = typeof detail.url === "string" ? detail.url : detail.value;
    if (typeof url !== "string" || url.charAt(0) !== "/" || url.charAt(1) === "/") { return; }
    if (document.querySelector("dialog[open]")) { return; }
    var box = document.querySelector("#filters [data-search]");
    openDialog(url, document.getElementById("dialog-slot"), box);
  });

  // The search box's debounced request would follow the scan 300 ms later with the same
  // text and undo what the scan showed (a location filter, say): it is not sent.
  document.addEventListener("htmx:confirm", function (event) {
    var form = event.target;
    if (lastScan === null || !form.matches || !form.matches("#filters")) { return; }
    var trigger = event.detail.triggeringEvent;
    var box = form.querySelector("[data-search]");
    if (trigger && (trigger.type === "input" || trigger.type === "search") && box &&
        box.value === lastScan) {
      event.preventDefault();
    }
  });

  // Away from a text field (an entry's page, a focused button after an action) a scan still
  // counts: characters arriving a few milliseconds apart and then Enter are a scanner, not a
  // person, and go to the same scan endpoint as a page of their own.
  var scanned = "";
  var scannedAt = 0;
  var SCAN_GAP_MS = 40;

  function typingInAField(target) {
    var tag = (target.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typingInAField(event.target) ||
        document.querySelector("dialog[open]")) {
      scanned = "";
      return;
    }
    // When the key was pressed, not when the handler runs: a page still busy loading runs
    // the handlers late and together, and the gaps between them say nothing of the keys.
    var now = event.timeStamp;
    if (now - scannedAt > SCAN_GAP_MS) { scanned = ""; }
    scannedAt = now;
    if (event.key === "Enter" && scanned.length >= 3) {
      event.preventDefault();  // not a click on the focused button
      var params = new URLSearchParams({ q: scanned });
      var store = new URLSearchParams(window.location.search).get("store");
      if (store) { params.set("store", store); }
      var form = document.querySelector("[data-scan-url]");
      var url = form ? form.getAttribute("data-scan-url") : "/inventory/scan";
      scanned = "";
      window.location.assign(url + "?" + params.toString());
    } else if (event.key.length === 1 && event.key !== " ") {
      scanned += event.key;
    } else {
      scanned = "";
    }
  }, true);

  // The row cursor. In a list of entries (a table marked data-rows: the overview, the
  // reports, a product's locations) ↓/↑ or j/k move a highlighted current row, which takes
  // focus and scrolls into view; Enter on it opens its first action, and single keys open
  // the others. A key does only what the row's own links offer, so nothing appears that the
  // user may not do. Never while typing in a field, with Ctrl, Alt or Meta held, or under an
  // open dialog.
  var ROWS = "table[data-rows] > tbody > tr:not(.group-head)";
  var ROW_KEYS = { a: "adjust", s: "set", c: "count", t: "transfer", r: "reserve" };
  var cursorRow = null;
  var cursorId = null;
  // A letter waits one scanner gap before it acts: a scanner's next character (or its
  // Enter) arrives sooner and cancels it, so a scanned code never opens a dialog.
  var pendingKey = null;

  function cursorRows() {
    return Array.prototype.slice.call(document.querySelectorAll(ROWS));
  }

  function currentRow() {
    if (cursorRow && cursorRow.isConnected) { return cursorRow; }
    var again = cursorId ? document.getElementById(cursorId) : null;
    return again && again.matches(ROWS) ? again : null;
  }

  function setCursor(row, focus) {
    if (cursorRow && cursorRow !== row) {
      cursorRow.classList.remove("is-current");
      cursorRow.removeAttribute("aria-current");
    }
    cursorRow = row;
    cursorId = row && row.id ? row.id : null;
    if (!row) { return; }
    row.classList.add("is-current");
    row.setAttribute("aria-current", "true");
    if (focus) {
      if (!row.hasAttribute("tabindex")) { row.setAttribute("tabindex", "-1"); }
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function moveCursor(step) {
    var rows = cursorRows();
    if (!rows.length) { return false; }
    var here = rows.indexOf(currentRow());
    var next = here < 0 ? 0 : Math.min(Math.max(here + step, 0), rows.length - 1);
    setCursor(rows[next], true);
    return true;
  }

  // A row's first action (its button), or its page when it offers no action.
  function primaryAction(row) {
    return row.querySelector(".row-actions > a[data-dialog]") ||
      row.querySelector("td a[href]:not([data-dialog])");
  }

  function rowKey(key) {
    var row = currentRow();
    if (!row) { return; }
    if (key === "o") {
      var page = row.querySelector("td a[href]:not([data-dialog]):not([data-more])");
      if (page) { page.click(); }
      return;
    }
    var name = ROW_KEYS[key];
    // The row's own button, or the action from its "More" menu: only what the row offers.
    var link = row.querySelector("a[data-dialog][data-action=" + name + "]");
    var primary = row.querySelector(".row-actions > a[data-dialog]");
    if (!link && primary && new RegExp("/" + name + "(\\?|$)").test(primary.getAttribute("href"))) {
      link = primary;
    }
    if (link) { link.click(); return; }
    var more = row.querySelector("a[data-more]");
    var menu = more ? rowMenuLinks(more) : null;
    var item = menu ? menu.querySelector("a[data-action=" + name + "]") : null;
    if (item) { openDialog(item.getAttribute("href"), more, more); }
  }

  var helpOpener = null;

  var helpLoading = false;

  function showHelp(help) {
    if (help.open || document.querySelector("dialog[open]")) { return; }
    helpOpener = document.activeElement;
    help.showModal();
  }

  // The shortcuts' dialog is not in the page: the first "?" fetches it (data-keys-help on
  // the shell names where) and keeps it for the next. Only the dialog of that answer is
  // taken, so a sign-in page (an expired session) puts nothing in.
  function openHelp() {
    var help = document.getElementById("keys-help");
    if (help) { showHelp(help); return; }
    var shell = document.querySelector("[data-keys-help]");
    if (!shell || helpLoading || !window.fetch) { return; }
    helpLoading = true;
    var opener = document.activeElement;
    window.fetch(shell.getAttribute("data-keys-help"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        var parsed = document.createElement("template");
        parsed.innerHTML = html;
        var loaded = parsed.content.querySelector("dialog#keys-help");
        if (!loaded || document.getElementById("keys-help")) { return; }
        shell.appendChild(loaded);
        // Focus goes back where it was when "?" was pressed, unless it has moved since.
        if (document.activeElement === opener) { showHelp(loaded); }
      })
      .catch(function () {})
      .then(function () { helpLoading = false; });
  }

  document.addEventListener("close", function (event) {
    if (event.target.id !== "keys-help") { return; }
    // The close event comes a task after the dialog closed: a key pressed in between (a "/"
    // right after Esc) has already put focus where the user wants it.
    if (helpOpener && helpOpener !== document.body && helpOpener.isConnected && focusLost()) {
      helpOpener.focus();
    }
    helpOpener = null;
  }, true);

  function typingIn(target) {
    if (target.isContentEditable) { return true; }
    var tag = (target.tagName || "").toLowerCase();
    if (tag === "textarea" || tag === "select") { return true; }
    return tag === "input" && !/^(checkbox|radio|button|submit|reset)$/.test(target.type);
  }

  document.addEventListener("keydown", function (event) {
    if (pendingKey) { clearTimeout(pendingKey); pendingKey = null; }
    if (event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey ||
        event.altKey || document.querySelector("dialog[open]")) { return; }
    var target = event.target;
    var key = event.key;
    // ↓ in the search box goes on to the results.
    if (key === "ArrowDown" && !event.shiftKey && target.matches && target.matches("[data-search]")) {
      if (moveCursor(1)) { event.preventDefault(); }
      return;
    }
    if (typingIn(target)) { return; }
    if ((key === "ArrowDown" || key === "ArrowUp") && !event.shiftKey) {
      if (moveCursor(key === "ArrowDown" ? 1 : -1)) { event.preventDefault(); }
      return;
    }
    if (key === "Enter" && !event.shiftKey && target.matches && target.matches(ROWS)) {
      var primary = primaryAction(target);
      if (primary) { event.preventDefault(); primary.click(); }
      return;
    }
    var act = null;
    if (key === "?") {
      act = openHelp;  // Shift is how "?" is typed on most keyboards
    } else if (!event.shiftKey && (key === "j" || key === "k")) {
      act = function () { moveCursor(key === "j" ? 1 : -1); };
    } else if (!event.shiftKey && (key === "o" || ROW_KEYS.hasOwnProperty(key))) {
      act = function () { rowKey(key); };
    }
    if (!act) { return; }
    event.preventDefault();
    if (event.repeat) { act(); return; }  // a held key: a person, not a scanner
    pendingKey = setTimeout(function () {
      pendingKey = null;
      if (!document.querySelector("dialog[open]")) { act(); }
    }, SCAN_GAP_MS);
  });

  // Focus or a click in a row makes it the current one: after an action, focus comes back
  // to the updated row's button, and the cursor with it.
  document.addEventListener("focusin", function (event) {
    var row = event.target.closest ? event.target.closest(ROWS) : null;
    if (row) { setCursor(row, false); }
  });
  document.addEventListener("click", function (event) {
    var row = event.target.closest ? event.target.closest(ROWS) : null;
    if (row) { setCursor(row, false); }
  });

  // A swapped row keeps the cursor. It takes focus only when focus was lost and no action's
  // refocus is still waiting to place it: one owner, whatever order the swaps settle in.
  document.addEventListener("htmx:afterSettle", function () {
    if (!cursorRow || cursorRow.isConnected) { return; }
    var again = currentRow();
    cursorRow = null;
    if (again) { setCursor(again, focusLost() && !refocusPending); } else { cursorId = null; }
  });

  // A signed number field (an adjustment's change): a phone's digits keypad has no minus
  // key, so the field asks for that keypad only once its − / + / ± buttons work. The server
  // still reads and judges whatever the field holds.
  function armSteppers(root) {
    if (!root || !root.querySelectorAll) { return; }
    root.querySelectorAll("[data-stepper]").forEach(function (stepper) {
      stepper.querySelectorAll("button[hidden]").forEach(function (b) { b.hidden = false; });
      var input = stepper.querySelector("input");
      if (input) { input.setAttribute("inputmode", "numeric"); }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-stepper] button");
    if (!button) { return; }
    var input = document.getElementById(button.getAttribute("aria-controls"));
    if (!input) { return; }
    var text = input.value.trim().replace(/,/g, "").replace("\u2212", "-");
    if (button.hasAttribute("data-negate")) {
      input.value = text.charAt(0) === "-" ? text.slice(1) : "-" + text.replace(/^\+/, "");
    } else {
      var number = /^[+-]?\d+$/.test(text) ? parseInt(text, 10) : 0;
      var next = number + parseInt(button.getAttribute("data-step"), 10);
      input.value = next > 0 ? "+" + next : String(next);
    }
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
  });

  document.addEventListener("htmx:load", function (event) { armSteppers(event.target); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { armSteppers(document); });
  } else {
    armSteppers(document);
  }

  // Selects marked data-autosubmit submit their form on change (the store switcher).
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) { event.target.form.requestSubmit(); }
  });

  // The URL holds the overview's state. After htmx swaps in other results (a sort link, a
  // chip, a page) or restores an earlier page from history, set the filter form from it, so
  // the form never contradicts the rows it shows and the next search keeps the rest.
  function syncFilters(skipFocused) {
    var form = document.getElementById("filters");
    if (!form) { return; }
    var params = new URLSearchParams(window.location.search);
    Array.prototype.forEach.call(form.elements, function (control) {
      if (!control.name || (skipFocused && control === document.activeElement)) { return; }
      var value = params.get(control.name) || "";
      if (control.tagName === "SELECT") {
        var known = Array.prototype.some.call(control.options, function (o) { return o.value === value; });
        control.value = known ? value : "";
      } else if (control.tagName === "INPUT" && control.type !== "submit") {
        control.value = value;
      }
    });
    // The top bar's store switcher shows the store the results are filtered to.
    var switcher = document.getElementById("store-switch");
    if (switcher) { switcher.value = params.get("store") || ""; }
  }

  // A location belongs to one store: picking another store clears it before the request
  // goes out (capture phase runs ahead of htmx's listener on the form).
  document.addEventListener("change", function (event) {
    if (event.target.id === "f-store") {
      var location = document.getElementById("f-location");
      if (location) { location.value = ""; }
    }
  }, true);

  // The search box already asks as it is typed in (input, search, submit). Its change event,
  // fired when it loses focus, would send the whole form once more: clicking a chip right
  // after typing then raced that request, and the older form state could win.
  document.addEventListener("change", function (event) {
    if (event.target.matches("#filters [data-search]")) { event.stopPropagation(); }
  }, true);

  // The overview's sort, page, filter-chip and grouping links are plain links (they work
  // without JavaScript). With htmx a plain click loads the results in their place: the
  // link is the request's source, so the results section's hx-target, hx-swap and
  // hx-push-url apply, as they did to an hx-get on each link; one listener instead of an
  // hx-get copy of every href. A click with a modifier key still opens a tab or window.
  var RESULTS_LINKS = "#results thead a[href], #results .pager a[href], " +
    "#results .chips a[href], #results a.group-toggle[href]";

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(RESULTS_LINKS) : null;
    if (!link || event.defaultPrevented || event.button !== 0 || event.ctrlKey ||
        event.metaKey || event.shiftKey || event.altKey || !window.htmx) { return; }
    event.preventDefault();
    window.htmx.ajax("GET", link.getAttribute("href"), { source: link });
  });

  document.addEventListener("htmx:pushedIntoHistory", function () { syncFilters(true); });
  document.addEventListener("htmx:historyRestore", function () { syncFilters(false); });

  // Bulk selection on the overview. Without JavaScript the row checkboxes simply belong to
  // the bulk bar's form; with it, the bar shows only while something is selected, the
  // header box selects the page, and the chosen action opens in the dialog.
  var SELECT_ROW = "input[type=checkbox][name=entry][form=bulk-select]";

  function bulkBar() { return document.querySelector("[data-bulk-bar]"); }

  function rowBoxes() {
    return Array.prototype.slice.call(document.querySelectorAll(SELECT_ROW));
  }

  function syncBulk() {
    var bar = bulkBar();
    if (!bar) { return; }
    var boxes = rowBoxes();
    var ticked = boxes.filter(function (box) { return box.checked; }).length;
    var all = bar.querySelector("[data-select-all]");
    var everything = all && all.checked;
    var page = document.querySelector("[data-select-page]");
    if (page) {
      page.hidden = boxes.length === 0;
      page.checked = boxes.length > 0 && ticked === boxes.length;
      page.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    var count = bar.querySelector("[data-bulk-count]");
    if (count) {
      count.textContent = everything ? "Every entry matching these filters is selected."
        : ticked === 1 ? "1 entry selected" : ticked + " entries selected";
    }
    bar.classList.add("js-bulk");
    bar.classList.toggle("is-active", ticked > 0 || Boolean(everything));
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-page]")) {
      rowBoxes().forEach(function (box) { box.checked = target.checked; });
    }
    if (target.matches("[data-select-all]") && target.checked) {
      // "All matching" acts on the filter: ticks on this page would only confuse it.
      rowBoxes().forEach(function (box) { box.checked = true; });
    }
    if (target.matches(SELECT_ROW) && !target.checked) {
      var all = document.querySelector("[data-select-all]");
      if (all) { all.checked = false; }
    }
    if (target.matches(SELECT_ROW + ", [data-select-page], [data-select-all]")) { syncBulk(); }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("[data-bulk-bar]") || !window.htmx) { return; }
    var button = event.submitter;
    var action = (button && button.getAttribute("formaction")) || form.getAttribute("action");
    var params = new URLSearchParams();
    // FormData counts the row checkboxes too: they join the form by their form attribute.
    new FormData(form).forEach(function (value, name) { params.append(name, value); });
    event.preventDefault();
    rememberOpener(button || null);
    window.htmx.ajax("GET", action + "?" + params.toString(),
      { source: button || form, target: "#dialog-slot", swap: "innerHTML" });
  });

  // Choosing reorder lines. Without JavaScript the boxes simply belong to the order form;
  // with it, the bar counts them and a supplier's heading chooses its lines on the page.
  var ORDER_LINE = "input[type=checkbox][data-line][form=reorder-order]";

  function syncOrder() {
    var bar = document.querySelector("[data-order-bar]");
    if (!bar) { return; }
    var lines = Array.prototype.slice.call(document.querySelectorAll(ORDER_LINE));
    var chosen = lines.filter(function (box) { return box.checked; }).length;
    var count = bar.querySelector("[data-order-count]");
    if (count) {
      count.textContent = chosen === 0
        ? "Choose lines to order: each supplier gets one draft per location."
        : (chosen === 1 ? "1 line chosen" : chosen + " lines chosen") +
          ": one draft per supplier and location.";
    }
    Array.prototype.forEach.call(document.querySelectorAll("[data-choose-group]"),
      function (head) {
        var group = head.closest("tbody");
        var mine = lines.filter(function (box) { return box.closest("tbody") === group; });
        var ticked = mine.filter(function (box) { return box.checked; }).length;
        head.hidden = mine.length === 0;
        head.checked = mine.length > 0 && ticked === mine.length;
        head.indeterminate = ticked > 0 && ticked < mine.length;
      });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-choose-group]")) {
      var group = target.closest("tbody");
      Array.prototype.forEach.call(group.querySelectorAll(ORDER_LINE), function (box) {
        box.checked = target.checked;
      });
    }
    if (target.matches(ORDER_LINE + ", [data-choose-group]")) { syncOrder(); }
  });
  document.addEventListener("htmx:afterSettle", syncOrder);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", syncOrder);
  } else {
    syncOrder();
  }

  // A form page that came back with errors (a new tab, a page of its own) puts focus on the
  // first field to fix, as the dialog does.
  function focusPageError() {
    var field = document.querySelector("main form [aria-invalid=true]");
    if (field && !document.querySelector("dialog[open]")) { field.focus(); }
  }

  document.addEventListener("htmx:afterSettle", syncBulk);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", syncBulk);
    document.addEventListener("DOMContentLoaded", focusPageError);
  } else {
    syncBulk();
    focusPageError();
  }

  // The message area sits above the content: a message appearing or going pushes what is
  // below it. The browser keeps a scrolled page steady by itself (scroll anchoring), but not
  // at the very top, where the row the user just changed would slide down. So: note where
  // the changed row (else the content after the messages) stands before the swap, and
  // scroll by however far it moved. Where the browser already held it, it moved 0.
  var steady = null;
  function steadyAnchor() {
    var row = openerKey && openerKey.id ? document.getElementById(openerKey.id) : null;
    var flashes = document.getElementById("flashes");
    return row || (flashes ? flashes.nextElementSibling : null);
  }
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "flashes") { return; }
    var element = steadyAnchor();
    steady = element ? { element: element, top: element.getBoundingClientRect().top } : null;
  });
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "flashes" || !steady) { return; }
    var held = steady;
    steady = null;
    var element = held.element.isConnected ? held.element : steadyAnchor();
    if (!element) { return; }
    var moved = element.getBoundingClientRect().top - held.top;
    if (Math.abs(moved) >= 1) { window.scrollBy(0, moved); }
  });

  // The overview grouped by item: "Show" puts the item's entries after its row, "Hide"
  // takes them away. Without JavaScript the link opens the overview filtered to the item.
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-expand]") : null;
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    event.preventDefault();
    var shown = document.getElementById(link.getAttribute("aria-controls"));
    if (shown) {
      shown.remove();
      link.setAttribute("aria-expanded", "false");
      link.textContent = link.getAttribute("data-show-label") || link.textContent;
      return;
    }
    if (!link.hasAttribute("data-show-label")) {
      link.setAttribute("data-show-label", link.textContent);
    }
    var group = link.closest("tbody");
    htmx.ajax("GET", link.getAttribute("data-expand"), { target: group, swap: "afterend" })
      .then(function () {
        if (document.getElementById(link.getAttribute("aria-controls"))) {
          link.setAttribute("aria-expanded", "true");
          link.textContent = "Hide";
        }
      });
  });

  // A request the server could not finish (500, or 503 while the database is away) is
  // swapped only when the answer is the app's own error, which names where it goes
  // (HX-Retarget: the open dialog or the message area). Any other failure, such as a
  // proxy's page, stays out of the page.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status >= 500 && xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = true;
    }
  });

  // Close an open row menu when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) { menu.open = false; }
    });
    var rowMenu = document.querySelector(".row-menu");
    if (rowMenu && !rowMenu.contains(event.target) &&
        !(event.target.closest && event.target.closest("a[data-more]"))) {
      closeRowMenus();
    }
  });
}());
