// A WebSocket client for the market's streams (MARKET_RULES section 9).
//
// Messages are {"type", "seq", "data"}. The first one of a connection is a snapshot; after it
// every message carries the next sequence number. A gap (a message lost, or the server
// restarted) makes the client ignore what follows and ask for a fresh snapshot with
// {"type": "snapshot"}. A closed connection is reopened with exponential backoff and jitter;
// the new connection's first message is a snapshot again, so nothing is missed.

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 30000;
// The server's final answers: no such symbol, not signed in (or logged out). No reconnect.
const FINAL_CLOSE_CODES = new Set([4404, 4401]);

export class MarketStream {
  // path: "/ws/instruments/CAR1/" or "/ws/me/".
  // onMessage(type, data, message): called for the snapshot and every message in order.
  // onStatus(status): "connecting", "live", "resyncing", "offline" (reconnecting soon) or
  // "closed" (the server refused the stream for good: unknown symbol, or signed out).
  constructor(path, { onMessage, onStatus = () => {} }) {
    this.path = path;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.socket = null;
    this.lastSeq = null;
    this.awaitingSnapshot = true;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this._onVisible = () => {
      if (document.visibilityState === "visible" && !this.socket && !this.stopped) {
        this._reconnectNow();
      }
    };
    this._onOnline = () => this._reconnectNow();
  }

  start() {
    this.stopped = false;
    document.addEventListener("visibilitychange", this._onVisible);
    window.addEventListener("online", this._onOnline);
    this._connect();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    document.removeEventListener("visibilitychange", this._onVisible);
    window.removeEventListener("online", this._onOnline);
    if (this.socket) {
      this.socket.close(1000);
      this.socket = null;
    }
  }

  // Ask for the whole current state again (also done automatically on a gap).
  resync() {
    this.awaitingSnapshot = true;
    this.onStatus("resyncing");
    this._send({ type: "snapshot" });
  }

  _url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${window.location.host}${this.path}`;
  }

  _connect() {
    clearTimeout(this.timer);
    this.onStatus("connecting");
    this.awaitingSnapshot = true;
    let socket;
    try {
      socket = new WebSocket(this._url());
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.addEventListener("message", (event) => this._receive(event.data));
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) {
        return;
      }
      this.socket = null;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.stop();
        this.onStatus("closed");
      } else if (!this.stopped) {
        this._scheduleReconnect();
      }
    });
    // An error is always followed by a close; the close schedules the reconnect.
    socket.addEventListener("error", () => {});
  }

  _reconnectNow() {
    if (this.stopped || (this.socket && this.socket.readyState <= WebSocket.OPEN)) {
      return;
    }
    this.attempt = 0;
    this._connect();
  }

  _scheduleReconnect() {
    this.onStatus("offline");
    const ceiling = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    this.timer = setTimeout(() => this._connect(), delay);
  }

  _send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }

  _receive(raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (!message || typeof message.type !== "string") {
      return;
    }
    const seq = typeof message.seq === "number" ? message.seq : null;
    if (message.type === "snapshot") {
      this.lastSeq = seq;
      this.awaitingSnapshot = false;
      this.attempt = 0;
      this.onStatus("live");
      this.onMessage(message.type, message.data || {}, message);
      return;
    }
    if (this.awaitingSnapshot) {
      return; // Whatever comes before the snapshot is included in it.
    }
    if (seq !== null && this.lastSeq !== null) {
      if (seq <= this.lastSeq) {
        return; // Already applied (a repeat).
      }
      if (seq !== this.lastSeq + 1) {
        this.resync();
        return;
      }
    }
    if (seq !== null) {
      this.lastSeq = seq;
    }
    this.onMessage(message.type, message.data || {}, message);
  }
}
