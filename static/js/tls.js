// On the plain-HTTP explanation page: go to the HTTPS address as soon as it answers, i.e. as soon as
// this tablet trusts the school's certificate (a fetch to an untrusted certificate fails).
(function () {
  "use strict";
  const page = document.querySelector("[data-https]");
  if (!page || !page.dataset.https) return;
  const target = page.dataset.https;
  const probe = new URL("/healthz", target).href;
  function tryIt() {
    fetch(probe, { mode: "no-cors", cache: "no-store" })
      .then(function () { window.location.replace(target); })
      .catch(function () { window.setTimeout(tryIt, 3000); });
  }
  tryIt();
})();
