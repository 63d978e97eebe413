// The player of the media, watch and embed pages: hls.js where Media Source Extensions exist, the browser's
// own HLS (Safari) otherwise, with quality, audio and subtitle menus and chapter markers.
"use strict";

(function () {
  const box = document.getElementById("player-box");
  if (!box) return;
  const video = box.querySelector("video");
  const menus = Object.fromEntries([...box.querySelectorAll("[data-menu]")].map((s) => [s.dataset.menu, s]));
  const errorBox = box.querySelector('[data-role="player-error"]');
  const src = box.dataset.src;
  window.playerErrors = [];

  function option(select, value, label, selected) {
    const o = document.createElement("option");
    o.value = String(value);
    o.textContent = label;
    o.selected = Boolean(selected);
    select.append(o);
  }

  function chapters() {
    const list = box.querySelector('[data-role="chapters"]');
    const items = JSON.parse(box.dataset.chapters || "[]");
    if (!list || !items.length) return;
    for (const chapter of items) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      const minutes = Math.floor(chapter.start / 60);
      const seconds = String(Math.floor(chapter.start % 60)).padStart(2, "0");
      button.textContent = `${minutes}:${seconds} ${chapter.title}`;
      button.addEventListener("click", () => { video.currentTime = chapter.start; video.play(); });
      li.append(button);
      list.append(li);
    }
  }

  function fail(message) {
    window.playerErrors.push(message);
    if (errorBox) { errorBox.textContent = `Playback error: ${message}`; errorBox.hidden = false; }
  }

  chapters();
  if (window.Hls && window.Hls.isSupported()) {
    const hls = new window.Hls({ enableWorker: false });
    window.hls = hls;
    hls.on(window.Hls.Events.ERROR, (_, data) => { if (data.fatal) fail(`${data.type}: ${data.details}`); });
    hls.on(window.Hls.Events.MANIFEST_PARSED, () => {
      hls.levels.forEach((level, i) => option(menus.quality, i, `${level.height}p`));
    });
    hls.on(window.Hls.Events.AUDIO_TRACKS_UPDATED, () => {
      menus.audio.replaceChildren();
      hls.audioTracks.forEach((t, i) => option(menus.audio, i, t.name || t.lang || `Track ${i + 1}`, i === hls.audioTrack));
    });
    hls.on(window.Hls.Events.SUBTITLE_TRACKS_UPDATED, () => {
      menus.subtitles.replaceChildren();
      option(menus.subtitles, -1, "Off", hls.subtitleTrack === -1);
      hls.subtitleTracks.forEach((t, i) => option(menus.subtitles, i, t.name || t.lang || `Subtitles ${i + 1}`, i === hls.subtitleTrack));
    });
    menus.quality.addEventListener("change", () => { hls.currentLevel = Number(menus.quality.value); });
    menus.audio.addEventListener("change", () => { hls.audioTrack = Number(menus.audio.value); });
    menus.subtitles.addEventListener("change", () => {
      const index = Number(menus.subtitles.value);
      hls.subtitleDisplay = index >= 0;
      hls.subtitleTrack = index;
    });
    hls.loadSource(src);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = src; // Safari: native HLS brings its own quality, audio and subtitle menus
    box.querySelector(".player-menus").hidden = true;
  } else {
    fail("this browser cannot play HLS");
  }
  video.addEventListener("error", () => fail(video.error ? video.error.message || `code ${video.error.code}` : "unknown"));
})();
