// The order form: limit or market, quantity, price, time in force; a live preview of the cost,
// the fee and the cash left (a sell: the proceeds after the fee), computed in integer cents
// with the server's rounding (fees half-up). It posts to the REST API with the session and the
// CSRF token, and shows the API's {"code", "detail", "fields"} errors next to the fields.
// Without JavaScript the same form posts to a Django view that does the same.

import { feeCents, formatCents, rateToPpm, toCents } from "./money.js";

const FIELDS = ["side", "type", "quantity", "price", "time_in_force"];

function newClientOrderId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return `web-${window.crypto.randomUUID()}`;
  }
  return `web-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
}

export class OrderForm {
  constructor(form, { symbol, apiUrl, buyerRate, sellerRate, onPlaced = () => {} }) {
    this.form = form;
    this.symbol = symbol;
    this.apiUrl = apiUrl;
    this.buyerPpm = rateToPpm(buyerRate);
    this.sellerPpm = rateToPpm(sellerRate);
    this.onPlaced = onPlaced;
    this.cashAvailable = toCents(form.dataset.cashAvailable);
    this.sharesAvailable = form.dataset.sharesAvailable
      ? Number(form.dataset.sharesAvailable)
      : null;
    this.bestBid = null;
    this.bestAsk = null;
    this.reference = null;
    this.confirmNext = null;
    this.busy = false;
    this.status = form.querySelector("[data-order-status]");
    this.dialog = document.getElementById(form.dataset.confirmDialog || "");
    this.clientOrderId = form.querySelector('[name="client_order_id"]');
    this.clientOrderId.value = newClientOrderId();
    form.addEventListener("input", () => this.update());
    form.addEventListener("change", () => this.update());
    form.addEventListener("submit", (event) => this.submit(event));
    this.update();
  }

  field(name) {
    return this.form.elements.namedItem(name);
  }

  value(name) {
    const element = this.field(name);
    if (element instanceof RadioNodeList) {
      return element.value;
    }
    return element ? element.value : "";
  }

  // Market data the preview needs: best bid and ask, the reference price.
  setQuotes({ best_bid: bid, best_ask: ask, last_price: last, reference_price: reference }) {
    if (bid !== undefined) this.bestBid = toCents(bid);
    if (ask !== undefined) this.bestAsk = toCents(ask);
    const ref = reference !== undefined ? reference : last;
    if (ref !== undefined && ref !== null) this.reference = toCents(ref);
    this.update();
  }

  setCashAvailable(amount) {
    this.cashAvailable = toCents(amount);
    this.update();
  }

  setSharesAvailable(quantity) {
    this.sharesAvailable = quantity === null || quantity === undefined ? null : Number(quantity);
    this.update();
  }

  // Prefill from the book (a level's price and the opposite side) or a quick-sell.
  fill({ side, price, quantity, type = "limit", confirm = false }) {
    this.setValue("side", side);
    this.setValue("type", type);
    if (price !== undefined && price !== null) this.setValue("price", price);
    if (quantity !== undefined) this.setValue("quantity", String(quantity));
    this.confirmNext = confirm ? { side, price, quantity } : null;
    this.clearErrors();
    this.announce("");
    this.update();
    const target = this.field("quantity");
    target.focus();
    this.form.scrollIntoView({ block: "nearest" });
  }

  setValue(name, value) {
    const element = this.field(name);
    if (element instanceof RadioNodeList) {
      for (const radio of element) radio.checked = radio.value === value;
    } else if (element) {
      element.value = value;
    }
  }

  // The price the preview assumes: the limit, or for a market order the best opposite
  // price (else the reference price).
  previewPrice() {
    if (this.value("type") === "limit") {
      return toCents(this.value("price"));
    }
    const side = this.value("side");
    const quote = side === "buy" ? this.bestAsk : this.bestBid;
    return quote !== null ? quote : this.reference;
  }

  update() {
    const isMarket = this.value("type") === "market";
    const price = this.field("price");
    price.disabled = isMarket;
    price.required = !isMarket;
    this.form.classList.toggle("is-market", isMarket);
    const tif = this.field("time_in_force");
    if (tif && isMarket && tif.value !== "day") {
      tif.value = "day";
    }
    if (tif) tif.disabled = isMarket;
    const side = this.value("side");
    this.form.dataset.side = side;
    const submit = this.form.querySelector('[type="submit"]');
    if (submit) {
      const prefix = this.form.querySelector('[name="confirm"]') ? "Confirm: " : "";
      submit.textContent = `${prefix}${side === "sell" ? "Sell" : "Buy"} ${this.symbol}`;
    }

    const quantityText = this.value("quantity");
    const quantity = /^\d+$/.test(quantityText) ? BigInt(quantityText) : null;
    const unitPrice = this.previewPrice();
    const out = (name, text) => {
      const element = this.form.querySelector(`[data-preview="${name}"]`);
      if (element) element.textContent = text;
    };
    if (this.cashAvailable !== null) out("cash_available", formatCents(this.cashAvailable));
    this.form.querySelector("[data-preview-estimate]").hidden = !isMarket;
    this.form.querySelector("[data-preview-buy]").hidden = side !== "buy";
    this.form.querySelector("[data-preview-sell]").hidden = side !== "sell";
    if (quantity === null || quantity === 0n || unitPrice === null) {
      for (const name of ["notional", "fee", "seller_fee", "total", "cash_left", "proceeds", "shares_left"]) {
        out(name, "—");
      }
      return;
    }
    const notional = unitPrice * quantity;
    if (side === "buy") {
      const fee = feeCents(notional, this.buyerPpm);
      const total = notional + fee;
      out("notional", formatCents(notional));
      out("fee", formatCents(fee));
      out("total", formatCents(total));
      const left = this.cashAvailable === null ? null : this.cashAvailable - total;
      out("cash_left", left === null ? "—" : formatCents(left));
      this.form.classList.toggle("is-short", left !== null && left < 0n);
    } else {
      const fee = feeCents(notional, this.sellerPpm);
      out("notional", formatCents(notional));
      out("seller_fee", formatCents(fee));
      out("proceeds", formatCents(notional - fee));
      const left = this.sharesAvailable === null ? null : this.sharesAvailable - Number(quantity);
      out("shares_left", left === null ? "—" : left.toLocaleString("en-US"));
      this.form.classList.toggle("is-short", left !== null && left < 0);
    }
  }

  clearErrors() {
    for (const list of this.form.querySelectorAll("[data-error-for]")) {
      list.replaceChildren();
      list.hidden = true;
    }
    for (const name of FIELDS) {
      const element = this.field(name);
      const targets = element instanceof RadioNodeList ? [...element] : [element];
      for (const target of targets) target && target.removeAttribute("aria-invalid");
    }
  }

  showErrors(body) {
    this.clearErrors();
    const fields = (body && body.fields) || {};
    let placed = false;
    for (const [name, messages] of Object.entries(fields)) {
      const list = this.form.querySelector(`[data-error-for="${name}"]`);
      if (!list) continue;
      for (const message of [].concat(messages)) {
        const item = document.createElement("li");
        item.textContent = message;
        list.append(item);
      }
      list.hidden = false;
      const element = this.field(name);
      const targets = element instanceof RadioNodeList ? [...element] : [element];
      for (const target of targets) target && target.setAttribute("aria-invalid", "true");
      if (!placed) {
        (targets[0] || this.form).focus();
        placed = true;
      }
    }
    if (!placed) {
      const list = this.form.querySelector('[data-error-for="__all__"]');
      const item = document.createElement("li");
      item.textContent = (body && body.detail) || "The order could not be placed. Try again.";
      list.append(item);
      list.hidden = false;
    }
  }

  announce(text, kind = "success") {
    if (!this.status) return;
    this.status.textContent = text;
    this.status.className = text ? `message message-${kind}` : "";
  }

  payload() {
    const data = {
      symbol: this.symbol,
      side: this.value("side"),
      type: this.value("type"),
      quantity: /^\d+$/.test(this.value("quantity")) ? Number(this.value("quantity")) : this.value("quantity"),
      time_in_force: this.value("type") === "market" ? "day" : this.value("time_in_force"),
      client_order_id: this.clientOrderId.value,
    };
    if (data.type === "limit") data.price = this.value("price").trim();
    return data;
  }

  async confirm(data) {
    if (!this.dialog || typeof this.dialog.showModal !== "function") {
      return true;
    }
    const summary = this.dialog.querySelector("[data-confirm-summary]");
    const price = data.price ? ` at $${data.price}` : " at the market";
    const proceeds = this.form.querySelector('[data-preview="proceeds"]').textContent;
    summary.textContent = `Sell ${data.quantity} ${this.symbol}${price}? You receive about ${proceeds} after the fee.`;
    return new Promise((resolve) => {
      const done = () => {
        this.dialog.removeEventListener("close", done);
        resolve(this.dialog.returnValue === "confirm");
      };
      this.dialog.returnValue = "";
      this.dialog.addEventListener("close", done);
      this.dialog.showModal();
    });
  }

  async submit(event) {
    if (!this.apiUrl) return; // The order page: the form posts itself to the Django view.
    event.preventDefault();
    if (this.busy) return;
    if (!this.form.reportValidity()) return;
    const data = this.payload();
    if (this.confirmNext) {
      const confirmed = await this.confirm(data);
      if (!confirmed) {
        this.announce("Not sent: the sale was not confirmed.", "info");
        return;
      }
    }
    this.busy = true;
    this.form.setAttribute("aria-busy", "true");
    this.clearErrors();
    this.announce("");
    const csrf = this.form.querySelector('[name="csrfmiddlewaretoken"]').value;
    let response;
    let body = null;
    try {
      response = await fetch(this.apiUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrf,
        },
        body: JSON.stringify(data),
      });
      body = await response.json().catch(() => null);
    } catch {
      // Network down: the same client_order_id makes a retry safe (never a second order).
      this.showErrors({ detail: "The market could not be reached. Check the connection and try again." });
      this.busy = false;
      this.form.removeAttribute("aria-busy");
      return;
    }
    this.busy = false;
    this.form.removeAttribute("aria-busy");
    if (response.ok && body) {
      this.confirmNext = null;
      this.clientOrderId.value = newClientOrderId();
      this.announce(describe(body, this.symbol));
      this.onPlaced(body);
      return;
    }
    if (response.status === 403 || response.status === 401) {
      this.showErrors({ detail: "Your session has ended: log in again to trade." });
      return;
    }
    this.clientOrderId.value = newClientOrderId();
    this.showErrors(body);
  }
}

const STATUS_WORDS = {
  open: "open in the book",
  partially_filled: "partly filled, the rest is open",
  filled: "filled",
  cancelled: "cancelled",
  expired: "expired",
  rejected: "rejected",
};

function describe(order, symbol) {
  const side = order.side === "sell" ? "Sell" : "Buy";
  const price = order.price ? ` at $${order.price}` : " at the market";
  const filled =
    order.filled_quantity && order.status !== "filled"
      ? ` (${order.filled_quantity} filled)`
      : "";
  const status = STATUS_WORDS[order.status] || order.status;
  return `Order #${order.id} placed: ${side} ${order.quantity} ${symbol}${price}: ${status}${filled}.`;
}
