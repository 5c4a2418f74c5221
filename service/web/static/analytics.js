// Reads the analytics JSON (with the admin token when auth is required) and fills the table, the charts and
// the governance section. The token is admin-page.js's (CghAdminPage): in this tab's memory only.
// Charts: Chart.js, vendored under static/vendor/chartjs (no CDN; the page's CSP allows only 'self').
(function () {
  "use strict";
  const authRequired = CghAdminPage.authRequired(document.currentScript);
  const status = document.getElementById("status");
  const table = document.getElementById("figures");
  const body = table.querySelector("tbody");
  const seriesSelect = document.getElementById("series");
  const fromInput = document.getElementById("range-from");
  const toInput = document.getElementById("range-to");
  const charts = {};
  let trends = null;

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function percent(rate) {
    return rate === null ? "–" : (rate * 100).toFixed(1) + " %";
  }

  function renderTotals(data) {
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
      cell(row, percent(rec.overrideRate), "number override-rate");
      cell(row, rec.overrideReasons.map((r) => r.display + " (" + r.count + ")").join("; ") || "–");
      cell(row, rec.mode, "mode");
      cell(row, String(rec.cardsSilent), "number");
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
  }

  function seriesKey(series) {
    return series.recommendation + "@" + series.version;
  }

  function draw(id, config) {
    if (charts[id]) charts[id].destroy();
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options);
    charts[id] = new Chart(document.getElementById(id), config);
  }

  function renderSeries() {
    const series = trends.series.find((s) => seriesKey(s) === seriesSelect.value);
    if (!series) return;
    draw("chart-daily", {
      type: "bar",
      data: {
        labels: series.daily.map((d) => d.day),
        datasets: [
          { label: "shown", data: series.daily.map((d) => d.shown), backgroundColor: "#2b6cb0" },
          { label: "silent", data: series.daily.map((d) => d.silent), backgroundColor: "#a0aec0" },
        ],
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
    });
    draw("chart-weekly", {
      type: "line",
      data: {
        labels: series.weekly.map((w) => w.week),
        datasets: [{ label: "override rate (%)", spanGaps: true, borderColor: "#c53030", backgroundColor: "#c53030",
                     data: series.weekly.map((w) => (w.overrideRate === null ? null : w.overrideRate * 100)) }],
      },
      options: { scales: { y: { min: 0, max: 100 } } },
    });
    const reasons = series.overrideReasons.slice(0, 5);
    draw("chart-reasons", {
      type: "bar",
      data: { labels: reasons.map((r) => r.display),
              datasets: [{ label: "overrides", data: reasons.map((r) => r.count), backgroundColor: "#dd6b20" }] },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
    draw("chart-suggestions", {
      type: "bar",
      data: {
        labels: series.suggestions.map((s) => s.label),
        datasets: [
          { label: "offered", data: series.suggestions.map((s) => s.offered), backgroundColor: "#a0aec0" },
          { label: "accepted", data: series.suggestions.map((s) => s.accepted), backgroundColor: "#2f855a" },
        ],
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
    const shown = series.daily.reduce((sum, d) => sum + d.shown, 0);
    const silent = series.daily.reduce((sum, d) => sum + d.silent, 0);
    const totals = document.getElementById("series-totals");
    totals.textContent = series.title + " (" + series.recommendation + ", version " + series.version + ", mode " +
      series.mode + "): " + shown + " shown, " + silent + " silent from " + trends.from + " to " + trends.to + ".";
    totals.dataset.shown = String(shown);
    totals.dataset.silent = String(silent);
  }

  function renderTrends(data) {
    trends = data;
    const previous = seriesSelect.value;
    seriesSelect.replaceChildren();
    for (const series of data.series) {
      const option = document.createElement("option");
      option.value = seriesKey(series);
      option.textContent = series.recommendation + " " + series.version + (series.current ? "" : " (earlier)");
      seriesSelect.appendChild(option);
    }
    if (data.series.some((s) => seriesKey(s) === previous)) seriesSelect.value = previous;
    fromInput.value = data.from;
    toInput.value = data.to;
    document.getElementById("trends").hidden = false;
    renderSeries();
  }

  function renderGovernance(data) {
    document.getElementById("governance-source").textContent =
      "Modes from " + data.source + " (sha256 " + data.digest.slice(0, 12) + "…). Not listed: active.";
    const modes = document.querySelector("#modes tbody");
    modes.replaceChildren();
    const add = (scope, rec, mode) => {
      const row = document.createElement("tr");
      cell(row, scope); cell(row, rec); cell(row, mode);
      modes.appendChild(row);
    };
    for (const [rec, mode] of Object.entries(data.site)) if (mode !== "active") add("site", rec, mode);
    for (const [iss, recs] of Object.entries(data.clients)) {
      for (const [rec, mode] of Object.entries(recs)) add("client " + iss, rec, mode);
    }
    const changes = document.querySelector("#mode-changes tbody");
    changes.replaceChildren();
    for (const entry of data.history) {
      for (const change of entry.changes) {
        const row = document.createElement("tr");
        cell(row, entry.effectiveAt);
        cell(row, change.client === null ? "site" : "client " + change.client);
        cell(row, change.recommendation); cell(row, change.from); cell(row, change.to);
        changes.appendChild(row);
      }
    }
    document.getElementById("governance").hidden = false;
  }

  async function get(path) {
    const response = await fetch(path, { headers: CghAdminPage.headers() });
    if (response.status === 401) throw new Error("The admin token was not accepted.");
    if (!response.ok) {
      let detail = "";
      try { detail = (await response.json()).message || ""; } catch (e) { detail = ""; }
      throw new Error("Could not load the figures (HTTP " + response.status + ") " + detail);
    }
    return response;
  }

  function rangeQuery() {
    const query = new URLSearchParams();
    if (fromInput.value) query.set("from", fromInput.value);
    if (toInput.value) query.set("to", toInput.value);
    return query.toString();
  }

  async function loadTrends() {
    renderTrends(await (await get("trends?" + rangeQuery())).json());
  }

  async function loadAll() {
    status.textContent = "Loading…";
    try {
      renderTotals(await (await get("recommendations")).json());
      await loadTrends();
      renderGovernance(await (await get("governance")).json());
      status.textContent = "Updated " + new Date().toLocaleString();
    } catch (error) {
      status.textContent = error.message;
    }
  }

  document.getElementById("range-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    try {
      await loadTrends();
      status.textContent = "Updated " + new Date().toLocaleString();
    } catch (error) {
      status.textContent = error.message;
    }
  });
  seriesSelect.addEventListener("change", renderSeries);
  document.getElementById("csv").addEventListener("click", async function () {
    // A plain link could not carry the token: fetch the CSV and hand the browser a blob to save.
    try {
      const response = await get("recommendations.csv?" + rangeQuery());
      const link = document.createElement("a");
      link.href = URL.createObjectURL(await response.blob());
      link.download = "cgh-recommendations-" + fromInput.value + "-to-" + toInput.value + ".csv";
      document.body.appendChild(link);
      link.click();
      link.remove();
    } catch (error) {
      status.textContent = error.message;
    }
  });
  // The terminology report links need the token too: fetch with it and hand the browser the file, never a URL
  // that carries it.
  for (const link of document.querySelectorAll("a.report")) {
    link.addEventListener("click", async function (event) {
      if (!authRequired) return;
      event.preventDefault();
      if (!CghAdminPage.hasToken()) {
        status.textContent = "Enter the admin token to download the terminology report.";
        return;
      }
      try {
        const response = await get(link.getAttribute("href"));
        const save = document.createElement("a");
        save.href = URL.createObjectURL(await response.blob());
        save.download = link.getAttribute("download");
        document.body.appendChild(save);
        save.click();
        save.remove();
      } catch (error) {
        status.textContent = error.message;
      }
    });
  }
  CghAdminPage.start(authRequired, loadAll);
})();
