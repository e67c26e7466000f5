// The takings page: payments that arrive (htmx swaps #live every 3 s) go to the top of the
// list and, when "read out aloud" is on, are announced like a payment speaker: 收款到账 12.34 元.
(function () {
  "use strict";
  var box = document.getElementById("announce");
  if (box) {
    box.checked = localStorage.getItem("payments:announce") === "1";
    box.addEventListener("change", function () {
      localStorage.setItem("payments:announce", box.checked ? "1" : "0");
    });
  }
  function yuan(fen) {
    var n = parseInt(fen, 10);
    return Math.floor(n / 100) + "." + String(n % 100).padStart(2, "0");
  }
  function announce(fen) {
    if (!box || !box.checked || !("speechSynthesis" in window)) return;
    var lang = document.documentElement.lang || "zh-hans";
    var text = lang.indexOf("zh") === 0 ? "收款到账" + yuan(fen) + "元" : "Payment received, " + yuan(fen) + " yuan";
    var say = new SpeechSynthesisUtterance(text);
    say.lang = lang.indexOf("zh") === 0 ? "zh-CN" : "en-US";
    window.speechSynthesis.speak(say);
  }
  document.body.addEventListener("htmx:afterSettle", function () {
    var template = document.getElementById("arrived");
    var rows = document.getElementById("payment-rows");
    if (!template || !rows) return;
    var empty = rows.querySelector("tr.empty");
    if (empty) empty.remove();
    // Oldest first, each put on top: the newest ends on top, and they are read out in order.
    var fresh = Array.prototype.slice.call(template.content.querySelectorAll("tr"));
    fresh.forEach(function (row) {
      rows.insertBefore(document.importNode(row, true), rows.firstChild);
      announce(row.getAttribute("data-amount-fen"));
    });
    template.remove();
  });
})();
