"use strict";
// Sends the credential once as JSON; the answer sets an HttpOnly session cookie, then the page reloads as the dashboard.
document.getElementById("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const token = document.getElementById("token").value;
  const body = token ? { token } : { user: document.getElementById("user").value, pass: document.getElementById("pass").value };
  const error = document.getElementById("login-error");
  error.textContent = "";
  try {
    const r = await fetch("/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (r.ok) { location.reload(); return; }
    const answer = await r.json().catch(() => ({}));
    error.textContent = answer.error || r.statusText;
  } catch (err) { error.textContent = String(err.message || err); }
});
// Until this script runs, the form posts itself (refused: not JSON), so a typed secret never lands in a URL.
document.getElementById("login-form").dataset.ready = "true";
