// The price chart: 1-minute bars of the last 30 minutes, drawn with TradingView's Lightweight
// Charts (vendored under static/vendor/, loaded before this module as window.LightweightCharts).
// Bars come from the server; each live trade updates the current minute's bar.

import { amountToCents } from "./money.js";

const WINDOW_SECONDS = 30 * 60;

function priceNumber(text) {
  // A display coordinate for the chart only: money itself is never computed from it.
  const cents = amountToCents(text);
  return cents === null ? null : Number(cents) / 100;
}

function seconds(iso) {
  return Math.floor(Date.parse(iso) / 1000);
}

function toBar(bar) {
  return {
    time: seconds(bar.start_at || bar.time || bar.opened_at || bar.minute),
    open: priceNumber(bar.open),
    high: priceNumber(bar.high),
    low: priceNumber(bar.low),
    close: priceNumber(bar.close),
  };
}

export class PriceChart {
  // element: the chart's container; timeZone: the market's zone for the axis labels.
  constructor(element, { timeZone = "America/New_York", emptyElement = null } = {}) {
    this.element = element;
    this.emptyElement = emptyElement;
    this.bars = new Map();
    this.chart = null;
    this.series = null;
    const library = window.LightweightCharts;
    if (!library || !element) {
      return;
    }
    const clock = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hour: "2-digit",
      minute: "2-digit",
      hour12: false,
    });
    const formatTime = (time) => clock.format(new Date(time * 1000));
    this.chart = library.createChart(element, {
      autoSize: true,
      height: element.clientHeight || 260,
      layout: {
        background: { type: "solid", color: "#ffffff" },
        textColor: "#4b5563",
        fontFamily: getComputedStyle(document.body).fontFamily,
      },
      grid: { vertLines: { color: "#eef0f3" }, horzLines: { color: "#eef0f3" } },
      rightPriceScale: { borderColor: "#d7dbe1" },
      timeScale: {
        borderColor: "#d7dbe1",
        timeVisible: true,
        secondsVisible: false,
        tickMarkFormatter: formatTime,
      },
      localization: { timeFormatter: formatTime, priceFormatter: (p) => p.toFixed(2) },
      handleScroll: false,
      handleScale: false,
    });
    this.series = this.chart.addCandlestickSeries({
      upColor: "#166534",
      downColor: "#b91c1c",
      borderUpColor: "#166534",
      borderDownColor: "#b91c1c",
      wickUpColor: "#166534",
      wickDownColor: "#b91c1c",
    });
  }

  // Replace every bar (from a snapshot or the server-rendered page).
  setBars(bars) {
    this.bars.clear();
    for (const bar of bars || []) {
      const point = toBar(bar);
      if (Number.isFinite(point.time) && point.close !== null) {
        this.bars.set(point.time, point);
      }
    }
    this._draw(true);
  }

  // A trade {price, quantity, executed_at}: extend the bar of its minute.
  addTrade(trade) {
    const price = priceNumber(trade.price);
    const at = seconds(trade.executed_at);
    if (price === null || !Number.isFinite(at)) {
      return;
    }
    const minute = at - (at % 60);
    const bar = this.bars.get(minute);
    if (bar) {
      bar.high = Math.max(bar.high, price);
      bar.low = Math.min(bar.low, price);
      bar.close = price;
    } else {
      this.bars.set(minute, { time: minute, open: price, high: price, low: price, close: price });
    }
    this._draw(false, minute);
  }

  _draw(all, minute) {
    const times = [...this.bars.keys()].sort((a, b) => a - b);
    const newest = times.length ? times[times.length - 1] : 0;
    for (const time of times) {
      if (time < newest - WINDOW_SECONDS) {
        this.bars.delete(time);
      }
    }
    if (this.emptyElement) {
      this.emptyElement.hidden = this.bars.size > 0;
    }
    if (!this.series) {
      return;
    }
    const latest = this.bars.get(minute);
    if (!all && latest && minute >= newest) {
      this.series.update(latest);
      return;
    }
    this.series.setData([...this.bars.values()].sort((a, b) => a.time - b.time));
    this.chart.timeScale().fitContent();
  }
}
