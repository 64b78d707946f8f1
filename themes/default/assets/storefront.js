// Progressive enhancement only: every page works without this file.
// 1. Search suggestions under the search box. 2. Live order status on order pages over /ws.
(function () {
  "use strict";
  var input = document.querySelector("input[data-suggest]");
  var list = document.getElementById("suggestions");
  if (input && list) {
    var timer = null, last = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value.trim();
        if (q.length < 2 || q === last) { if (q.length < 2) { list.hidden = true; } return; }
        last = q;
        fetch(input.dataset.suggest + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
          .then(function (data) {
            list.innerHTML = "";
            (data.suggestions || []).forEach(function (s) {
              var li = document.createElement("li"), a = document.createElement("a");
              a.href = s.url; a.textContent = s.name; li.setAttribute("role", "option");
              li.appendChild(a); list.appendChild(li);
            });
            list.hidden = list.children.length === 0;
          })
          .catch(function () { list.hidden = true; });
      }, 150);
    });
    input.addEventListener("keydown", function (e) { if (e.key === "Escape") { list.hidden = true; } });
  }

  // Elements with data-order-status="<order reference>" follow that order's state over the WebSocket.
  var watched = document.querySelectorAll("[data-order-status]");
  if (watched.length && "WebSocket" in window) {
    var attempt = 0;
    var connect = function () {
      var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
      ws.onopen = function () { attempt = 0; };
      ws.onmessage = function (event) {
        var message; try { message = JSON.parse(event.data); } catch (e) { return; }
        if (message.type !== "order.status") { return; }
        watched.forEach(function (el) {
          if (el.dataset.orderStatus === message.reference) { el.textContent = message.status; el.dataset.updated = "1"; }
        });
      };
      ws.onclose = function () { attempt += 1; setTimeout(connect, Math.min(30000, 500 * Math.pow(2, attempt))); };
    };
    connect();
  }
})();
