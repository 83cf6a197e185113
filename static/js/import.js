// The import form shows how far a large file has been sent, then that it is being checked.
// Without JavaScript the form posts as usual; with it, the answer page replaces this one.
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  var bar = document.getElementById("import-progress");
  var text = document.getElementById("import-progress-text");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    bar.hidden = false;
    text.hidden = false;
    text.textContent = text.dataset.sending;
    request.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
    });
    request.upload.addEventListener("load", function () {
      bar.removeAttribute("value");  // indeterminate while the server checks every row
      text.textContent = text.dataset.checking;
    });
    request.addEventListener("load", function () {
      document.open();
      document.write(request.responseText);
      document.close();
      history.replaceState(null, "", request.responseURL || form.action);
    });
    request.addEventListener("error", function () { form.submit(); });
    form.querySelector("button[type=submit]").disabled = true;
    request.send(new FormData(form));
  });
})();
