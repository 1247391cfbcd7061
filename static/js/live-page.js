// Private pages (My orders, Portfolio): when the user's stream (/ws/me/) reports an order, a
// fill, a position or a cash change, the page's [data-live] parts are fetched again from the
// server and swapped in place: the server renders them, so the page never shows a state the
// server would not. A part holding keyboard focus waits for the next change.

import { MarketStream } from "./stream.js";

const REFRESH_AFTER_MS = 200;
let timer = null;
let loaded = false; // The first snapshot describes the page as the server just rendered it.

async function refresh() {
  try {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const part of document.querySelectorAll("[data-live][id]")) {
      const replacement = fresh.getElementById(part.id);
      if (replacement && !part.contains(document.activeElement)) part.replaceWith(replacement);
    }
  } catch {
    // Offline for a moment: the stream's next message tries again.
  }
}

function onMessage(type) {
  if (type === "snapshot" && !loaded) {
    loaded = true;
    return;
  }
  if (["snapshot", "order", "fill", "position", "account"].includes(type)) {
    clearTimeout(timer);
    timer = setTimeout(refresh, REFRESH_AFTER_MS);
  }
}

new MarketStream("/ws/me/", { onMessage }).start();
