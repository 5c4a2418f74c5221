// The card gallery: reads /preview/cards (admin token when auth is required) and renders each scenario's cards
// as an EHR would: summary coloured by indicator, source label, markdown detail (HTML made by the server with
// raw HTML disabled), suggestion buttons, links and override reasons. No inline script, no eval.
"use strict";

(function () {
  const authRequired = CghAdminPage.authRequired(document.currentScript);
  const status = document.getElementById("status");
  const gallery = document.getElementById("gallery");
  const filters = document.getElementById("filters");
  const byRecommendation = document.getElementById("filter-recommendation");
  const byHook = document.getElementById("filter-hook");
  const shown = document.getElementById("shown");

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function option(select, value, label) {
    const item = element("option", "", label);
    item.value = value;
    select.appendChild(item);
  }

  function renderCard(card) {
    const box = element("article", "card " + card.indicator);
    box.dataset.recommendation = card.source.topic.code;
    const summary = element("p", "summary");
    summary.appendChild(element("span", "indicator", card.indicator));
    summary.appendChild(document.createTextNode(card.summary));
    summary.appendChild(element("span", "length", "(" + card.summary.length + " characters)"));
    box.appendChild(summary);
    const source = element("p", "source");
    const label = card.source.url ? element("a", "", card.source.label) : element("span", "", card.source.label);
    if (card.source.url) { label.href = card.source.url; label.rel = "noopener noreferrer"; label.target = "_blank"; }
    source.appendChild(document.createTextNode("Source: "));
    source.appendChild(label);
    source.appendChild(document.createTextNode(" · " + card.source.topic.code));
    box.appendChild(source);
    const detail = element("div", "detail");
    // Server-rendered from markdown with raw HTML disabled (service/gallery.py); no chart text reaches it as markup.
    detail.innerHTML = card.detailHtml || "";
    for (const link of detail.querySelectorAll("a")) { link.rel = "noopener noreferrer"; link.target = "_blank"; }
    box.appendChild(detail);
    if (card.suggestions && card.suggestions.length) {
      const actions = element("div", "actions");
      for (const suggestion of card.suggestions) {
        const button = element("button", suggestion.isRecommended ? "recommended" : "", suggestion.label);
        button.type = "button";
        button.title = suggestion.actions.map((a) => a.type + ": " + (a.description || "")).join("\n");
        actions.appendChild(button);
      }
      box.appendChild(actions);
    }
    if (card.links && card.links.length) {
      const links = element("div", "links");
      for (const link of card.links) {
        const anchor = element("a", "", link.label);
        anchor.href = link.url;
        anchor.rel = "noopener noreferrer";
        anchor.target = "_blank";
        links.appendChild(anchor);
      }
      box.appendChild(links);
    }
    if (card.overrideReasons && card.overrideReasons.length) {
      const overrides = element("label", "overrides", "Override reason: ");
      const select = element("select");
      option(select, "", "—");
      for (const reason of card.overrideReasons) option(select, reason.code, reason.display);
      overrides.appendChild(select);
      box.appendChild(overrides);
    }
    return box;
  }

  function renderScenario(scenario) {
    const section = element("section", "scenario");
    section.dataset.hook = scenario.hook;
    section.dataset.recommendations = scenario.cards.map((c) => c.source.topic.code).join(" ");
    const about = element("div", "about");
    about.appendChild(element("h2", "", scenario.title));
    const meta = element("p", "meta");
    meta.appendChild(element("code", "", scenario.fixture));
    meta.appendChild(document.createTextNode(" · " + scenario.hook));
    about.appendChild(meta);
    const expect = element("div", "expect");
    expect.appendChild(element("strong", "", "Expected" + (scenario.expect.exact ? " (exactly)" : "")));
    const list = element("ul");
    for (const card of scenario.expect.cards) list.appendChild(element("li", "", card.recommendation + " (" + card.indicator + ")"));
    for (const absent of scenario.expect.absent) list.appendChild(element("li", "absent", "not " + absent));
    expect.appendChild(list);
    about.appendChild(expect);
    section.appendChild(about);
    const cards = element("div", "cards");
    if (!scenario.cards.length) cards.appendChild(element("p", "none", "No card."));
    for (const card of scenario.cards) cards.appendChild(renderCard(card));
    section.appendChild(cards);
    return section;
  }

  function applyFilters() {
    const recommendation = byRecommendation.value;
    const hook = byHook.value;
    let count = 0;
    for (const section of gallery.querySelectorAll(".scenario")) {
      const visible = (!hook || section.dataset.hook === hook) &&
        (!recommendation || section.dataset.recommendations.split(" ").includes(recommendation));
      section.hidden = !visible;
      for (const card of section.querySelectorAll(".card")) {
        card.hidden = Boolean(recommendation) && card.dataset.recommendation !== recommendation;
      }
      if (visible) count += 1;
    }
    shown.textContent = count + " scenario" + (count === 1 ? "" : "s") + " shown";
  }

  function render(data) {
    gallery.replaceChildren();
    for (const rec of data.recommendations) option(byRecommendation, rec.code, rec.code + " — " + rec.title);
    const hooks = [...new Set(data.scenarios.map((s) => s.hook))].sort();
    for (const hook of hooks) option(byHook, hook, hook);
    for (const scenario of data.scenarios) gallery.appendChild(renderScenario(scenario));
    const params = new URLSearchParams(window.location.search);
    if (params.get("recommendation")) byRecommendation.value = params.get("recommendation");
    if (params.get("hook")) byHook.value = params.get("hook");
    filters.hidden = false;
    applyFilters();
    status.textContent = data.scenarios.length + " scenarios, cards rendered for " + data.today;
    document.body.dataset.ready = "true";
  }

  async function load() {
    status.textContent = "Loading…";
    const response = await fetch("cards", { headers: CghAdminPage.headers(), credentials: "same-origin" });
    if (response.status === 401) { status.textContent = "The admin token was refused."; return; }
    if (!response.ok) { status.textContent = "The gallery could not be loaded (HTTP " + response.status + ")."; return; }
    render(await response.json());
  }

  byRecommendation.addEventListener("change", applyFilters);
  byHook.addEventListener("change", applyFilters);
  CghAdminPage.start(authRequired, load);
})();
