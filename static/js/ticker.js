// The ticker: fills every [data-field] inside a ticker element from a ticker object (the
// REST API's and the stream's field names). The server renders the same markup first, so the
// page reads the same before and after the first live update.

import { amountToCents, formatCents, formatPrice, formatQuantity } from "./money.js";

const PHASE_LABELS = {
  pre_open: "Pre-open (call)",
  continuous: "Continuous trading",
  closing_call: "Closing call",
  halted: "Halted",
  delisted: "Delisted",
};

export function phaseLabel(phase) {
  return PHASE_LABELS[phase] || phase || "—";
}

// Direction of a signed amount string: "up", "down" or "flat".
export function direction(text) {
  const cents = amountToCents(text);
  if (cents === null || cents === 0n) {
    return "flat";
  }
  return cents > 0n ? "up" : "down";
}

const ARROWS = { up: "▲", down: "▼", flat: "■" };
const WORDS = { up: "Up", down: "Down", flat: "Unchanged" };

function percentText(text) {
  if (text === null || text === undefined || text === "") {
    return "";
  }
  const value = String(text).replace(/^-/, "−");
  return value.startsWith("−") ? `${value}%` : `+${value}%`;
}

// The change vs the previous close: arrow AND sign AND colour, never colour alone.
export function renderChange(element, change, percent) {
  const way = direction(change);
  element.classList.remove("up", "down", "flat");
  element.classList.add(way);
  element.replaceChildren();
  if (change === null || change === undefined || change === "") {
    element.textContent = "—";
    return;
  }
  const arrow = document.createElement("span");
  arrow.setAttribute("aria-hidden", "true");
  arrow.textContent = ARROWS[way];
  const word = document.createElement("span");
  word.className = "visually-hidden";
  word.textContent = `${WORDS[way]} `;
  const cents = amountToCents(change);
  const amount = formatCents(cents, { signed: true }).replace("$", "");
  const pct = percentText(percent);
  element.append(arrow, " ", word, pct ? `${amount} (${pct})` : amount);
}

function setText(element, text) {
  if (element.textContent !== text) {
    element.textContent = text;
  }
}

function spread(ticker) {
  if (ticker.spread !== undefined && ticker.spread !== null) {
    return ticker.spread;
  }
  const bid = amountToCents(ticker.best_bid);
  const ask = amountToCents(ticker.best_ask);
  if (bid === null || ask === null) {
    return null;
  }
  return formatCents(ask - bid).replace("$", "");
}

// Fill a ticker element. Returns true when the last price changed.
export function applyTicker(root, ticker) {
  if (!root || !ticker) {
    return false;
  }
  const before = root.dataset.lastPrice || "";
  const values = { ...ticker, spread: spread(ticker) };
  for (const element of root.querySelectorAll("[data-field]")) {
    const field = element.dataset.field;
    if (field === "change") {
      if ("change" in ticker) {
        renderChange(element, ticker.change, ticker.change_percent);
      }
      continue;
    }
    if (!(field in values)) {
      continue;
    }
    const value = values[field];
    const format = element.dataset.format || "text";
    let text;
    if (format === "price") {
      text = value === null || value === undefined ? "—" : formatPrice(value);
    } else if (format === "quantity") {
      text = formatQuantity(value);
    } else if (format === "phase") {
      text = phaseLabel(value);
      root.dataset.phase = value || "";
    } else {
      text = value === null || value === undefined ? "—" : String(value);
    }
    setText(element, text);
  }
  if (ticker.last_price !== undefined) {
    root.dataset.lastPrice = ticker.last_price || "";
  }
  for (const field of ["best_bid", "best_ask", "last_price", "previous_close"]) {
    if (field in ticker) {
      root.dataset[camel(field)] = ticker[field] || "";
    }
  }
  return before !== (root.dataset.lastPrice || "");
}

function camel(name) {
  return name.replace(/_(\w)/g, (_, letter) => letter.toUpperCase());
}

// Show a brief highlight on an element whose value changed (respects reduced motion in CSS).
export function flash(element, way) {
  if (!element) {
    return;
  }
  element.classList.remove("flash-up", "flash-down");
  // Restart the animation.
  void element.offsetWidth;
  element.classList.add(way === "down" ? "flash-down" : "flash-up");
}
