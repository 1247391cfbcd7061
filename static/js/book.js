// The order book: top levels of bids and asks with depth bars. Each level is a button:
// choosing it fills the order form with that price and the opposite side (hit a bid = sell,
// lift an ask = buy).

import { formatPrice, formatQuantity } from "./money.js";

function levelRow(level, side, widest) {
  const row = document.createElement("tr");
  const depth = widest > 0 ? Math.max(2, Math.round((100 * level.quantity) / widest)) : 0;
  row.style.setProperty("--depth", `${depth}%`);
  row.className = `book-level book-${side}`;

  const priceCell = document.createElement("td");
  priceCell.className = "numeric";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "book-pick";
  button.dataset.price = level.price;
  button.dataset.side = side === "bid" ? "sell" : "buy";
  const price = formatPrice(level.price);
  button.textContent = price;
  button.setAttribute(
    "aria-label",
    `${side === "bid" ? "Sell" : "Buy"} at ${price} (${formatQuantity(level.quantity)} ${
      side === "bid" ? "bid" : "offered"
    })`,
  );
  priceCell.append(button);

  const quantityCell = document.createElement("td");
  quantityCell.className = "numeric book-size";
  quantityCell.textContent = formatQuantity(level.quantity);
  const ordersCell = document.createElement("td");
  ordersCell.className = "numeric muted";
  ordersCell.textContent = formatQuantity(level.orders);
  row.append(priceCell, quantityCell, ordersCell);
  return row;
}

function emptyRow(text) {
  const row = document.createElement("tr");
  const cell = document.createElement("td");
  cell.colSpan = 3;
  cell.className = "muted";
  cell.textContent = text;
  row.append(cell);
  return row;
}

// Render {bids, asks} into the book element (its tbody[data-book-side="bid"|"ask"]).
export function renderBook(root, book) {
  if (!root || !book) {
    return;
  }
  const bids = book.bids || [];
  const asks = book.asks || [];
  const widest = Math.max(0, ...bids.map((l) => l.quantity), ...asks.map((l) => l.quantity));
  const bidBody = root.querySelector('[data-book-side="bid"]');
  const askBody = root.querySelector('[data-book-side="ask"]');
  const focused = document.activeElement && root.contains(document.activeElement)
    ? document.activeElement.dataset.price + document.activeElement.dataset.side
    : null;
  bidBody.replaceChildren(
    ...(bids.length ? bids.map((l) => levelRow(l, "bid", widest)) : [emptyRow("No bids")]),
  );
  askBody.replaceChildren(
    ...(asks.length ? asks.map((l) => levelRow(l, "ask", widest)) : [emptyRow("No offers")]),
  );
  if (focused) {
    // Keep keyboard focus on the same level across a refresh.
    for (const button of root.querySelectorAll(".book-pick")) {
      if (button.dataset.price + button.dataset.side === focused) {
        button.focus();
        break;
      }
    }
  }
}

// Call onPick({price, side}) when a level is chosen (click, Enter or Space: they are buttons).
export function onPick(root, handler) {
  root.addEventListener("click", (event) => {
    const button = event.target.closest(".book-pick");
    if (button && root.contains(button)) {
      handler({ price: button.dataset.price, side: button.dataset.side });
    }
  });
}
