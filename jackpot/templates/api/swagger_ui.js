"use strict";
// "Try it out" signs its requests: an operator name and secret typed into the panel above
// the operations are kept in this browser only (localStorage) and every /be/ and /bc/
// request is signed with them, as the engine expects (betstack: white space removed from
// the body; strict: the exact bytes). Then drf-spectacular's own Swagger UI set-up runs.
(() => {
  const store = window.localStorage;
  const panel = document.createElement("form");
  panel.id = "jackpot-signing";
  panel.style.cssText = "font-family: sans-serif; padding: 12px 20px; background: #f4f6f8; border-bottom: 1px solid #d0d7de";
  panel.innerHTML =
    '<strong>Sign "Try it out" requests</strong> (kept in this browser only) ' +
    '<label>operator <input name="operator" autocomplete="off" size="16"></label> ' +
    '<label>secret <input name="secret" type="password" autocomplete="off" size="40"></label> ' +
    '<label>signing <select name="signing"><option>betstack</option><option>strict</option></select></label> ' +
    '<button type="submit">Save</button> <button type="button" name="forget">Forget</button> ' +
    '<span name="status"></span>';
  const field = (name) => panel.querySelector(`[name="${name}"]`);
  const show = () => {
    field("operator").value = store.getItem("jackpot.operator") || "";
    field("secret").value = store.getItem("jackpot.secret") || "";
    field("signing").value = store.getItem("jackpot.signing") || "betstack";
    field("status").textContent = store.getItem("jackpot.operator") ? "signing as " + store.getItem("jackpot.operator") : "not signing";
  };
  panel.addEventListener("submit", (event) => {
    event.preventDefault();
    for (const name of ["operator", "secret", "signing"]) store.setItem("jackpot." + name, field(name).value);
    show();
  });
  field("forget").addEventListener("click", () => {
    for (const name of ["operator", "secret", "signing"]) store.removeItem("jackpot." + name);
    show();
  });
  document.addEventListener("DOMContentLoaded", () => {
    document.body.insertBefore(panel, document.body.firstChild);
    show();
  });

  const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  const sign = async (secret, timestamp, body, strict) => {
    const kept = strict ? body : body.filter((b) => ![32, 9, 13, 10].includes(b));
    const message = new Uint8Array([...new TextEncoder().encode(timestamp), ...kept]);
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return hex(await crypto.subtle.sign("HMAC", key, message));
  };
  const originalFetch = window.fetch.bind(window);
  window.fetch = async (input, init = {}) => {
    const url = new URL(typeof input === "string" ? input : input.url, document.baseURI);
    const operator = store.getItem("jackpot.operator");
    if (!operator || !/^\/b[ec]\//.test(url.pathname) || /\/(schema|docs|redoc)$/.test(url.pathname)) {
      return originalFetch(input, init);
    }
    const body = init.body === undefined || init.body === null ? new Uint8Array() : new TextEncoder().encode(String(init.body));
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers = new Headers(init.headers || {});
    headers.set("timestamp", timestamp);
    headers.set("operator-name", operator);
    headers.set("signature", await sign(store.getItem("jackpot.secret") || "", timestamp, body, store.getItem("jackpot.signing") === "strict"));
    return originalFetch(input, { ...init, headers, body: init.body });
  };
})();

{% include "drf_spectacular/swagger_ui.js" %}
