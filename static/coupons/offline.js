/* The wallet's offline code (离线码): shown when the phone has no network, like a payment
   app's pay code. The wallet pages hand this phone the customer's key and their usable coupons
   (#offline-data); this script keeps them in localStorage and, without the network, computes
   each coupon's code every 30 seconds with WebCrypto (HMAC-SHA-256) and draws its QR.

   The same code is computed on the server by coupons.services.tokens.offline_code_for:
     "9" + coupon id (9 digits, more past a billion) + (30-second step mod 100, 2 digits)
         + MAC (8 digits: the first 8 bytes of HMAC-SHA256(key, "offline-code v1:<id>:<step>"),
           big-endian, mod 10^8)
   tests/coupons/test_offline_code_browser.py holds the two equal. */
(function () {
  "use strict";

  var STORE = "coupons.offline.v1";
  var STEP_S = 30;

  // --- The code ---------------------------------------------------------------------------

  function pad(n, width) {
    var s = String(n);
    while (s.length < width) s = "0" + s;
    return s;
  }

  function hexBytes(hex) {
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }

  function supported() {
    return !!(window.crypto && window.crypto.subtle && window.TextEncoder && window.BigInt);
  }

  /* A Promise of the offline code of coupon ``couponId`` under the hex ``secret`` at
     ``nowMs`` (milliseconds since the epoch; default: now). */
  function offlineCode(secret, couponId, nowMs) {
    var step = Math.floor((nowMs === undefined ? Date.now() : nowMs) / 1000 / STEP_S);
    var message = new TextEncoder().encode("offline-code v1:" + couponId + ":" + step);
    return window.crypto.subtle
      .importKey("raw", hexBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
      .then(function (key) { return window.crypto.subtle.sign("HMAC", key, message); })
      .then(function (signature) {
        var bytes = new Uint8Array(signature);
        var value = BigInt(0);
        for (var i = 0; i < 8; i++) value = value * BigInt(256) + BigInt(bytes[i]);
        var mac = pad((value % BigInt(100000000)).toString(), 8);
        return "9" + pad(couponId, 9) + pad(step % 100, 2) + mac;
      });
  }

  // --- A QR code of digits ----------------------------------------------------------------
  // Version 1 (21 x 21), error correction M, numeric mode: up to 34 digits, which holds any
  // offline code. ISO/IEC 18004; the eight masks are scored and the best one kept.

  var SIZE = 21, DATA_CODEWORDS = 16, EC_CODEWORDS = 10;

  function gfMul(x, y) {
    var z = 0;
    for (var i = 7; i >= 0; i--) {
      z = (z << 1) ^ ((z >>> 7) * 0x11d);
      z ^= ((y >>> i) & 1) * x;
    }
    return z;
  }

  function reedSolomon(data, degree) {
    var divisor = [], i, j;
    for (i = 0; i < degree - 1; i++) divisor.push(0);
    divisor.push(1);
    var root = 1;
    for (i = 0; i < degree; i++) {
      for (j = 0; j < divisor.length; j++) {
        divisor[j] = gfMul(divisor[j], root);
        if (j + 1 < divisor.length) divisor[j] ^= divisor[j + 1];
      }
      root = gfMul(root, 0x02);
    }
    var result = divisor.map(function () { return 0; });
    data.forEach(function (b) {
      var factor = b ^ result.shift();
      result.push(0);
      divisor.forEach(function (coef, k) { result[k] ^= gfMul(coef, factor); });
    });
    return result;
  }

  function codewords(digits) {
    var bits = [];
    function put(value, length) {
      for (var i = length - 1; i >= 0; i--) bits.push((value >>> i) & 1);
    }
    put(1, 4); // numeric mode
    put(digits.length, 10);
    for (var i = 0; i < digits.length; i += 3) {
      var group = digits.substr(i, 3);
      put(parseInt(group, 10), group.length * 3 + 1);
    }
    var capacity = DATA_CODEWORDS * 8;
    put(0, Math.min(4, capacity - bits.length)); // terminator
    while (bits.length % 8) bits.push(0);
    var data = [];
    for (i = 0; i < bits.length; i += 8) {
      var byte = 0;
      for (var j = 0; j < 8; j++) byte = (byte << 1) | bits[i + j];
      data.push(byte);
    }
    for (var pad = 0xec; data.length < DATA_CODEWORDS; pad ^= 0xec ^ 0x11) data.push(pad);
    return data.concat(reedSolomon(data, EC_CODEWORDS));
  }

  var MASKS = [
    function (x, y) { return (x + y) % 2 === 0; },
    function (x, y) { return y % 2 === 0; },
    function (x) { return x % 3 === 0; },
    function (x, y) { return (x + y) % 3 === 0; },
    function (x, y) { return (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0; },
    function (x, y) { return (x * y) % 2 + (x * y) % 3 === 0; },
    function (x, y) { return ((x * y) % 2 + (x * y) % 3) % 2 === 0; },
    function (x, y) { return ((x + y) % 2 + (x * y) % 3) % 2 === 0; },
  ];

  function grid(fill) {
    var rows = [];
    for (var y = 0; y < SIZE; y++) {
      var row = [];
      for (var x = 0; x < SIZE; x++) row.push(fill);
      rows.push(row);
    }
    return rows;
  }

  function symbol(digits, mask) {
    var dark = grid(false), fixed = grid(false);
    function set(x, y, on) { dark[y][x] = on; fixed[y][x] = true; }
    var i, x, y;
    for (i = 0; i < SIZE; i++) { set(6, i, i % 2 === 0); set(i, 6, i % 2 === 0); }
    [[3, 3], [SIZE - 4, 3], [3, SIZE - 4]].forEach(function (c) {
      for (var dy = -4; dy <= 4; dy++) {
        for (var dx = -4; dx <= 4; dx++) {
          var d = Math.max(Math.abs(dx), Math.abs(dy)), xx = c[0] + dx, yy = c[1] + dy;
          if (xx >= 0 && xx < SIZE && yy >= 0 && yy < SIZE) set(xx, yy, d !== 2 && d !== 4);
        }
      }
    });
    // format information: level M (00) and the mask, BCH(15,5), XOR 0x5412
    var format = mask, rem = format;
    for (i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
    var bits = ((format << 10) | rem) ^ 0x5412;
    function bit(k) { return ((bits >>> k) & 1) === 1; }
    for (i = 0; i <= 5; i++) set(8, i, bit(i));
    set(8, 7, bit(6)); set(8, 8, bit(7)); set(7, 8, bit(8));
    for (i = 9; i < 15; i++) set(14 - i, 8, bit(i));
    for (i = 0; i < 8; i++) set(SIZE - 1 - i, 8, bit(i));
    for (i = 8; i < 15; i++) set(8, SIZE - 15 + i, bit(i));
    set(8, SIZE - 8, true);
    // the data, in two-column zigzags from the bottom right, skipping the timing column
    var data = codewords(digits), n = 0;
    for (var right = SIZE - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      for (var v = 0; v < SIZE; v++) {
        for (var j = 0; j < 2; j++) {
          x = right - j;
          y = ((right + 1) & 2) === 0 ? SIZE - 1 - v : v;
          if (!fixed[y][x] && n < data.length * 8) {
            dark[y][x] = ((data[n >>> 3] >>> (7 - (n & 7))) & 1) === 1;
            n++;
          }
        }
      }
    }
    for (y = 0; y < SIZE; y++) {
      for (x = 0; x < SIZE; x++) if (!fixed[y][x] && MASKS[mask](x, y)) dark[y][x] = !dark[y][x];
    }
    return dark;
  }

  function penalty(dark) {
    var score = 0, x, y, count = 0;
    function lines(vertical) {
      var out = [];
      for (var a = 0; a < SIZE; a++) {
        var s = "";
        for (var b = 0; b < SIZE; b++) s += (vertical ? dark[b][a] : dark[a][b]) ? "1" : "0";
        out.push(s);
      }
      return out;
    }
    lines(false).concat(lines(true)).forEach(function (line) {
      (line.match(/0{5,}|1{5,}/g) || []).forEach(function (run) { score += run.length - 2; });
      var at = -1;
      while ((at = line.indexOf("1011101", at + 1)) !== -1) {
        if (line.substr(at - 4, 4) === "0000" || line.substr(at + 7, 4) === "0000") score += 40;
      }
    });
    for (y = 0; y < SIZE; y++) {
      for (x = 0; x < SIZE; x++) {
        if (dark[y][x]) count++;
        if (x < SIZE - 1 && y < SIZE - 1 && dark[y][x] === dark[y][x + 1] &&
            dark[y][x] === dark[y + 1][x] && dark[y][x] === dark[y + 1][x + 1]) score += 3;
      }
    }
    return score + 10 * Math.floor(Math.abs(count * 20 / (SIZE * SIZE) - 10));
  }

  /* The QR of ``digits`` as SVG markup (a 4-module quiet zone). */
  function qrSvg(digits) {
    var best = null, bestScore = Infinity;
    for (var mask = 0; mask < 8; mask++) {
      var dark = symbol(digits, mask), score = penalty(dark);
      if (score < bestScore) { best = dark; bestScore = score; }
    }
    var path = "";
    for (var y = 0; y < SIZE; y++) {
      for (var x = 0; x < SIZE; x++) if (best[y][x]) path += "M" + (x + 4) + " " + (y + 4) + "h1v1h-1z";
    }
    var side = SIZE + 8;
    return '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ' + side + " " + side +
      '" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/>' +
      '<path fill="#000" d="' + path + '"/></svg>';
  }

  // --- What this phone keeps ----------------------------------------------------------------

  function load() {
    try { return JSON.parse(window.localStorage.getItem(STORE) || "null"); }
    catch (e) { return null; }
  }

  function save(data) {
    try { window.localStorage.setItem(STORE, JSON.stringify(data)); } catch (e) { /* full */ }
  }

  function forget() {
    try { window.localStorage.removeItem(STORE); } catch (e) { /* unavailable */ }
  }

  function usable(data, nowMs) {
    return ((data && data.coupons) || []).filter(function (c) {
      return Date.parse(c.valid_until) > nowMs;
    });
  }

  window.couponsOffline = { code: offlineCode, qrSvg: qrSvg, load: load, forget: forget };

  // --- The page -----------------------------------------------------------------------------

  var given = document.getElementById("offline-data");
  if (given) {
    try { save(JSON.parse(given.textContent)); } catch (e) { /* keep what we had */ }
  }
  // Signing out on this phone takes the key off it too.
  var logout = document.querySelector("form[action$='/logout/']");
  if (logout) logout.addEventListener("submit", forget);

  function grouped(code) { return code.replace(/(\d{4})(?=\d)/g, "$1 "); }

  /* A view of one coupon's code (``[data-offline-code]``): the QR and the digits, renewed
     when the 30-second step changes, with the seconds left. */
  function View(box) {
    this.box = box;
    this.coupon = box.getAttribute("data-coupon") || "";
    this.step = null;
    this.figure = box.querySelector("[data-role=qr]");
    this.digits = box.querySelector("[data-role=digits]");
    this.status = box.querySelector("[data-role=status]");
    this.title = box.querySelector("[data-role=title]");
  }

  View.prototype.say = function (key, seconds) {
    var text = this.box.getAttribute("data-" + key) || "";
    this.status.textContent = text.replace("{seconds}", seconds);
  };

  View.prototype.clear = function (key) {
    this.step = null;
    this.figure.innerHTML = "";
    this.digits.textContent = "";
    this.box.removeAttribute("data-code");
    this.say(key);
  };

  View.prototype.tick = function () {
    var view = this;
    if (!supported()) { view.clear("unsupported"); return; }
    if (!view.coupon) { view.clear("none"); return; }
    var data = load(), now = Date.now();
    var held = usable(data, now).filter(function (c) { return String(c.id) === view.coupon; })[0];
    if (!data || !data.secret || !held) { view.clear("missing"); return; }
    if (view.title) view.title.textContent = held.merchant + " · " + held.title;
    var step = Math.floor(now / 1000 / STEP_S);
    view.say("changes", STEP_S - Math.floor(now / 1000) % STEP_S);
    if (step === view.step) return;
    view.step = step;
    offlineCode(data.secret, held.id, now).then(function (code) {
      if (view.step !== step) return; // a newer step was drawn meanwhile
      view.figure.innerHTML = qrSvg(code);
      view.digits.textContent = grouped(code);
      view.box.setAttribute("data-code", code);
    });
  };

  View.prototype.show = function (couponId) {
    this.coupon = String(couponId);
    this.box.setAttribute("data-coupon", this.coupon);
    this.step = null;
    this.tick();
  };

  var views = [];
  Array.prototype.forEach.call(document.querySelectorAll("[data-offline-code]"), function (box) {
    views.push(new View(box));
  });
  if (!views.length) return;
  function tickAll() { views.forEach(function (v) { v.tick(); }); }
  tickAll();
  window.setInterval(tickAll, 1000);

  // The wallet's list kept on the phone: pick a coupon, see its code (no page to load).
  var list = document.getElementById("offline-list");
  if (list) {
    var view = views[0];
    var held = usable(load(), Date.now());
    held.forEach(function (c) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button secondary";
      button.setAttribute("data-coupon", c.id);
      button.textContent = c.merchant + " · " + c.title + " · " + c.value;
      button.addEventListener("click", function () { view.show(c.id); });
      item.appendChild(button);
      list.appendChild(item);
    });
    if (held.length && !view.coupon) view.show(held[0].id);
  }

  // Without the network the online QR cannot be renewed: open the offline code instead.
  var box = document.getElementById("offline-code-box");
  function goneOffline() {
    if (box && !box.open) box.open = true;
    tickAll();
  }
  window.addEventListener("offline", goneOffline);
  document.body.addEventListener("htmx:sendError", goneOffline);
  if (navigator.onLine === false) goneOffline();
})();
