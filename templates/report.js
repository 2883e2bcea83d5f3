/* Optional filtering for report.html; the page is complete without it. */
(function () {
  "use strict";
  var doc = document;
  var bar = doc.getElementById("filters");
  var checks = Array.prototype.slice.call(doc.querySelectorAll("section.check"));
  var allDetails = function () { return Array.prototype.slice.call(doc.querySelectorAll("details")); };
  var text = doc.getElementById("filter-text");
  var counter = doc.getElementById("filter-count");
  var boxes = bar ? Array.prototype.slice.call(bar.querySelectorAll("input[data-status]")) : [];
  var haystack = [];

  function apply() {
    var wanted = {};
    boxes.forEach(function (b) { if (b.checked) { wanted[b.getAttribute("data-status")] = true; } });
    var q = text ? text.value.trim().toLowerCase() : "";
    var shown = 0;
    checks.forEach(function (c, i) {
      var ok = (c.getAttribute("data-statuses") || "").split(" ").some(function (s) { return wanted[s]; });
      if (ok && q) {
        if (haystack[i] === undefined) { haystack[i] = c.textContent.toLowerCase(); }
        ok = haystack[i].indexOf(q) !== -1;
      }
      c.hidden = !ok;
      if (ok) { shown += 1; }
    });
    if (counter) { counter.textContent = shown + " of " + checks.length + " recommendations shown"; }
  }

  if (bar) {
    bar.hidden = false;
    boxes.forEach(function (b) { b.addEventListener("change", apply); });
    if (text) { text.addEventListener("input", apply); }
    doc.getElementById("expand-all").addEventListener("click", function () {
      allDetails().forEach(function (d) { d.open = true; });
    });
    doc.getElementById("collapse-all").addEventListener("click", function () {
      checks.forEach(function (c) { c.querySelector("details").open = false; });
    });
    apply();
  }

  // Printing expands everything, then restores what the reader had open.
  var closedBeforePrint = [];
  window.addEventListener("beforeprint", function () {
    closedBeforePrint = allDetails().filter(function (d) { return !d.open; });
    closedBeforePrint.forEach(function (d) { d.open = true; });
  });
  window.addEventListener("afterprint", function () {
    closedBeforePrint.forEach(function (d) { d.open = false; });
    closedBeforePrint = [];
  });

  doc.documentElement.setAttribute("data-js", "ready");
}());
