/* The counter's camera (核销): read the customer's coupon QR with ZXing and send it through the
   same form a typed code uses. Without a camera, without this script or without htmx the page
   still works: the code is typed and the forms post normally. */
(function () {
  "use strict";

  var form = document.getElementById("inspect-form");
  var scan = document.getElementById("scan");
  if (!form || !scan) return;
  var code = form.querySelector("input[name=code]");
  var token = form.querySelector("input[name=token]");

  // A typed code wins over a token left from an earlier scan.
  if (code && token) code.addEventListener("input", function () { token.value = ""; });

  function submitScanned(text) {
    text = (text || "").trim();
    if (!text) return;
    // The wallet's QR carries a token of about 100 characters; a typed code has 12.
    if (text.replace(/[\s-]/g, "").length > 20) { token.value = text; code.value = ""; }
    else { token.value = ""; code.value = text; }
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }
  window.couponsVerifySubmitScanned = submitScanned; // for tests and hand-held scanners

  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt === form) token.value = ""; // tokens are short-lived: never resend
  });
  document.body.addEventListener("htmx:afterSwap", function () {
    if (document.getElementById("verify-success")) { code.value = ""; code.focus(); }
  });

  var canScan = window.ZXingBrowser && navigator.mediaDevices &&
    navigator.mediaDevices.getUserMedia && window.isSecureContext !== false;
  if (!canScan) return;

  var start = document.getElementById("scan-start");
  var stop = document.getElementById("scan-stop");
  var video = document.getElementById("scan-video");
  var status = document.getElementById("scan-status");
  var controls = null;
  var scanning = false;

  function say(key) { status.textContent = status.dataset[key] || ""; }

  function halt() {
    scanning = false;
    if (controls) { controls.stop(); controls = null; }
    video.hidden = true; stop.hidden = true; start.hidden = false;
  }

  start.addEventListener("click", function () {
    scanning = true;
    start.hidden = true; stop.hidden = false; video.hidden = false;
    say("starting");
    var reader = new window.ZXingBrowser.BrowserQRCodeReader();
    reader.decodeFromConstraints(
      { video: { facingMode: { ideal: "environment" } } },
      video,
      function (result, _error, ctl) {
        if (!result || !scanning) return; // no QR in this frame yet, or already read
        ctl.stop();
        halt(); status.textContent = "";
        submitScanned(result.getText());
      }
    ).then(function (ctl) {
      // The first frame may already have been read (and the camera stopped) by now.
      if (!scanning) { ctl.stop(); return; }
      controls = ctl; say("scanning");
    }).catch(function () { halt(); say("denied"); });
  });
  stop.addEventListener("click", function () { halt(); status.textContent = ""; });
  window.addEventListener("pagehide", halt);

  scan.hidden = false;
})();
