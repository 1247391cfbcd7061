// Money on the page: amounts travel as decimal strings ("98.50") and are computed here in
// integer cents (BigInt), never in floating point, with the same rounding as the server.

const CENTS_PATTERN = /^(-)?(\d+)(?:\.(\d{1,2}))?$/;

// "98.5" -> 9850n; null for anything that is not a plain amount with at most two decimals.
export function toCents(text) {
  if (text === null || text === undefined) {
    return null;
  }
  const match = CENTS_PATTERN.exec(String(text).trim());
  if (!match) {
    return null;
  }
  const cents = BigInt(match[2]) * 100n + BigInt((match[3] || "").padEnd(2, "0"));
  return match[1] ? -cents : cents;
}

// Server amounts may carry more places (an average cost "98.1234"): round half-up to cents.
export function amountToCents(text) {
  if (text === null || text === undefined || text === "") {
    return null;
  }
  const match = /^(-)?(\d+)(?:\.(\d+))?$/.exec(String(text).trim());
  if (!match) {
    return null;
  }
  const fraction = (match[3] || "").padEnd(3, "0");
  let cents = BigInt(match[2]) * 100n + BigInt(fraction.slice(0, 2));
  if (Number(fraction[2]) >= 5) {
    cents += 1n;
  }
  return match[1] ? -cents : cents;
}

// Rate as a decimal string ("0.01") -> parts per million (10000n), exactly.
export function rateToPpm(text) {
  const match = /^(\d+)(?:\.(\d{1,6}))?$/.exec(String(text).trim());
  if (!match) {
    return 0n;
  }
  return BigInt(match[1]) * 1000000n + BigInt((match[2] || "").padEnd(6, "0"));
}

// amount x rate, rounded half-up to the cent (the fee rule, MARKET_RULES section 2).
export function feeCents(notionalCents, ratePpm) {
  const product = notionalCents * ratePpm;
  const sign = product < 0n ? -1n : 1n;
  const magnitude = product * sign;
  return sign * ((magnitude + 500000n) / 1000000n);
}

// 123456n -> "$1,234.56"; signed: "+$1,234.56" / "−$1,234.56".
export function formatCents(cents, { signed = false } = {}) {
  if (cents === null || cents === undefined) {
    return "—";
  }
  const negative = cents < 0n;
  const magnitude = negative ? -cents : cents;
  const dollars = (magnitude / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const rest = (magnitude % 100n).toString().padStart(2, "0");
  const sign = negative ? "−" : signed && magnitude > 0n ? "+" : "";
  return `${sign}$${dollars}.${rest}`;
}

// A price string as shown in tables: "98.5" -> "98.50", with thousands separators.
export function formatPrice(text) {
  const cents = amountToCents(text);
  return cents === null ? "—" : formatCents(cents).replace("$", "");
}

export function formatQuantity(value) {
  if (value === null || value === undefined || value === "") {
    return "—";
  }
  return Number(value).toLocaleString("en-US");
}
