// Reads /analytics/recommendations (with the admin token when auth is required) and fills the table.
// The token stays in this tab's memory: never in a URL, a cookie or storage.
(function () {
  "use strict";
  const script = document.currentScript;
  const authRequired = script.dataset.authRequired === "true";
  const status = document.getElementById("status");
  const table = document.getElementById("figures");
  const body = table.querySelector("tbody");

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function render(data) {
    body.replaceChildren();
    for (const rec of data.recommendations) {
      const row = document.createElement("tr");
      row.dataset.recommendation = rec.recommendation;
      const name = cell(row, rec.title + " ");
      const code = document.createElement("code");
      code.textContent = rec.recommendation;
      name.appendChild(code);
      cell(row, rec.version);
      cell(row, String(rec.cardsIssued), "number");
      cell(row, String(rec.accepted), "number");
      cell(row, String(rec.overridden), "number");
      cell(row, rec.overrideRate === null ? "–" : (rec.overrideRate * 100).toFixed(1) + " %", "number override-rate");
      cell(row, rec.overrideReasons.map((r) => r.display + " (" + r.count + ")").join("; ") || "–");
      body.appendChild(row);
    }
    table.hidden = false;
    const list = document.querySelector("#unverified ul");
    list.replaceChildren();
    for (const item of data.unverifiedCitations) {
      const li = document.createElement("li");
      li.textContent = item.citation;
      list.appendChild(li);
    }
    document.getElementById("unverified").hidden = data.unverifiedCitations.length === 0;
    status.textContent = "Updated " + new Date().toLocaleString();
  }

  let adminToken = null;

  // The report links need the token too: fetch with it and hand the browser the file, never a URL with it.
  async function download(link) {
    const headers = {};
    if (adminToken) headers.Authorization = "Bearer " + adminToken;
    const response = await fetch(link.getAttribute("href"), { headers: headers });
    if (!response.ok) {
      status.textContent = response.status === 401
        ? "Enter the admin token to download the terminology report."
        : "Could not load the terminology report (HTTP " + response.status + ").";
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    const save = document.createElement("a");
    save.href = url;
    save.download = link.getAttribute("download");
    document.body.appendChild(save);
    save.click();
    save.remove();
    URL.revokeObjectURL(url);
  }

  if (authRequired) {
    for (const link of document.querySelectorAll("a.report")) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        download(link);
      });
    }
  }

  async function load(token) {
    status.textContent = "Loading…";
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    const response = await fetch("recommendations", { headers: headers });
    if (response.status === 401) {
      status.textContent = "The admin token was not accepted.";
      return;
    }
    if (!response.ok) {
      status.textContent = "Could not load the figures (HTTP " + response.status + ").";
      return;
    }
    render(await response.json());
  }

  document.getElementById("token-form").addEventListener("submit", function (event) {
    event.preventDefault();
    adminToken = document.getElementById("token").value;
    load(adminToken);
  });
  if (!authRequired) load(null);
})();
