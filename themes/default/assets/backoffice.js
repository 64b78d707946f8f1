// Progressive enhancement for the Back Office: live notifications over /backoffice/ws.
// Pages work without it. Messages: {"type": "order.placed"|"import.progress"|"record.changed", ...}.
(function () {
  "use strict";
  if (!("WebSocket" in window)) { return; }
  var live = document.getElementById("live");
  var attempt = 0;
  function show(text) { if (live) { live.textContent = text; } }
  function connect() {
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/backoffice/ws");
    ws.onopen = function () {
      attempt = 0;
      var record = document.querySelector("[data-record]");
      if (record) { ws.send(JSON.stringify({ type: "watch", record: record.dataset.record })); }
    };
    ws.onmessage = function (event) {
      var m; try { m = JSON.parse(event.data); } catch (e) { return; }
      if (m.type === "order.placed") { show("New order " + m.reference + " (" + m.store + ")"); }
      else if (m.type === "import.progress") {
        var el = document.querySelector('[data-import="' + m.job + '"]');
        if (el) { el.textContent = m.processed + " / " + (m.total || "?") + (m.done ? " — done" : ""); }
      } else if (m.type === "record.changed") { show("This record was changed by " + m.user + ". Reload to see the changes."); }
    };
    ws.onclose = function () { attempt += 1; setTimeout(connect, Math.min(30000, 500 * Math.pow(2, attempt))); };
  }
  connect();
})();
