// hotelbot staff console: live updates by server-sent events, no framework, no inline script
// (the Content-Security-Policy forbids it). An element #live with data-events (the stream)
// and data-fragment (the HTML to fetch again) is refreshed whenever the server says
// `changed`; on the board a new request also shows a notice and, when asked, beeps.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var notice = document.getElementById("notice");
  var sound = document.getElementById("sound");
  if (sound) {
    sound.checked = window.localStorage.getItem("hotelbot-sound") === "on";
    sound.addEventListener("change", function () {
      window.localStorage.setItem("hotelbot-sound", sound.checked ? "on" : "off");
    });
  }

  function beep() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return; }
    var ctx = new Ctx();
    var osc = ctx.createOscillator();
    var gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.15;
    osc.connect(gain);
    gain.connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.25);
  }

  function refresh(isNew) {
    fetch(live.dataset.fragment, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.status === 401 || response.redirected) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null || html === undefined) { return; }
        var focused = document.activeElement && document.activeElement.id;
        live.innerHTML = html;
        if (focused) {
          var again = document.getElementById(focused);
          if (again) { again.focus(); }
        }
        if (isNew && notice) {
          notice.textContent = "New request arrived (" + new Date().toLocaleTimeString() + ")";
          notice.hidden = false;
          if (sound && sound.checked) { beep(); }
        }
      });
  }

  var stream = new EventSource(live.dataset.events);
  stream.addEventListener("changed", function (event) {
    var data = {};
    try { data = JSON.parse(event.data); } catch (e) { data = {}; }
    refresh(Boolean(data.new));
  });
  if (notice) {
    notice.addEventListener("click", function () { notice.hidden = true; });
  }
})();
