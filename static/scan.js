// Counting a location (templates/inventory/count.html): each scan adds one to its line, or
// asks the server for the line's row when the item is not in the list yet. The list is the
// form's own fields, so "Apply counts" is a plain form post, and without this file every
// Add and Remove is one too. A scanner types fast and sends Enter; the box is emptied at
// once, so the next scan starts clean even while an earlier one is still being looked up.
// Where the browser has BarcodeDetector, the camera feeds the same path.
(function () {
  "use strict";

  var form, box, quantityBox, tbody, lineUrl, locationId, storageKey;
  // Codes being looked up: normalised code -> units scanned meanwhile, added when it lands.
  var pending = {};
  var pendingCount = 0;
  var whenSettled = [];

  function norm(code) {
    var text = String(code || "");
    if (text.normalize) { text = text.normalize("NFKC"); }
    return text.trim().toLowerCase();
  }

  function rows() {
    return Array.prototype.slice.call(tbody.querySelectorAll("tr[data-count-line]"));
  }

  function lineFor(code) {
    var wanted = norm(code);
    return rows().filter(function (row) {
      return norm(row.getAttribute("data-sku")) === wanted ||
        (row.getAttribute("data-gtin") && norm(row.getAttribute("data-gtin")) === wanted);
    })[0] || null;
  }

  function whole(text) {
    var clean = String(text || "").trim().replace(/,/g, "");
    return /^\d{1,10}$/.test(clean) ? parseInt(clean, 10) : null;
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

  function describe(row) {
    var title = row.querySelector(".title");
    var input = row.querySelector("[data-counted]");
    return (title ? title.textContent.trim() : "") + ": " + (input ? input.value : "") + " counted";
  }

  // A row's difference, from its on hand and what is typed in its counted box.
  function refresh(row) {
    var expected = whole(row.querySelector("[data-expected]").getAttribute("data-expected"));
    var counted = whole(row.querySelector("[data-counted]").value);
    var cell = row.querySelector("[data-diff]");
    if (expected === null || counted === null) {
      cell.textContent = "—";
      cell.classList.remove("differs");
      return;
    }
    var diff = counted - expected;
    cell.textContent = diff > 0 ? "+" + diff.toLocaleString("en") :
      diff < 0 ? "\u2212" + (-diff).toLocaleString("en") : "0";
    cell.classList.toggle("differs", diff !== 0);
  }

  function changed(keepStorage) {
    var count = rows().length;
    var total = form.querySelector("[data-count-total]");
    if (total) { total.textContent = count + (count === 1 ? " item" : " items") + " in the list"; }
    var empty = form.parentNode.querySelector("[data-count-empty]");
    if (empty) { empty.hidden = count > 0; }
    var table = form.querySelector("[data-count-table]");
    if (table) { table.hidden = count === 0; }
    if (!keepStorage) { save(); }
  }

  function bump(row, units) {
    var input = row.querySelector("[data-counted]");
    input.value = String((whole(input.value) || 0) + units);
    refresh(row);
    row.classList.remove("just-counted");
    void row.offsetWidth;  // restart the highlight
    row.classList.add("just-counted");
  }

  function settle() {
    pendingCount -= 1;
    if (pendingCount === 0) {
      var waiting = whenSettled;
      whenSettled = [];
      waiting.forEach(function (done) { done(); });
    }
  }

  // The one way in for a code: typed, scanned or read by the camera.
  function addCode(code, units, expected) {
    var text = String(code || "").trim();
    if (!text) { return; }
    var row = lineFor(text);
    if (row) {
      bump(row, units);
      changed();
      say(describe(row), false);
      return;
    }
    var key = norm(text);
    if (pending.hasOwnProperty(key)) { pending[key] += units; return; }
    pending[key] = units;
    pendingCount += 1;
    var params = new URLSearchParams({ location: locationId, code: text, quantity: String(units) });
    if (expected !== undefined && expected !== null) { params.set("expected", String(expected)); }
    fetch(lineUrl + "?" + params.toString(), {
      credentials: "same-origin", headers: { "HX-Request": "true" }
    }).then(function (response) {
      return response.text().then(function (body) { return { response: response, body: body }; });
    }).then(function (answer) {
      var extra = pending[key] - units;
      delete pending[key];
      if (!answer.response.ok) {
        say(answer.response.status === 422 ? answer.body
          : "That code could not be looked up (error " + answer.response.status + "); try again.", true);
        return;
      }
      var template = document.createElement("template");
      template.innerHTML = answer.body.trim();
      var fresh = template.content.querySelector("tr[data-count-line]");
      if (!fresh) { return; }
      // Its SKU may have landed meanwhile under another code (a GTIN scan, say).
      var already = lineFor(fresh.getAttribute("data-sku"));
      if (already) {
        bump(already, units + extra);
        fresh = already;
      } else {
        tbody.appendChild(fresh);
        if (extra) { bump(fresh, extra); }
        fresh.classList.add("just-counted");
      }
      changed();
      say(describe(fresh), false);
    }).catch(function () {
      delete pending[key];
      say("The server could not be reached; scan that item again.", true);
    }).then(settle);
  }

  // ------------------------------------------------------------------ keeping the list

  function save() {
    if (!storageKey) { return; }
    try {
      var lines = rows().map(function (row) {
        return {
          code: row.getAttribute("data-sku"),
          counted: row.querySelector("[data-counted]").value,
          expected: row.querySelector("[data-expected]").getAttribute("data-expected")
        };
      });
      if (lines.length) {
        window.sessionStorage.setItem(storageKey, JSON.stringify(lines));
      } else {
        window.sessionStorage.removeItem(storageKey);
      }
    } catch (ignored) { /* storage full or refused: the list still works */ }
  }

  // An accidental reload keeps the list: its lines are asked for again, each with what was
  // counted and the on hand it was scanned against.
  function restore() {
    var saved = null;
    try { saved = JSON.parse(window.sessionStorage.getItem(storageKey) || "null"); } catch (ignored) { saved = null; }
    if (!Array.isArray(saved) || rows().length) { return; }
    saved.forEach(function (line) {
      var units = whole(line && line.counted);
      if (line && typeof line.code === "string" && units !== null) {
        addCode(line.code, units, whole(line.expected));
      }
    });
    if (saved.length) { say("The list was kept from before the page reloaded.", false); }
  }

  // ------------------------------------------------------------------ the camera

  // Keys closer together than this are a scanner, not a person (as in app.js).
  var SCAN_GAP_MS = 40;
  var FORMATS = ["code_128", "ean_13", "ean_8", "upc_a", "upc_e", "code_39", "qr_code", "data_matrix"];
  var camera = { stream: null, timer: null, last: "", lastAt: 0 };

  function cameraSay(message) {
    var status = document.querySelector("[data-camera-status]");
    if (status) { status.textContent = message; }
  }

  function stopCamera() {
    if (camera.timer) { clearTimeout(camera.timer); camera.timer = null; }
    if (camera.stream) {
      camera.stream.getTracks().forEach(function (track) { track.stop(); });
      camera.stream = null;
    }
  }

  function openCamera() {
    var dialog = document.getElementById("camera-dialog");
    var video = document.getElementById("camera-video");
    if (!dialog || !video) { return; }
    dialog.showModal();
    cameraSay("Opening the camera…");
    var formats = Promise.resolve(FORMATS);
    if (typeof window.BarcodeDetector.getSupportedFormats === "function") {
      formats = window.BarcodeDetector.getSupportedFormats().then(function (supported) {
        var both = FORMATS.filter(function (f) { return supported.indexOf(f) >= 0; });
        return both.length ? both : supported;
      });
    }
    formats.then(function (wanted) {
      var detector = new window.BarcodeDetector({ formats: wanted });
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(function (stream) {
          if (!dialog.open) { stream.getTracks().forEach(function (t) { t.stop(); }); return; }
          camera.stream = stream;
          video.srcObject = stream;
          return video.play().then(function () {
            cameraSay("Point the camera at a barcode.");
            look(detector, video);
          });
        });
    }).catch(function (error) {
      cameraSay("The camera could not be used (" + (error && error.name ? error.name : "error") +
        "). Close this and type or scan the code instead.");
    });
  }

  function look(detector, video) {
    if (!camera.stream) { return; }
    detector.detect(video).then(function (codes) {
      var now = Date.now();
      (codes || []).forEach(function (code) {
        var value = code && code.rawValue ? String(code.rawValue).trim() : "";
        if (!value) { return; }
        // The same code stays in the frame for many frames: it counts once until it has
        // been gone a moment, or a different code came between.
        if (value === camera.last && now - camera.lastAt < 1500) { camera.lastAt = now; return; }
        camera.last = value;
        camera.lastAt = now;
        addCode(value, 1);
        cameraSay("Read " + value + ".");
      });
    }).catch(function () { /* a frame that could not be read: try the next */ }).then(function () {
      if (camera.stream) { camera.timer = setTimeout(function () { look(detector, video); }, 200); }
    });
  }

  // ------------------------------------------------------------------ wiring

  function start() {
    form = document.querySelector("form[data-count]");
    if (!form) { return; }
    box = form.querySelector("[data-scan-box]");
    quantityBox = form.querySelector("[data-scan-quantity]");
    tbody = form.querySelector("[data-count-lines]");
    lineUrl = form.getAttribute("data-line-url");
    locationId = form.getAttribute("data-location");
    storageKey = "stockroom-count-" + locationId;

    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (button && button.hasAttribute("data-apply")) {
        if (pendingCount > 0) {
          // Scans still on their way belong in the count: apply once they have landed.
          event.preventDefault();
          say("Waiting for the last scans…", false);
          whenSettled.push(function () { form.requestSubmit(button); });
          return;
        }
        try { window.sessionStorage.removeItem(storageKey); } catch (ignored) { /* none */ }
        return;
      }
      event.preventDefault();
      if (button && button.hasAttribute("data-remove")) {
        var row = button.closest("tr[data-count-line]");
        var title = row.querySelector(".title");
        row.parentNode.removeChild(row);
        changed();
        say("Removed " + (title ? title.textContent.trim() : "the line") + ".", false);
        box.focus();
        return;
      }
      var code = box.value;
      var typed = quantityBox && quantityBox.value.trim() ? whole(quantityBox.value) : 1;
      if (typed === null) {
        say("How many: enter a whole number, like 12.", true);
        quantityBox.focus();
        return;
      }
      box.value = "";
      if (quantityBox) { quantityBox.value = ""; }
      box.focus();
      if (code.trim()) { addCode(code, typed); }
    });

    form.addEventListener("input", function (event) {
      var row = event.target.closest && event.target.closest("tr[data-count-line]");
      if (row && event.target.matches("[data-counted]")) { refresh(row); save(); }
    });

    // A scan while a counted figure has focus (the user just corrected one) is a scan, not
    // more digits: keys a few milliseconds apart ending in Enter are taken back out of the
    // figure and counted as a code.
    var burst = { input: null, keys: "", before: "", at: 0 };
    form.addEventListener("keydown", function (event) {
      var input = event.target;
      if (!input.matches || !input.matches("[data-counted]") || event.ctrlKey ||
          event.metaKey || event.altKey || event.isComposing) { return; }
      var fast = burst.input === input && event.timeStamp - burst.at <= SCAN_GAP_MS;
      burst.at = event.timeStamp;
      if (event.key === "Enter") {
        var scanned = fast && burst.keys.length >= 3 ? burst.keys : "";
        burst.input = null;
        if (!scanned) { return; }  // a person's Enter: the form's own (Add, an empty box)
        event.preventDefault();
        input.value = burst.before;
        refresh(input.closest("tr[data-count-line]"));
        box.focus();
        addCode(scanned, 1);
        return;
      }
      if (event.key.length !== 1) { burst.input = null; return; }
      if (!fast) { burst.input = input; burst.keys = ""; burst.before = input.value; }
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

    // The camera button shows only where the browser can read barcodes from a camera:
    // BarcodeDetector is there and knows at least one format (desktop Linux has the
    // interface but no formats).
    var cameraButton = form.querySelector("[data-camera]");
    if (cameraButton && "BarcodeDetector" in window && navigator.mediaDevices &&
        typeof navigator.mediaDevices.getUserMedia === "function") {
      cameraButton.addEventListener("click", openCamera);
      var known = typeof window.BarcodeDetector.getSupportedFormats === "function"
        ? window.BarcodeDetector.getSupportedFormats() : Promise.resolve(FORMATS);
      Promise.resolve(known).then(function (formats) {
        cameraButton.hidden = !(formats && formats.length);
      }, function () { cameraButton.hidden = true; });
    }
    var dialog = document.getElementById("camera-dialog");
    if (dialog) {
      dialog.addEventListener("close", function () { stopCamera(); box.focus(); });
      dialog.addEventListener("click", function (event) {
        if (event.target.closest("[data-camera-close]")) { dialog.close(); }
      });
    }

    rows().forEach(refresh);
    changed(true);
    restore();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
