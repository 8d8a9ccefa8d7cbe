// clets-watch console: the incident page's alert table — sort by a column, search, page (plain JS).
(function () {
  "use strict";
  var table = document.getElementById("incident-alerts");
  if (!table) return;
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var search = document.getElementById("alert-search");
  var sizeSelect = document.getElementById("alert-size");
  var pager = document.getElementById("alert-pager");
  var page = 1;
  var sortCol = 0;
  var sortDir = 1;

  function cellValue(row, col) {
    var cell = row.cells[col];
    return cell.getAttribute("data-value") || cell.textContent.trim();
  }

  function matches(row, q) {
    return !q || row.getAttribute("data-alert-id").indexOf(q) >= 0 || row.textContent.toLowerCase().indexOf(q) >= 0;
  }

  function render() {
    var q = (search.value || "").trim().toLowerCase();
    var size = parseInt(sizeSelect.value, 10) || 25;
    var kind = table.tHead.rows[0].cells[sortCol].getAttribute("data-sort");
    var shown = rows.filter(function (r) { return matches(r, q); });
    shown.sort(function (a, b) {
      var x = cellValue(a, sortCol), y = cellValue(b, sortCol);
      if (kind === "num") { x = parseFloat(x) || 0; y = parseFloat(y) || 0; }
      return (x < y ? -1 : x > y ? 1 : 0) * sortDir;
    });
    var pages = Math.max(1, Math.ceil(shown.length / size));
    if (page > pages) page = pages;
    rows.forEach(function (r) { r.hidden = true; });
    shown.forEach(function (r, i) {
      body.appendChild(r);
      r.hidden = !(i >= (page - 1) * size && i < page * size);
    });
    pager.textContent = "";
    for (var p = 1; p <= pages; p++) {
      var el = document.createElement(p === page ? "span" : "a");
      el.textContent = String(p);
      if (p === page) { el.className = "current"; } else {
        el.href = "#";
        el.setAttribute("data-page", String(p));
      }
      pager.appendChild(el);
    }
    var info = document.createElement("span");
    info.className = "muted";
    info.textContent = shown.length + " of " + rows.length + " alert(s)";
    pager.appendChild(info);
  }

  pager.addEventListener("click", function (e) {
    var p = e.target.getAttribute && e.target.getAttribute("data-page");
    if (p) { e.preventDefault(); page = parseInt(p, 10); render(); }
  });
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    th.classList.add("sort");
    th.addEventListener("click", function () {
      sortDir = sortCol === col ? -sortDir : 1;
      sortCol = col;
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.classList.remove("asc", "desc"); });
      th.classList.add(sortDir > 0 ? "asc" : "desc");
      render();
    });
  });
  search.addEventListener("input", function () { page = 1; render(); });
  sizeSelect.addEventListener("change", function () { page = 1; render(); });
  render();
})();
