// The countdown to the market's next scheduled transition. The server renders the instant as
// an ISO string in real time (the demo clock already converted with clock.to_real) and its own
// current time, so a client whose clock is off still counts correctly. At zero it asks the
// server for the next transition (the phase has changed) and goes on.

function pad(number) {
  return String(number).padStart(2, "0");
}

export function formatRemaining(milliseconds) {
  const total = Math.max(0, Math.ceil(milliseconds / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (hours >= 24) {
    const days = Math.floor(hours / 24);
    return `${days}d ${pad(hours % 24)}h ${pad(minutes)}m`;
  }
  return hours > 0 ? `${hours}:${pad(minutes)}:${pad(seconds)}` : `${minutes}:${pad(seconds)}`;
}

// root: an element with data-next-at, data-server-now and data-clock-url; its
// [data-countdown] child shows the time left, [data-next-label] what happens then and
// [data-phase-label] the current phase.
export function startCountdown(root, { onTransition = () => {} } = {}) {
  if (!root) return null;
  const output = root.querySelector("[data-countdown]");
  let skew = Date.parse(root.dataset.serverNow) - Date.now();
  if (!Number.isFinite(skew)) skew = 0;
  let target = Date.parse(root.dataset.nextAt);
  let refreshing = false;
  let retry = 0;

  async function refresh() {
    refreshing = true;
    try {
      const response = await fetch(root.dataset.clockUrl, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.ok) {
        const clock = await response.json();
        skew = Date.parse(clock.server_now) - Date.now();
        target = Date.parse(clock.next_at);
        root.dataset.phase = clock.phase;
        const phase = root.querySelector("[data-phase-label]");
        if (phase) phase.textContent = clock.phase_label;
        const next = root.querySelector("[data-next-label]");
        if (next) next.textContent = clock.next_label;
        retry = 0;
        onTransition(clock);
      } else {
        retry += 1;
      }
    } catch {
      retry += 1;
    }
    refreshing = false;
  }

  function tick() {
    const left = target - (Date.now() + skew);
    if (left > 0 || !Number.isFinite(target)) {
      output.textContent = Number.isFinite(target) ? formatRemaining(left) : "—";
    } else {
      output.textContent = "a moment";
      // Ask again a moment after the transition (and back off if the server is away).
      if (!refreshing && left < -500 * (1 + retry * retry)) {
        refresh();
      }
    }
  }

  tick();
  const timer = setInterval(tick, 250);
  return { stop: () => clearInterval(timer) };
}
