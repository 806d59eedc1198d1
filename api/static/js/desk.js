// The merchant desk (/console/desk): scan a voucher's QR code with the device camera, and keep
// the keyboard flow of the till (type or scan, Enter looks up, Tab to "Confirm voucher", Enter
// confirms, focus back in the code field for the next customer).
//
// The page works without this file (plain form posts). Decoding uses the browser's
// BarcodeDetector where it reads QR codes, else the vendored jsQR (loaded on first use) on
// frames drawn into a canvas. A voucher's QR code holds exactly what the voucher shows
// (ABCDE-12345); the server normalises it as it does a typed code.
(function () {
  "use strict";

  var form = document.getElementById("lookup-form");
  var input = document.getElementById("voucher-code");
  var result = document.getElementById("voucher-result");
  var scanButton = document.getElementById("scan-button");
  var scanner = document.getElementById("scanner");
  var video = document.getElementById("scan-video");
  var stopButton = document.getElementById("scan-stop");
  var statusLine = document.getElementById("scan-status");
  if (!form || !input || !result) { return; }

  var FRAME_INTERVAL_MS = 200;
  var MAX_FRAME_SIDE = 640;
  var stream = null;
  var timer = null;
  var running = false;

  function say(text) { if (statusLine) { statusLine.textContent = text; } }

  // --- the result region: problems are shown in it, and focus follows the work ------------

  function isResultSwap(detail) {
    return detail && detail.target && detail.target.id === "voucher-result";
  }

  // htmx leaves 4xx answers unswapped; here they are the answer (unknown voucher, already
  // redeemed, malformed code), shown in the result region. 401 comes with HX-Redirect.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (isResultSwap(event.detail) && status >= 400 && status < 500 && status !== 401) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.body.addEventListener("htmx:afterSettle", function (event) {
    if (!isResultSwap(event.detail)) { return; }
    if (result.querySelector("#confirm-result")) {
      input.value = "";  // done: ready for the next customer
      input.focus();
    } else if (result.querySelector("[data-problem]")) {
      input.focus();
      input.select();
    }
  });

  function showUnanswered() {
    result.textContent = "";
    var message = document.createElement("div");
    message.className = "flash error";
    message.setAttribute("data-problem", "unanswered");
    message.textContent = "The server did not answer. Check the connection and try again.";
    result.appendChild(message);
  }

  document.body.addEventListener("htmx:sendError", function (event) {
    if (isResultSwap(event.detail)) { showUnanswered(); }
  });
  document.body.addEventListener("htmx:responseError", function (event) {
    if (isResultSwap(event.detail)) { showUnanswered(); }
  });

  // --- scanning ----------------------------------------------------------------------------

  if (!scanButton || !scanner || !video) { return; }
  scanButton.classList.remove("hidden");  // useful only with this script running

  function named(name, message) {
    var error = new Error(message);
    error.name = name;
    return error;
  }

  function cameraProblem(error) {
    switch (error && error.name) {
      case "NotAllowedError":
      case "SecurityError":
        return "The camera was not allowed. Allow it for this site in the browser, or type the code.";
      case "NotFoundError":
      case "OverconstrainedError":
        return "No camera was found on this device. Type the code instead.";
      case "NotReadableError":
      case "AbortError":
        return "The camera is in use by another application. Close it, or type the code.";
      case "DecoderUnavailable":
        return "The QR decoder could not be loaded. Type the code instead.";
      default:
        return "The camera could not be started. Type the code instead.";
    }
  }

  function nativeDetector() {
    if (!("BarcodeDetector" in window)) { return Promise.resolve(null); }
    return Promise.resolve()
      .then(function () {
        return typeof window.BarcodeDetector.getSupportedFormats === "function"
          ? window.BarcodeDetector.getSupportedFormats() : ["qr_code"];
      })
      .then(function (formats) {
        if (formats.indexOf("qr_code") === -1) { return null; }
        var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        return function (frame) {
          return detector.detect(frame).then(function (codes) {
            return codes.length ? codes[0].rawValue : null;
          });
        };
      })
      .catch(function () { return null; });  // present but unusable: jsQR instead
  }

  function loadJsQR() {
    var loaded = function () {
      var lib = window.jsQR;
      return typeof lib === "function" ? lib : (lib && lib.default) || null;
    };
    if (loaded()) { return Promise.resolve(loaded()); }
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = scanButton.getAttribute("data-jsqr-src");
      script.async = true;
      script.addEventListener("load", function () {
        if (loaded()) { resolve(loaded()); } else { reject(named("DecoderUnavailable", "jsQR")); }
      });
      script.addEventListener("error", function () {
        reject(named("DecoderUnavailable", "jsQR"));
      });
      document.head.appendChild(script);
    });
  }

  function jsQRDetector() {
    return loadJsQR().then(function (jsQR) {
      var canvas = document.createElement("canvas");
      var context = canvas.getContext("2d", { willReadFrequently: true });
      return function (frame) {
        var width = frame.videoWidth, height = frame.videoHeight;
        if (!width || !height) { return Promise.resolve(null); }
        var scale = Math.min(1, MAX_FRAME_SIDE / Math.max(width, height));
        canvas.width = Math.round(width * scale);
        canvas.height = Math.round(height * scale);
        context.drawImage(frame, 0, 0, canvas.width, canvas.height);
        var image = context.getImageData(0, 0, canvas.width, canvas.height);
        // attemptBoth: vouchers are often shown on a phone in dark mode (light on dark).
        var found = jsQR(image.data, image.width, image.height,
                         { inversionAttempts: "attemptBoth" });
        return Promise.resolve(found && found.data ? found.data : null);
      };
    });
  }

  function chooseDetector() {
    return nativeDetector().then(function (detect) { return detect || jsQRDetector(); });
  }

  function stopScan() {
    running = false;
    if (timer !== null) { window.clearTimeout(timer); timer = null; }
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
    video.srcObject = null;
    scanner.classList.add("hidden");
    scanButton.disabled = false;
  }

  function submitLookup() {
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit();  // a submit event: htmx posts it and swaps the result in
    } else {
      form.submit();         // the page without htmx: a full-page lookup
    }
  }

  function decoded(text) {
    stopScan();
    input.value = String(text).trim();
    say("QR code read: " + input.value + ". Looking it up…");
    input.focus();
    submitLookup();
  }

  function scanFrames(detect) {
    if (!running) { return; }
    detect(video)
      .then(function (text) {
        if (!running) { return; }
        if (text) { decoded(text); } else { timer = window.setTimeout(scanFrames, FRAME_INTERVAL_MS, detect); }
      })
      .catch(function () {
        if (running) { timer = window.setTimeout(scanFrames, FRAME_INTERVAL_MS, detect); }
      });
  }

  function startScan() {
    if (running) { return; }
    if (!navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== "function") {
      say("This browser cannot use a camera on this page (it needs HTTPS). Type the code instead.");
      return;
    }
    running = true;
    scanButton.disabled = true;
    say("Starting the camera…");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } },
                                          audio: false })
      .then(function (opened) {
        if (!running) {  // stopped while the browser asked for permission
          opened.getTracks().forEach(function (track) { track.stop(); });
          return null;
        }
        stream = opened;
        video.srcObject = opened;
        scanner.classList.remove("hidden");
        return Promise.all([video.play(), chooseDetector()]);
      })
      .then(function (ready) {
        if (!ready || !running) { return; }
        say("Hold the QR code on the customer's voucher in front of the camera. Escape stops.");
        stopButton.focus();
        scanFrames(ready[1]);
      })
      .catch(function (error) {
        stopScan();
        say(cameraProblem(error));
        input.focus();  // the scan button was disabled under the focus: give it back
      });
  }

  scanButton.addEventListener("click", startScan);
  stopButton.addEventListener("click", function () {
    stopScan();
    say("Camera stopped.");
    input.focus();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && running) {
      stopScan();
      say("Camera stopped.");
      input.focus();
    }
  });
  // Never leave the camera on behind the customer's back.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden && running) { stopScan(); say("Camera stopped."); }
  });
  window.addEventListener("pagehide", stopScan);
}());
