// Passkeys (WebAuthn) for Canary's pages: sign in with a passkey, use one as the second factor, register one.
// Buttons carry data-passkey (signin | second-factor | register), data-options-url and data-verify-url; the page's
// CSRF token (and, on the login page, the authorization request) come from its hidden inputs. No inline script:
// the pages' Content-Security-Policy allows scripts from this origin only.
(function () {
  "use strict";

  function toBytes(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBytes(item.id) });
    });
  }

  function creationOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    options.excludeCredentials = descriptors(options.excludeCredentials);
    return options;
  }

  function requestOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.allowCredentials = descriptors(options.allowCredentials);
    return options;
  }

  function credentialJSON(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) }
    };
    if (credential.authenticatorAttachment) out.authenticatorAttachment = credential.authenticatorAttachment;
    if (response.attestationObject) {
      out.response.attestationObject = toBase64url(response.attestationObject);
      if (response.getTransports) out.response.transports = response.getTransports();
    } else {
      out.response.authenticatorData = toBase64url(response.authenticatorData);
      out.response.signature = toBase64url(response.signature);
      out.response.userHandle = response.userHandle ? toBase64url(response.userHandle) : null;
    }
    return out;
  }

  function field(name) {
    var input = document.querySelector('input[name="' + name + '"]');
    return input ? input.value : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.error_description || "The passkey could not be used.");
        return data;
      });
    });
  }

  function run(button) {
    var mode = button.getAttribute("data-passkey");
    var area = button.closest("[data-passkey-area]");
    var error = area ? area.querySelector("[data-passkey-error]") : null;
    var base = { csrf_token: field("csrf_token"), mode: mode };
    if (error) error.hidden = true;
    button.disabled = true;
    var ceremony;
    if (mode === "register") {
      ceremony = post(button.getAttribute("data-options-url"), base).then(function (options) {
        return navigator.credentials.create({ publicKey: creationOptions(options) });
      }).then(function (credential) {
        var name = document.getElementById("passkey-name");
        return post(button.getAttribute("data-verify-url"), Object.assign({}, base, {
          credential: credentialJSON(credential), name: name ? name.value : ""
        }));
      });
    } else {
      var start = Object.assign({}, base, { authorization_request: field("authorization_request") });
      ceremony = post(button.getAttribute("data-options-url"), start).then(function (options) {
        return navigator.credentials.get({ publicKey: requestOptions(options) });
      }).then(function (credential) {
        return post(button.getAttribute("data-verify-url"), Object.assign({}, base, {
          credential: credentialJSON(credential)
        }));
      });
    }
    ceremony.then(function (done) {
      window.location.assign(done.location);
    }).catch(function (problem) {
      button.disabled = false;
      if (error) {
        error.textContent = problem && problem.message ? problem.message : "The passkey could not be used.";
        error.hidden = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.PublicKeyCredential || !navigator.credentials) return;
    document.querySelectorAll("[data-passkey-area]").forEach(function (area) { area.hidden = false; });
    document.querySelectorAll("[data-passkey]").forEach(function (button) {
      button.addEventListener("click", function () { run(button); });
    });
  });
}());
