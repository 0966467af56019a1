/* The /scan page's camera button: read a QR code (or a GS1 DataMatrix) and submit it.
 *
 * The page works without this file: the text box takes a handheld scanner's
 * text + Enter or a typed SBBK number. This only adds a camera that fills the
 * same box and submits the same form, so the server decides what the code is.
 *
 * Decoding: the browser's BarcodeDetector where it exists (Chrome on Android:
 * QR and DataMatrix); otherwise jsQR (QR only), served from this site and
 * fetched only when the camera is first opened. Frames are scaled down to at
 * most 640 px and read a few times a second, which a cheap phone can keep up with.
 */
(function () {
  "use strict";
  var box = document.querySelector("[data-camera]");
  var form = document.querySelector("[data-scan-form]");
  if (!box || !form || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;

  var video = box.querySelector("[data-camera-video]");
  var start = box.querySelector("[data-camera-start]");
  var stop = box.querySelector("[data-camera-stop]");
  var status = box.querySelector("[data-camera-status]");
  var input = form.querySelector("input[name=code]");
  var stream = null, timer = null, decode = null, busy = false;
  var INTERVAL_MS = 250, MAX_SIDE = 640;

  function say(key) { status.textContent = box.getAttribute("data-msg-" + key) || ""; }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src; s.onload = resolve; s.onerror = reject;
      document.head.appendChild(s);
    });
  }

  // A function frame -> Promise<string|null>, built once.
  function decoder() {
    if (decode) return Promise.resolve(decode);
    var native = "BarcodeDetector" in window
      ? window.BarcodeDetector.getSupportedFormats().catch(function () { return []; })
      : Promise.resolve([]);
    return native.then(function (supported) {
      var formats = ["qr_code", "data_matrix"].filter(function (f) { return supported.indexOf(f) >= 0; });
      if (formats.length) {
        var detector = new window.BarcodeDetector({ formats: formats });
        decode = function () {
          return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
        };
        return decode;
      }
      return loadScript(box.getAttribute("data-decoder")).then(function () {
        var canvas = document.createElement("canvas");
        var context = canvas.getContext("2d", { willReadFrequently: true });
        decode = function () {
          var w = video.videoWidth, h = video.videoHeight;
          if (!w || !h) return Promise.resolve(null);
          var scale = Math.min(1, MAX_SIDE / Math.max(w, h));
          canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
          context.drawImage(video, 0, 0, canvas.width, canvas.height);
          var image = context.getImageData(0, 0, canvas.width, canvas.height);
          var code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
          return Promise.resolve(code ? code.data : null);
        };
        return decode;
      });
    });
  }

  function halt() {
    if (timer) { clearInterval(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    video.hidden = true; stop.hidden = true; start.hidden = false;
  }

  function found(text) {
    halt();
    say("found");
    input.value = text;
    form.submit();
  }

  function tick() {
    if (busy || !decode) return;
    busy = true;
    decode().then(function (text) { busy = false; if (text) found(text); }, function () { busy = false; });
  }

  start.addEventListener("click", function () {
    say("starting");
    Promise.all([
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }),
      decoder(),
    ]).then(function (results) {
      stream = results[0];
      video.srcObject = stream;
      video.hidden = false; stop.hidden = false; start.hidden = true;
      return video.play();
    }).then(function () {
      say("looking");
      timer = setInterval(tick, INTERVAL_MS);
    }).catch(function () {
      halt();
      say("denied");
    });
  });
  stop.addEventListener("click", function () { halt(); status.textContent = ""; });
  // A phone locking its screen or switching apps: release the camera.
  document.addEventListener("visibilitychange", function () { if (document.hidden) halt(); });

  box.hidden = false;
})();
