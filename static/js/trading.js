// The vehicle page's trading section: wires the tabs, the ticker, the chart, the book, the
// order form and the two streams (/ws/instruments/<SYMBOL>/ public, /ws/me/ private).
// The server renders the initial state; the streams keep it current without reloads.

import { onPick, renderBook } from "./book.js";
import { PriceChart } from "./chart.js";
import { formatPrice, formatQuantity } from "./money.js";
import { OrderForm } from "./orderform.js";
import { MarketStream } from "./stream.js";
import { initTabs } from "./tabs.js";
import { applyTicker, direction, flash } from "./ticker.js";

const ANNOUNCE_EVERY_MS = 10000;
const RECENT_TRADES = 15;
const STATUS_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  resyncing: "Catching up…",
  offline: "Reconnecting…",
  closed: "Offline",
};

const root = document.querySelector("[data-trading]");
const config = JSON.parse(document.getElementById("trading-config").textContent);
const tickerRoot = root.querySelector("[data-ticker]");
const bookRoot = root.querySelector("[data-book]");
const tradesBody = root.querySelector("[data-trades]");
const indicative = root.querySelector("[data-indicative]");
const statusBadge = root.querySelector("[data-stream-status]");
const announcer = root.querySelector("[data-price-announcer]");
const holdingsPanel = root.querySelector("[data-refresh-url]");
const ticket = root.querySelector("[data-order-ticket]");
const timeFormat = new Intl.DateTimeFormat("en-US", {
  timeZone: config.timeZone,
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});

let form = null; // The order form, when the user is signed in.

// --- the leaderboard: computed for the whole market, so fetched only when its tab is shown ----

let leaderboardLoaded = 0;
const LEADERBOARD_FRESH_MS = 30000;

async function loadLeaderboard() {
  if (Date.now() - leaderboardLoaded < LEADERBOARD_FRESH_MS) return;
  leaderboardLoaded = Date.now();
  const panel = root.querySelector("[data-leaderboard-url]");
  try {
    const response = await fetch(panel.dataset.leaderboardUrl, { credentials: "same-origin" });
    if (!response.ok) throw new Error(String(response.status));
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const board = fresh.querySelector("[data-leaderboard]");
    if (board) panel.querySelector("[data-leaderboard]").replaceWith(board);
  } catch {
    leaderboardLoaded = 0; // Try again the next time the tab is shown.
  }
}

// --- tabs -----------------------------------------------------------------------------------

const tablist = root.querySelector("[data-tablist]");
tablist.hidden = false;
root.classList.add("tabs-ready");
const tabs = initTabs(tablist, { onSelect: (name) => name === "leaderboard" && loadLeaderboard() });

// --- ticker, chart, book -----------------------------------------------------------------------

let lastTicker = config.initial.ticker || {};
let lastAnnounced = 0;

function showTicker(ticker) {
  lastTicker = { ...lastTicker, ...ticker };
  const moved = applyTicker(tickerRoot, lastTicker);
  applyTicker(root.querySelector("[data-ticker-facts]"), lastTicker);
  applyTicker(indicative, lastTicker);
  indicative.hidden = !lastTicker.indicative_price;
  root.dataset.phase = lastTicker.phase || "";
  if (form) form.setQuotes(lastTicker);
  if (moved) {
    flash(tickerRoot.querySelector(".ticker-price"), direction(lastTicker.change));
    announce();
  }
}

function announce() {
  const now = Date.now();
  if (now - lastAnnounced < ANNOUNCE_EVERY_MS) return;
  lastAnnounced = now;
  const change = tickerRoot.querySelector('[data-field="change"]').textContent.trim();
  announcer.textContent = `${config.symbol} ${formatPrice(lastTicker.last_price)}, ${change}`;
}

const chart = new PriceChart(root.querySelector("[data-chart]"), {
  timeZone: config.timeZone,
  emptyElement: root.querySelector("[data-chart-empty]"),
});
chart.setBars(config.initial.bars);

function addTradeRow(trade) {
  const empty = tradesBody.querySelector("[data-trades-empty]");
  if (empty) empty.remove();
  const row = document.createElement("tr");
  const time = document.createElement("td");
  const stamp = document.createElement("time");
  stamp.dateTime = trade.executed_at;
  stamp.textContent = timeFormat.format(new Date(trade.executed_at));
  time.append(stamp);
  const price = document.createElement("td");
  price.className = "numeric";
  price.textContent = formatPrice(trade.price);
  const quantity = document.createElement("td");
  quantity.className = "numeric";
  quantity.textContent = formatQuantity(trade.quantity);
  row.append(time, price, quantity);
  tradesBody.prepend(row);
  while (tradesBody.rows.length > RECENT_TRADES) tradesBody.deleteRow(-1);
}

function showTrades(trades) {
  tradesBody.replaceChildren();
  const newestFirst = [...trades].sort((a, b) => Date.parse(a.executed_at) - Date.parse(b.executed_at));
  for (const trade of newestFirst.slice(-RECENT_TRADES)) addTradeRow(trade);
  if (!trades.length) {
    const row = document.createElement("tr");
    row.dataset.tradesEmpty = "";
    row.innerHTML = '<td colspan="3" class="muted">No trades yet.</td>';
    tradesBody.append(row);
  }
}

// --- order ticket ----------------------------------------------------------------------------

function openTicket() {
  if (!ticket) return;
  ticket.hidden = false;
}

if (ticket) {
  const closeButton = ticket.querySelector("[data-close-order]");
  ticket.hidden = true;
  closeButton.hidden = false;
  closeButton.addEventListener("click", () => {
    ticket.hidden = true;
    root.querySelector('[role="tab"][aria-selected="true"]').focus();
  });
  form = new OrderForm(ticket.querySelector("[data-order-form]"), {
    symbol: config.symbol,
    apiUrl: config.ordersApiUrl,
    buyerRate: config.fees.buyer,
    sellerRate: config.fees.seller,
    onPlaced: () => refreshHoldings(),
  });
  form.setQuotes(lastTicker);
  for (const button of root.querySelectorAll("[data-open-order]")) {
    button.addEventListener("click", () => {
      const side = button.dataset.openOrder;
      const quote = side === "buy" ? lastTicker.best_ask : lastTicker.best_bid;
      openTicket();
      form.fill({ side, price: quote || lastTicker.last_price || lastTicker.reference_price });
    });
  }
  onPick(bookRoot, ({ price, side }) => {
    openTicket();
    form.fill({ side, price });
  });
  root.addEventListener("click", (event) => {
    const quickSell = event.target.closest("[data-quick-sell]");
    if (!quickSell) return;
    event.preventDefault();
    openTicket();
    form.fill({
      side: "sell",
      price: quickSell.dataset.price,
      quantity: quickSell.dataset.quantity,
      confirm: true,
    });
  });
}

// --- the private panel: re-rendered by the server when the user's orders or holdings move ----

let refreshTimer = null;

function refreshHoldings() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    try {
      const response = await fetch(holdingsPanel.dataset.refreshUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const replacement = fresh.querySelector("[data-holdings]");
      const current = holdingsPanel.querySelector("[data-holdings]");
      if (!replacement || !current) return;
      const hadFocus = current.contains(document.activeElement);
      current.replaceWith(replacement);
      if (hadFocus) holdingsPanel.focus();
    } catch {
      // Offline: the stream's next snapshot triggers another refresh.
    }
  }, 150);
}

// --- streams ---------------------------------------------------------------------------------

function onInstrument(type, data) {
  if (type === "snapshot") {
    if (data.ticker) showTicker(data.ticker);
    if (data.book) renderBook(bookRoot, data.book);
    if (Array.isArray(data.bars)) chart.setBars(data.bars);
    if (Array.isArray(data.trades)) showTrades(data.trades);
    return;
  }
  if (type === "ticker") showTicker(data);
  else if (type === "book") renderBook(bookRoot, data);
  else if (type === "trade") {
    chart.addTrade(data);
    addTradeRow(data);
  } else if (type === "phase" || type === "indicative") showTicker(data);
}

let privateSnapshots = 0;

function onPrivate(type, data) {
  if (type === "snapshot") {
    privateSnapshots += 1;
    if (data.account && form) form.setCashAvailable(data.account.cash_available);
    const positions = data.positions || (data.portfolio && data.portfolio.positions) || [];
    const mine = positions.find((row) => row.symbol === config.symbol);
    if (form) form.setSharesAvailable(mine ? mine.quantity_available : 0);
    // The first snapshot describes what the server just rendered; a later one follows a gap
    // or a reconnect, when the panel may be stale.
    if (privateSnapshots > 1) refreshHoldings();
    return;
  }
  if (type === "account" && form) form.setCashAvailable(data.cash_available);
  if (type === "position" && data.symbol === config.symbol && form) {
    form.setSharesAvailable(data.quantity_available);
  }
  if (["order", "fill", "position", "account"].includes(type)) refreshHoldings();
}

function showStatus(status) {
  statusBadge.dataset.status = status;
  statusBadge.textContent = STATUS_TEXT[status] || status;
}

new MarketStream(config.streams.instrument, { onMessage: onInstrument, onStatus: showStatus }).start();
if (config.streams.me) {
  new MarketStream(config.streams.me, { onMessage: onPrivate }).start();
}

// Deep links (#book, #portfolio) select their tab; the section itself is #trading.
window.addEventListener("hashchange", () => tabs.show(window.location.hash.slice(1)));
