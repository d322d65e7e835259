// Passkeys (WebAuthn) for clave's pages: registering one (/me/passkeys), using one as the
// second factor after the password, and logging in with one without the RUN, from a button
// or from the RUN field's autofill (conditional UI).
//
// The server speaks base64url JSON (webauthn-rs); the browser's API wants ArrayBuffers, so
// this file converts both ways. Every call carries the page's CSRF token (its hidden `csrf`
// field) in the X-CSRF-Token header. Buttons start hidden and are shown only where
// WebAuthn exists, so a browser without it sees the plain forms alone.
"use strict";
(function () {
  if (window.__clavePasskeys) {
    return; // included twice on one page
  }
  window.__clavePasskeys = true;

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

  function field(name) {
    var el = document.querySelector("input[name=" + name + "]");
    return el && el.value ? el.value : null;
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": field("csrf") || "" },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (json) {
        if (!response.ok) {
          throw json;
        }
        return json;
      });
    });
  }

  function creationOptions(options) {
    var pk = options.publicKey;
    pk.challenge = fromB64url(pk.challenge);
    pk.user.id = fromB64url(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) {
      c.id = fromB64url(c.id);
    });
    return pk;
  }

  function requestOptions(options) {
    var pk = options.publicKey;
    pk.challenge = fromB64url(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) {
      c.id = fromB64url(c.id);
    });
    return pk;
  }

  function credentialJson(credential) {
    var r = credential.response;
    var out = {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      extensions: {},
      response: { clientDataJSON: toB64url(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toB64url(r.attestationObject);
      if (r.getTransports) {
        out.response.transports = r.getTransports();
      }
    } else {
      out.response.authenticatorData = toB64url(r.authenticatorData);
      out.response.signature = toB64url(r.signature);
      if (r.userHandle && r.userHandle.byteLength) {
        out.response.userHandle = toB64url(r.userHandle);
      }
    }
    return out;
  }

  function status(box, key) {
    var el = document.getElementById("passkey-status");
    if (el && box) {
      el.textContent = key ? box.getAttribute("data-passkey-" + key) || "" : "";
    }
  }

  function go(result) {
    window.location.assign(result.redirect || "/");
  }

  var supported = !!(window.PublicKeyCredential && navigator.credentials);

  // The passkey parts of a page start hidden (a whole box, since a button's CSS display
  // would override its own `hidden`), and are shown only where WebAuthn exists.
  function reveal(box) {
    if (box) {
      box.hidden = false;
    }
  }

  // Registration on /me/passkeys.
  function setUpRegistration() {
    var button = document.getElementById("passkey-register");
    if (!button) {
      return;
    }
    var box = document.getElementById("passkey-register-box");
    var unsupported = document.getElementById("passkey-unsupported");
    if (!supported) {
      return;
    }
    if (unsupported) {
      unsupported.hidden = true;
    }
    reveal(box);
    button.addEventListener("click", function () {
      button.disabled = true;
      status(box, "working");
      var nameField = document.getElementById("passkey-name");
      var ceremony;
      post("/webauthn/register/start")
        .then(function (options) {
          ceremony = options.ceremony;
          return navigator.credentials.create({ publicKey: creationOptions(options) });
        })
        .then(function (credential) {
          return post("/webauthn/register/finish", {
            ceremony: ceremony,
            credential: credentialJson(credential),
            name: nameField ? nameField.value : ""
          });
        })
        .then(function () {
          window.location.assign("/me/passkeys?done=saved");
        })
        .catch(function () {
          button.disabled = false;
          status(box, "failed");
        });
    });
  }

  // The second factor after the password.
  function setUpSecondFactor() {
    var button = document.getElementById("passkey-second-factor");
    if (!button || !supported) {
      return;
    }
    var box = document.getElementById("passkey-second-factor-box");
    reveal(box);
    button.addEventListener("click", function () {
      button.disabled = true;
      status(box, "working");
      var ceremony;
      post("/webauthn/second-factor/start")
        .then(function (options) {
          ceremony = options.ceremony;
          return navigator.credentials.get({ publicKey: requestOptions(options) });
        })
        .then(function (credential) {
          return post("/webauthn/second-factor/finish", {
            ceremony: ceremony,
            credential: credentialJson(credential),
            req: field("req"),
            then: field("then")
          });
        })
        .then(go)
        .catch(function () {
          button.disabled = false;
          status(box, "failed");
        });
    });
  }

  // Passwordless login: a button, and the RUN field's autofill where supported.
  function setUpLogin() {
    var button = document.getElementById("passkey-login");
    if (!button || !supported) {
      return;
    }
    var box = document.getElementById("passkey-login-box");
    var pending = null; // the conditional request waiting in the autofill

    function login(mediation) {
      var controller = new AbortController();
      var ceremony;
      var request = post("/webauthn/login/start")
        .then(function (options) {
          ceremony = options.ceremony;
          var publicKey = requestOptions(options);
          var call = { publicKey: publicKey, signal: controller.signal };
          if (mediation) {
            call.mediation = mediation;
          }
          return navigator.credentials.get(call);
        })
        .then(function (credential) {
          if (!credential) {
            throw new Error("no credential");
          }
          return post("/webauthn/login/finish", {
            ceremony: ceremony,
            credential: credentialJson(credential),
            req: field("req")
          });
        })
        .then(go);
      return { controller: controller, request: request };
    }

    function conditional() {
      pending = login("conditional");
      document.documentElement.setAttribute("data-passkey-autofill", "waiting");
      pending.request.catch(function () {
        document.documentElement.setAttribute("data-passkey-autofill", "ended");
      });
    }

    reveal(box);
    button.addEventListener("click", function () {
      // The browser allows one WebAuthn request at a time: end the autofill's first.
      var before = Promise.resolve();
      if (pending) {
        before = pending.request.catch(function () {});
        pending.controller.abort();
        pending = null;
      }
      button.disabled = true;
      status(box, "working");
      before
        .then(function () {
          return login(null).request;
        })
        .catch(function () {
          button.disabled = false;
          status(box, "failed");
        });
    });

    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (available) {
          conditional();
        }
      });
    }
  }

  function start() {
    setUpRegistration();
    setUpSecondFactor();
    setUpLogin();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
