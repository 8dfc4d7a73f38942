// Receiving (templates/receiving/order.html and arrivals.html). A scan adds one to its line's
// "receiving now" at once, matched in the page by the line's codes (for someone whose scans
// open Adjust, it puts the cursor in that count instead); only a code no line answers to
// asks the server, which says why not, beside the box, without touching a count. On the
// "whatever arrives" list a variant not listed yet asks for its row, and its units are
// shown filling the open orders' lines in turn, as the server will take them.
// Receive first asks for a confirmation naming every line over what it awaits.
// The counts are the form's own fields: without this file every scan is a form post.
(function () {
  "use strict";

  // Keys closer together than this are a scanner, not a person (as in app.js).
  var SCAN_GAP_MS = 40;

  var form, box, tbody, mode, scanOpens, dialog, storageKey;
  // Codes being looked up: normalised code -> units scanned meanwhile, added when it lands.
  var pending = {};
  var pendingCount = 0;
  var whenSettled = [];

  function norm(code) {
    var text = String(code || "");
    if (text.normalize) { text = text.normalize("NFKC"); }
    return text.trim().toLowerCase();
  }

  function whole(text) {
    var clean = String(text || "").trim().replace(/,/g, "");
    if (clean === "") { return 0; }
    return /^\d{1,10}$/.test(clean) ? parseInt(clean, 10) : null;
  }

  function rows() {
    return Array.prototype.slice.call(tbody.querySelectorAll("tr[data-receive-row]"));
  }

  function input(row) { return row.querySelector("[data-receiving]"); }

  function codesOf(row) {
    if (!row.receiveCodes) {
      var codes = [];
      try { codes = JSON.parse(row.getAttribute("data-codes") || "[]"); } catch (ignored) { codes = []; }
      row.receiveCodes = codes.map(norm);
    }
    return row.receiveCodes;
  }

  function rowsFor(code) {
    var wanted = norm(code);
    return rows().filter(function (row) { return codesOf(row).indexOf(wanted) >= 0; });
  }

  function goes(row) {
    return Array.prototype.slice.call(row.querySelectorAll("[data-goes]"));
  }

  // What a row still awaits: its line's outstanding, or the open lines' it fills.
  function awaited(row) {
    if (mode === "order") { return whole(row.getAttribute("data-outstanding")) || 0; }
    return goes(row).reduce(function (sum, li) {
      return sum + (whole(li.getAttribute("data-awaits")) || 0);
    }, 0);
  }

  function counted(row) { return whole(input(row).value); }

  function overOf(row) {
    var n = counted(row);
    if (n === null || (mode === "arrivals" && goes(row).length === 0)) { return 0; }
    return Math.max(n - awaited(row), 0);
  }

  function number(n) { return n.toLocaleString("en"); }

  // A row's over note and, on the arrivals list, how its units fill its lines (each up to
  // what it awaits, the rest on the last: as app/receiving/arrival_routes.py allocates).
  function refresh(row) {
    var over = overOf(row);
    var note = row.querySelector("[data-over-note]");
    if (note) {
      note.textContent = number(over) + " over";
      note.hidden = over === 0;
    }
    row.classList.toggle("over", over > 0);
    row.classList.toggle("counted", (counted(row) || 0) > 0);
    if (mode === "arrivals") {
      var left = counted(row) || 0;
      var items = goes(row);
      items.forEach(function (li, n) {
        var take = Math.min(left, whole(li.getAttribute("data-awaits")) || 0);
        left -= take;
        if (n === items.length - 1) { take += left; }
        li.querySelector("[data-take]").textContent = number(take);
        li.classList.toggle("idle", take === 0);
      });
    }
  }

  function totals(keepStorage) {
    var all = rows();
    var units = 0;
    var lines = 0;
    all.forEach(function (row) {
      var n = counted(row) || 0;
      units += n;
      if (n) { lines += 1; }
    });
    var total = form.querySelector("[data-receive-total]");
    if (total) {
      var what = mode === "order"
        ? " on " + lines + (lines === 1 ? " line" : " lines")
        : " of " + all.length + (all.length === 1 ? " item" : " items");
      total.textContent = number(units) + (units === 1 ? " unit" : " units") + what;
    }
    var empty = form.querySelector("[data-receive-empty]");
    if (empty) { empty.hidden = all.length > 0; }
    var table = form.querySelector("[data-receive-table]");
    if (table) { table.hidden = all.length === 0; }
    if (!keepStorage) { save(); }
  }

  function say(message, isError) {
    var status = form.querySelector("[data-scan-status]");
    var error = form.querySelector("[data-scan-error]");
    if (isError) {
      error.textContent = message;
      error.hidden = false;
      box.setAttribute("aria-invalid", "true");
      // Said aloud by the status line, shown once: beside the box.
      if (status) { status.textContent = message; status.classList.add("visually-hidden"); }
    } else {
      error.hidden = true;
      error.textContent = "";
      box.removeAttribute("aria-invalid");
      if (status) { status.textContent = message; status.classList.remove("visually-hidden"); }
    }
  }

  function label(row) { return row.getAttribute("data-label") || ""; }

  // A scan landed on `row`: one more, or (the user's choice) the cursor in its count.
  // `counting` is for units that must be added whatever the choice (a restored list).
  function take(row, units, counting) {
    if (scanOpens === "adjust" && !counting) {
      var field = input(row);
      field.focus();
      field.select();
      say(label(row) + ": type how many arrived, then Enter.", false);
      return;
    }
    var field2 = input(row);
    field2.value = String((counted(row) || 0) + units);
    refresh(row);
    row.classList.remove("just-counted");
    void row.offsetWidth;  // restart the highlight
    row.classList.add("just-counted");
    say(label(row) + ": " + field2.value + (mode === "order" ? " receiving now" : " arrived") +
      (overOf(row) ? " (" + number(overOf(row)) + " over)" : "") + ".", false);
  }

  // Of a product ordered to several places, the first line still short of what it awaits.
  function choose(found) {
    if (mode !== "order") { return found[0]; }
    return found.filter(function (row) { return (counted(row) || 0) < awaited(row); })[0] ||
      found[found.length - 1];
  }

  function settle() {
    pendingCount -= 1;
    if (pendingCount === 0) {
      var waiting = whenSettled;
      whenSettled = [];
      waiting.forEach(function (done) { done(); });
    }
  }

  // The one way in for a code, typed or scanned.
  function addCode(code, units, counting) {
    var text = String(code || "").trim();
    if (!text) { return; }
    var found = rowsFor(text);
    if (found.length) {
      take(choose(found), units, counting);
      totals();
      return;
    }
    var key = norm(text);
    if (pending.hasOwnProperty(key)) { pending[key] += units; return; }
    pending[key] = units;
    pendingCount += 1;
    var params = new URLSearchParams({ code: text });
    var url = form.getAttribute("data-code-url");
    if (mode === "arrivals") {
      params.set("location", form.getAttribute("data-location"));
      params.set("count", "0");
      url = form.getAttribute("data-line-url");
    }
    fetch(url + "?" + params.toString(), {
      credentials: "same-origin", headers: { "HX-Request": "true" }
    }).then(function (response) {
      return response.text().then(function (body) { return { response: response, body: body }; });
    }).then(function (answer) {
      var all = pending[key];
      delete pending[key];
      if (!answer.response.ok) {
        say(answer.response.status === 422 ? answer.body
          : "That code could not be looked up (error " + answer.response.status + "); scan it again.", true);
        return;
      }
      var row = null;
      if (mode === "order") {
        row = document.getElementById("line-" + answer.body.trim());
      } else {
        var template = document.createElement("template");
        template.innerHTML = answer.body.trim();
        var fresh = template.content.querySelector("tr[data-receive-row]");
        if (!fresh) { return; }
        // The variant may have landed meanwhile under another code (a GTIN scan, say).
        row = tbody.querySelector("tr[data-product='" + fresh.getAttribute("data-product") + "']");
        if (!row) {
          tbody.appendChild(fresh);
          row = fresh;
          // A variant new to the list arrived: its units count even when the scan only
          // puts the cursor in its count.
          if (scanOpens === "adjust") { input(row).value = String(all); refresh(row); }
        }
      }
      if (!row) { return; }
      take(row, all, counting);
      totals();
    }).catch(function () {
      delete pending[key];
      say("The server could not be reached; scan that item again.", true);
    }).then(settle);
  }

  // ------------------------------------------------------------------ keeping the counts

  // An accidental reload keeps what was counted on an order's page (the list of whatever
  // arrives is asked for again the same way, code by code).
  function save() {
    if (!storageKey) { return; }
    try {
      var kept = rows().map(function (row) {
        return { id: row.id, value: input(row).value, codes: codesOf(row) };
      }).filter(function (x) { return x.value.trim() !== ""; });
      if (kept.length) {
        window.sessionStorage.setItem(storageKey, JSON.stringify(kept));
      } else {
        window.sessionStorage.removeItem(storageKey);
      }
    } catch (ignored) { /* storage full or refused: the counts still work */ }
  }

  function restore() {
    var saved = null;
    try { saved = JSON.parse(window.sessionStorage.getItem(storageKey) || "null"); } catch (ignored) { saved = null; }
    if (!Array.isArray(saved)) { return; }
    // Counts the server drew (a refused Receive) are the ones to keep.
    if (rows().some(function (row) { return input(row).value.trim() !== ""; })) { return; }
    var restored = 0;
    saved.forEach(function (line) {
      if (!line || typeof line.value !== "string" || whole(line.value) === null) { return; }
      var row = typeof line.id === "string" ? document.getElementById(line.id) : null;
      if (row && row.matches("tr[data-receive-row]")) {
        input(row).value = line.value;
        refresh(row);
        restored += 1;
      } else if (mode === "arrivals" && Array.isArray(line.codes) && line.codes.length) {
        var units = whole(line.value);
        if (units) { addCode(line.codes[0], units, true); restored += 1; }
      }
    });
    if (restored) { say("The counts were kept from before the page reloaded.", false); }
  }

  function forget() {
    try { if (storageKey) { window.sessionStorage.removeItem(storageKey); } } catch (ignored) { /* none */ }
  }

  // ------------------------------------------------------------------ the confirmation

  function openConfirm(over) {
    var list = dialog.querySelector("[data-over-list]");
    while (list.firstChild) { list.removeChild(list.firstChild); }
    over.forEach(function (row) {
      var li = document.createElement("li");
      var name = document.createElement("strong");
      name.textContent = label(row);
      var extra = document.createElement("strong");
      extra.textContent = number(overOf(row)) + " over";
      li.appendChild(name);
      li.appendChild(document.createTextNode(": " + number(counted(row)) + " arriving, " +
        number(awaited(row)) + " awaited \u2014 "));
      li.appendChild(extra);
      list.appendChild(li);
    });
    showConfirm();
  }

  function showConfirm() {
    if (dialog.open) { dialog.close(); }
    dialog.showModal();
    // Not the confirming button: a scanner's Enter landing here must not take the extra.
    dialog.querySelector("[data-over-cancel]").focus();
  }

  // ------------------------------------------------------------------ wiring

  function start() {
    form = document.querySelector("form[data-receive]");
    if (!form) { return; }
    mode = form.getAttribute("data-receive");
    scanOpens = form.getAttribute("data-scan-opens");
    box = form.querySelector("[data-scan-box]");
    tbody = form.querySelector("[data-receive-rows]");
    dialog = form.querySelector("[data-over-dialog]");
    storageKey = "stockroom-receive-" + mode + "-" + (mode === "order"
      ? form.getAttribute("data-code-url") : form.getAttribute("data-location"));

    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (button && button.hasAttribute("data-confirm")) { forget(); return; }
      if (button && button.hasAttribute("data-receive-submit")) {
        if (pendingCount > 0) {
          // Scans still on their way belong in the receipt: send it once they have landed.
          event.preventDefault();
          say("Waiting for the last scans…", false);
          whenSettled.push(function () { form.requestSubmit(button); });
          return;
        }
        var over = rows().filter(function (row) { return overOf(row) > 0; });
        if (over.length) {
          event.preventDefault();
          openConfirm(over);
          return;
        }
        forget();
        return;
      }
      event.preventDefault();
      if (button && button.hasAttribute("data-remove")) {
        var row = button.closest("tr[data-receive-row]");
        row.parentNode.removeChild(row);
        totals();
        say("Removed " + label(row) + ".", false);
        box.focus();
        return;
      }
      // Add, or Enter in a count or the note: the scan box is where the next scan goes.
      var code = box.value;
      box.value = "";
      box.focus();
      if (code.trim()) { addCode(code, 1); }
    });

    form.addEventListener("input", function (event) {
      var row = event.target.closest && event.target.closest("tr[data-receive-row]");
      if (row && event.target.matches("[data-receiving]")) { refresh(row); totals(); }
    });

    // A scan while a count has focus (the user just typed one) is a scan, not more digits:
    // keys a few milliseconds apart ending in Enter are taken back out of the count and
    // looked up as a code.
    var burst = { input: null, keys: "", before: "", at: 0 };
    form.addEventListener("keydown", function (event) {
      var field = event.target;
      if (!field.matches || !field.matches("[data-receiving]") || event.ctrlKey ||
          event.metaKey || event.altKey || event.isComposing) { return; }
      var fast = burst.input === field && event.timeStamp - burst.at <= SCAN_GAP_MS;
      burst.at = event.timeStamp;
      if (event.key === "Enter") {
        var scanned = fast && burst.keys.length >= 3 ? burst.keys : "";
        burst.input = null;
        if (!scanned) { return; }  // a person's Enter: back to the scan box (the submit above)
        event.preventDefault();
        field.value = burst.before;
        refresh(field.closest("tr[data-receive-row]"));
        box.focus();
        addCode(scanned, 1);
        totals();
        return;
      }
      if (event.key.length !== 1) { burst.input = null; return; }
      if (!fast) { burst.input = field; burst.keys = ""; burst.before = field.value; }
      burst.keys += event.key;
    });

    // Away from any field (after a tap on the list, say), a scanner's keys still go to the
    // scan box instead of to the page's shortcuts.
    window.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
      if (document.querySelector("dialog[open]")) { return; }
      var target = event.target;
      var tag = (target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable) { return; }
      if (event.key.length !== 1 || event.key === "?" || event.key === " ") { return; }
      event.preventDefault();
      box.focus();
      box.value += event.key;
    }, true);

    if (dialog) {
      dialog.addEventListener("click", function (event) {
        if (event.target.closest("[data-over-cancel]")) {
          event.preventDefault();
          dialog.close();
        }
      });
      dialog.addEventListener("close", function () {
        var first = rows().filter(function (row) { return overOf(row) > 0; })[0];
        var field = first ? input(first) : box;
        field.focus();
        if (field.select) { field.select(); }
      });
      // The server refused the list as over: ask here, as a dialog over the page.
      if (dialog.hasAttribute("data-open")) { showConfirm(); }
    }

    rows().forEach(refresh);
    totals(true);
    restore();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
