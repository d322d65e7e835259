// Submits the authorization response form (response_mode=form_post) as soon as the page
// loads, so the citizen returns to the service without a click. The page keeps a visible
// button for browsers that run no scripts.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("form-post");
  if (form) {
    form.submit();
  }
});
