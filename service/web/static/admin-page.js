// What the admin pages (/analytics/, /preview/) share: the admin token and the form that sets it. The token stays in
// this tab's memory: never in a URL, a cookie or storage. Loaded before the page's own script, which reads
// CghAdminPage.
"use strict";

window.CghAdminPage = (function () {
  let token = "";

  return Object.freeze({
    // Whether the server requires the admin token: the page script's data-auth-required attribute.
    authRequired: function (script) {
      return script.dataset.authRequired === "true";
    },
    // The request headers that carry the token, once one was entered.
    headers: function () {
      return token ? { Authorization: "Bearer " + token } : {};
    },
    hasToken: function () {
      return token !== "";
    },
    // Loads the page now when no token is required; else each time the token form is submitted.
    start: function (authRequired, load) {
      document.getElementById("token-form").addEventListener("submit", function (event) {
        event.preventDefault();
        token = document.getElementById("token").value;
        load();
      });
      if (!authRequired) load();
    },
  });
})();
