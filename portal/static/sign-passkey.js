// Signing with a passkey on /me/sign and /me/sign/{id}: the server keeps the chosen
// documents' hashes with the WebAuthn challenge (…/start), the authenticator signs that
// challenge, and …/finish signs exactly those documents. The button starts hidden and is
// shown only where WebAuthn exists. Calls carry the page's CSRF token in X-CSRF-Token.
"use strict";
(function () {
  var button = document.getElementById("sign-passkey");
  var box = document.getElementById("sign-passkey-box");
  if (!button || !box || !(window.PublicKeyCredential && navigator.credentials)) {
    return;
  }
  var form = button.form;

  function fromB64url(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) {
      b64 += "=";
    }
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) {
      raw += String.fromCharCode(bytes[i]);
    }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function value(name) {
    var el = form.querySelector("input[name=" + name + "]");
    return el && el.value ? el.value : "";
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": value("csrf") },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (json) {
        if (!response.ok) {
          throw json;
        }
        return json;
      });
    });
  }

  function status(key) {
    document.getElementById("sign-passkey-status").textContent =
      key ? box.getAttribute("data-passkey-" + key) || "" : "";
  }

  function requests() {
    var single = button.getAttribute("data-requests");
    if (single) {
      return [single];
    }
    var chosen = form.querySelectorAll("input[name=request]:checked");
    return Array.prototype.map.call(chosen, function (c) {
      return c.value;
    });
  }

  box.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    status("working");
    var pending;
    post("/me/sign/passkey/start", { requests: requests() })
      .then(function (options) {
        pending = options.pending;
        var pk = options.publicKey;
        pk.challenge = fromB64url(pk.challenge);
        (pk.allowCredentials || []).forEach(function (c) {
          c.id = fromB64url(c.id);
        });
        return navigator.credentials.get({ publicKey: pk });
      })
      .then(function (credential) {
        var r = credential.response;
        var answer = {
          id: credential.id,
          rawId: toB64url(credential.rawId),
          type: credential.type,
          extensions: {},
          response: {
            clientDataJSON: toB64url(r.clientDataJSON),
            authenticatorData: toB64url(r.authenticatorData),
            signature: toB64url(r.signature)
          }
        };
        if (r.userHandle && r.userHandle.byteLength) {
          answer.response.userHandle = toB64url(r.userHandle);
        }
        return post("/me/sign/passkey/finish", {
          pending: pending,
          credential: answer,
          pin: value("pin")
        });
      })
      .then(function (result) {
        window.location.assign(result.redirect);
      })
      .catch(function () {
        button.disabled = false;
        status("failed");
      });
  });
})();
