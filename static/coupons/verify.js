/* The counter's camera (核销): read the customer's coupon QR with ZXing (its C++ compiled to
   WebAssembly, zxing-wasm) and send it through the same form a typed code uses. Without a
   camera, without this script or without htmx the page still works: the code is typed and the
   forms post normally. */
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
    // The wallet's QR carries a token of about 100 characters; the phone's offline code QR
    // carries its digits (20 or more), which go where typed digits go.
    var bare = text.replace(/[\s-]/g, "");
    if (bare.length > 20 && !/^\d+$/.test(bare)) { token.value = text; code.value = ""; }
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

  var canScan = window.ZXingWASM && navigator.mediaDevices &&
    navigator.mediaDevices.getUserMedia && window.isSecureContext !== false;
  if (!canScan) return;

  // ZXing C++ compiled to WebAssembly, served by the app (never a CDN): its .wasm file is
  // fetched from our static files on the first read.
  window.ZXingWASM.prepareZXingModule({
    overrides: {
      locateFile: function (path, prefix) {
        return path.slice(-5) === ".wasm" ? scan.dataset.wasm : prefix + path;
      }
    }
  });
  var READ = { formats: ["QRCode"], maxNumberOfSymbols: 1 };
  var EVERY_MS = 120; // a frame read this often: quick enough, and a slow phone keeps up

  var start = document.getElementById("scan-start");
  var stop = document.getElementById("scan-stop");
  var video = document.getElementById("scan-video");
  var status = document.getElementById("scan-status");
  var canvas = document.createElement("canvas");
  var stream = null;
  var scanning = false;

  function say(key) { status.textContent = status.dataset[key] || ""; }

  function halt() {
    scanning = false;
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    video.srcObject = null;
    video.hidden = true; stop.hidden = true; start.hidden = false;
  }

  function readFrame() {
    if (!scanning) return;
    if (!video.videoWidth) { window.setTimeout(readFrame, EVERY_MS); return; }
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    var context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(video, 0, 0);
    var frame = context.getImageData(0, 0, canvas.width, canvas.height);
    window.ZXingWASM.readBarcodes(frame, READ).then(function (found) {
      if (!scanning) return; // stopped while this frame was read
      var code = found.filter(function (r) { return r.isValid; })[0];
      if (!code) { window.setTimeout(readFrame, EVERY_MS); return; }
      halt(); status.textContent = "";
      submitScanned(code.text);
    }).catch(function () { halt(); say("denied"); });
  }

  start.addEventListener("click", function () {
    scanning = true;
    start.hidden = true; stop.hidden = false; video.hidden = false;
    say("starting");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } } })
      .then(function (media) {
        if (!scanning) { media.getTracks().forEach(function (t) { t.stop(); }); return; }
        stream = media; video.srcObject = media;
        return video.play().then(function () { say("scanning"); readFrame(); });
      })
      .catch(function () { halt(); say("denied"); });
  });
  stop.addEventListener("click", function () { halt(); status.textContent = ""; });
  window.addEventListener("pagehide", halt);

  scan.hidden = false;
})();
