// The order page (a quick-sell's confirmation, and the form without the vehicle page): the live
// preview of cost, fee and cash left. The form posts itself to the Django view.

import { OrderForm } from "./orderform.js";

const config = JSON.parse(document.getElementById("ticket-config").textContent);
const form = new OrderForm(document.querySelector("[data-order-form]"), {
  symbol: config.symbol,
  apiUrl: null,
  buyerRate: config.fees.buyer,
  sellerRate: config.fees.seller,
});
form.setQuotes(config.ticker);
