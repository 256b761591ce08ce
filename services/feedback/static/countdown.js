// Keeps each follow-up deadline's "time left" current without reloading; the server's text
// stands without JavaScript. Updates once a minute.
(function () {
  function span(seconds) {
    var d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600),
        m = Math.floor(seconds % 3600 / 60);
    if (d) return d + " d " + h + " h";
    if (h) return h + " h " + (m < 10 ? "0" : "") + m + " min";
    return m ? m + " min" : "under a minute";
  }
  function tick() {
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("datetime")) - Date.now()) / 1000);
      el.textContent = left >= 0 ? span(left) + " left" : "overdue by " + span(-left);
      el.parentElement.classList.toggle("overdue", left < 0);
    });
  }
  tick();
  setInterval(tick, 60000);
})();
