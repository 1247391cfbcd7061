// The market overview: the countdown to the next transition ticks, and the cards' numbers are
// fetched again every 20 seconds while the page is visible, and right after a transition (the
// phases and the auction results change). A refresh never moves keyboard focus: it waits while
// focus is inside the list.

import { startCountdown } from "./countdown.js";

const REFRESH_MS = 20000;
let refreshing = false;

async function refresh() {
  const list = document.querySelector("[data-instrument-list]");
  if (refreshing || document.visibilityState !== "visible" || !list) return;
  if (list.contains(document.activeElement)) return;
  refreshing = true;
  try {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (response.ok) {
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const replacement = fresh.querySelector("[data-instrument-list]");
      if (replacement && !list.contains(document.activeElement)) list.replaceWith(replacement);
    }
  } catch {
    // Offline for a moment: the next turn tries again.
  }
  refreshing = false;
}

startCountdown(document.querySelector("[data-market-clock]"), { onTransition: refresh });
setInterval(refresh, REFRESH_MS);
