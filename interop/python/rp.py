"""An independent relying party for clave, built on Authlib and joserfc.

It runs the authorization code flow with PKCE against a clave issuer and then the negative
cases. Authlib builds the authorization request (PKCE S256, state, nonce), checks the
returned state, and talks to the token endpoint (client_secret_post); the ID token is
verified the way Authlib's own OpenID integrations do it: joserfc checks the signature
against the issuer's JWKS and Authlib's ``CodeIDToken`` checks iss, aud, exp, iat, nonce,
azp and at_hash.

The browser part (clave's login and consent pages) is a plain ``requests`` session that
keeps cookies, follows clave's redirects and fills in its forms, so nothing here depends on
clave's own test code.

Input (environment):
  RP_ISSUER, RP_CLIENT_ID, RP_CLIENT_SECRET, RP_REDIRECT_URI, RP_RUN, RP_PASSWORD
  RP_POST_LOGOUT_REDIRECT_URI (optional: enables the logout checks)
Output: one JSON line on stdout, {"ok": true, "checks": [...], ...} or
{"ok": false, "failed": NAME, ...}; the exit code is 0 only when every check passed.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
from html.parser import HTMLParser
from importlib.metadata import version
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

TIMEOUT = 30
SCOPE = "openid profile email run"
# The client is registered for RS256, so that this RP covers the algorithm every OP must
# support while the Node RP covers clave's ES256 default.
ID_TOKEN_ALG = "RS256"


class CheckFailed(Exception):
    """A failed check: its name and what went wrong."""

    def __init__(self, check: str, message: str):
        super().__init__(message)
        self.check = check


def require(check: str, condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(check, message)


def env(name: str, optional: bool = False) -> str | None:
    value = os.environ.get(name)
    if not value and not optional:
        raise CheckFailed("input", f"the environment variable {name} is not set")
    return value or None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -------------------------------------------------------------------------------------------
# The browser: a cookie-keeping session that follows clave's redirects and fills its forms.


class _Forms(HTMLParser):
    """Collects each form's action, hidden fields and control names."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._open = {"action": attributes.get("action", ""), "hidden": [], "names": set()}
            self.forms.append(self._open)
        elif self._open is not None and tag in ("input", "button", "select", "textarea"):
            name = attributes.get("name")
            if name:
                self._open["names"].add(name)
                if tag == "input" and attributes.get("type") == "hidden":
                    self._open["hidden"].append((name, attributes.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def form_with(html: str, field: str, page_url: str) -> tuple[str, list[tuple[str, str]]]:
    """The form on ``html`` with a control named ``field``: absolute action, hidden fields."""
    parser = _Forms()
    parser.feed(html)
    for form in parser.forms:
        if field in form["names"]:
            return urljoin(page_url, form["action"] or page_url), list(form["hidden"])
    raise RuntimeError(f"no form with a `{field}` control at {page_url}: {visible_text(html)}")


def visible_text(html: str) -> str:
    class _Text(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []

        def handle_data(self, data):
            self.parts.append(data)

    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())[:400]


class Browser:
    def __init__(self, issuer: str):
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(issuer))
        self.http = requests.Session()
        # Only the loopback server is spoken to: no proxy from the environment.
        self.http.trust_env = False
        self.http.headers["Accept"] = "text/html"

    def follow(self, url: str, run: str | None = None, password: str | None = None) -> str:
        """Opens ``url``, follows clave's redirects, logs in and approves consent when
        asked, until clave sends the browser elsewhere; returns that URL."""
        target = url
        for _ in range(20):
            path = urlsplit(target).path
            response = self.http.get(target, allow_redirects=False, timeout=TIMEOUT)
            if response.status_code == 200 and path == "/login" and run:
                action, fields = form_with(response.text, "password", target)
                fields += [("run", run), ("password", password or "")]
                response = self.http.post(action, data=fields, allow_redirects=False, timeout=TIMEOUT)
            elif response.status_code == 200 and path == "/consent":
                action, fields = form_with(response.text, "decision", target)
                fields.append(("decision", "approve"))
                response = self.http.post(action, data=fields, allow_redirects=False, timeout=TIMEOUT)
            location = response.headers.get("Location")
            if not response.is_redirect or not location:
                raise RuntimeError(
                    f"clave answered {response.status_code} at {response.url}: "
                    f"{visible_text(response.text)}"
                )
            target = urljoin(target, location)
            if not target.startswith(self.origin + "/"):
                return target
        raise RuntimeError(f"too many redirects from {url}")


# -------------------------------------------------------------------------------------------
# The relying party.


class RelyingParty:
    def __init__(self, issuer, client_id, client_secret, redirect_uri, run, password):
        self.issuer = issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.run = run
        self.password = password
        self.browser = Browser(issuer)
        self.metadata: dict = {}
        self.jwks: dict = {}
        # The last token-endpoint response, for the checks on status and headers.
        self.last_token_response: requests.Response | None = None

    def discover(self) -> None:
        http = requests.Session()
        http.trust_env = False
        response = http.get(
            self.issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=TIMEOUT
        )
        response.raise_for_status()
        self.metadata = response.json()
        jwks = http.get(self.metadata["jwks_uri"], timeout=TIMEOUT)
        jwks.raise_for_status()
        self.jwks = jwks.json()

    def session(self, secret: str | None = None, token: dict | None = None) -> OAuth2Session:
        session = OAuth2Session(
            client_id=self.client_id,
            client_secret=secret or self.client_secret,
            token_endpoint_auth_method="client_secret_post",
            revocation_endpoint_auth_method="client_secret_post",
            scope=SCOPE,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint=self.metadata["token_endpoint"],
            token=token,
        )
        session.trust_env = False

        def keep(response, *args, **kwargs):
            if response.url == self.metadata["token_endpoint"]:
                self.last_token_response = response

        session.hooks["response"].append(keep)
        return session

    def authorize(self, **extra) -> dict:
        """A fresh authorization request through the browser; what redeeming it needs."""
        verifier = generate_token(64)
        nonce = generate_token(32)
        url, state = self.session().create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
        )
        landing = self.browser.follow(url, self.run, self.password)
        expected = urlsplit(self.redirect_uri)
        got = urlsplit(landing)
        if (got.scheme, got.netloc, got.path) != (expected.scheme, expected.netloc, expected.path):
            raise RuntimeError(f"clave sent the browser to {landing}, not to the redirect URI")
        return {"landing": landing, "verifier": verifier, "state": state, "nonce": nonce}

    def redeem(self, flow: dict, secret: str | None = None, verifier: str | None = None) -> dict:
        """The code exchange; Authlib checks the response's state against the request's."""
        session = self.session(secret)
        return dict(
            session.fetch_token(
                authorization_response=flow["landing"],
                state=flow["state"],
                code_verifier=verifier or flow["verifier"],
            )
        )

    def refresh(self, refresh_token: str) -> dict:
        return dict(self.session().refresh_token(refresh_token=refresh_token))

    def id_token_claims(self, id_token: str, access_token: str | None, nonce: str | None) -> CodeIDToken:
        """Verifies ``id_token`` as Authlib's OpenID integrations do."""
        decoded = jwt.decode(
            id_token,
            key=KeySet.import_key_set(self.jwks),
            registry=JWSRegistry(algorithms=[ID_TOKEN_ALG]),
        )
        params = {"client_id": self.client_id}
        if nonce:
            params["nonce"] = nonce
        if access_token:
            params["access_token"] = access_token
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": self.issuer},
                "aud": {"essential": True, "value": self.client_id},
                "sub": {"essential": True},
            },
            params,
        )
        claims.validate(leeway=60)
        return claims

    def userinfo(self, access_token: str) -> requests.Response:
        session = self.session(token={"access_token": access_token, "token_type": "Bearer"})
        return session.get(self.metadata["userinfo_endpoint"], timeout=TIMEOUT)


def must_fail_oauth(check: str, call, error: str) -> OAuthError:
    try:
        outcome = call()
    except OAuthError as refused:
        require(check, refused.error == error, f"expected {error}, got {refused.error}: {refused.description}")
        return refused
    shape = ", ".join(outcome) if isinstance(outcome, dict) else repr(outcome)
    raise CheckFailed(check, f"expected {error}, but it succeeded ({shape})")


def must_refuse_token(check: str, rp: RelyingParty, access_token: str, why: str) -> None:
    response = rp.userinfo(access_token)
    require(check, response.status_code == 401, f"{why}: userinfo answered {response.status_code}")
    challenge = response.headers.get("WWW-Authenticate", "")
    require(check, challenge.lower().startswith("bearer"), f"{why}: WWW-Authenticate is {challenge!r}")


def tamper_claims(id_token: str) -> str:
    header, payload, signature = id_token.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["sub"] = claims["sub"] + "-someone-else"
    return ".".join([header, b64url(json.dumps(claims).encode()), signature])


def tamper_signature(id_token: str) -> str:
    header, payload, signature = id_token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[len(raw) // 2] ^= 0x01
    return ".".join([header, payload, b64url(bytes(raw))])


def unsigned(id_token: str) -> str:
    _, payload, _ = id_token.split(".")
    return ".".join([b64url(json.dumps({"alg": "none"}).encode()), payload, ""])


def main(summary: dict, passed: list[str]) -> None:
    rp = RelyingParty(
        env("RP_ISSUER"),
        env("RP_CLIENT_ID"),
        env("RP_CLIENT_SECRET"),
        env("RP_REDIRECT_URI"),
        env("RP_RUN"),
        env("RP_PASSWORD"),
    )
    post_logout = env("RP_POST_LOGOUT_REDIRECT_URI", optional=True)
    summary["issuer"] = rp.issuer

    def check(name):
        """Runs the decorated function at once as the check ``name``; the function's name
        then holds what it returned."""

        def run(fn):
            summary["current"] = name
            result = fn()
            passed.append(name)
            return result

        return run

    @check("discovery")
    def _():
        rp.discover()
        # OpenID Connect Discovery §4.3: the issuer must be exactly the one asked.
        require("discovery", rp.metadata.get("issuer") == rp.issuer, f"issuer is {rp.metadata.get('issuer')}")
        require("discovery", "S256" in rp.metadata.get("code_challenge_methods_supported", []), "no S256")
        require("discovery", "client_secret_post" in rp.metadata.get("token_endpoint_auth_methods_supported", []), "no client_secret_post")
        require("discovery", ID_TOKEN_ALG in rp.metadata.get("id_token_signing_alg_values_supported", []), f"no {ID_TOKEN_ALG}")
        require("discovery", any(k.get("alg") == ID_TOKEN_ALG or k.get("kty") == "RSA" for k in rp.jwks.get("keys", [])), "the JWKS has no RSA key")

    @check("code_flow")
    def first():
        flow = rp.authorize()
        query = parse_qs(urlsplit(flow["landing"]).query)
        # RFC 9207: the response names its issuer (discovery says it does).
        require("code_flow", query.get("iss") == [rp.issuer], f"the response's iss is {query.get('iss')}")
        flow["tokens"] = rp.redeem(flow)
        response = rp.last_token_response
        require("code_flow", response is not None and response.status_code == 200, "no 200 from the token endpoint")
        # RFC 6749 §5.1: token responses must not be cached.
        require("code_flow", "no-store" in response.headers.get("Cache-Control", ""), "no Cache-Control: no-store")
        require("code_flow", flow["tokens"].get("token_type", "").lower() == "bearer", f"token_type {flow['tokens'].get('token_type')}")
        for name in ("access_token", "refresh_token", "id_token", "expires_in"):
            require("code_flow", name in flow["tokens"], f"no {name} in the token response")
        return flow

    tokens = first["tokens"]

    @check("id_token")
    def claims():
        header = json.loads(b64url_decode(tokens["id_token"].split(".")[0]))
        require("id_token", header.get("alg") == ID_TOKEN_ALG, f"the ID token is {header.get('alg')}")
        claims = rp.id_token_claims(tokens["id_token"], tokens["access_token"], first["nonce"])
        for name in ("auth_time", "acr", "amr", "at_hash", "sid"):
            require("id_token", name in claims, f"the ID token has no {name}")
        return claims

    @check("userinfo")
    def info():
        response = rp.userinfo(tokens["access_token"])
        require("userinfo", response.status_code == 200, f"userinfo answered {response.status_code}")
        info = response.json()
        # OpenID Connect Core §5.3.4: the sub must be the ID token's.
        require("userinfo", info.get("sub") == claims["sub"], "userinfo names another subject")
        for name in ("given_name", "family_name", "run"):
            require("userinfo", isinstance(info.get(name), str), f"userinfo has no {name}")
        return info

    summary["userinfo"] = {k: info.get(k) for k in ("sub", "given_name", "family_name", "run", "email")}

    @check("refresh")
    def refreshed():
        refreshed = rp.refresh(tokens["refresh_token"])
        require("refresh", refreshed["access_token"] != tokens["access_token"], "the same access token came back")
        require("refresh", refreshed.get("refresh_token") not in (None, tokens["refresh_token"]), "the refresh token was not rotated")
        if "id_token" in refreshed:
            # OpenID Connect Core §12.2: the same iss, sub, aud and auth_time (the original
            # authentication, not the refresh); a nonce, if any, the original one.
            again = rp.id_token_claims(refreshed["id_token"], refreshed["access_token"], None)
            for name in ("iss", "sub", "aud", "auth_time"):
                require("refresh", again.get(name) == claims.get(name), f"the refreshed ID token has another {name}")
            require("refresh", again.get("nonce") in (None, claims["nonce"]), "the refreshed ID token has another nonce")
        response = rp.userinfo(refreshed["access_token"])
        require("refresh", response.status_code == 200, f"userinfo with the new token answered {response.status_code}")
        return refreshed

    @check("revocation")
    def _():
        # RFC 7009 then RFC 7662: a revoked access token is inactive and refused at once.
        flow = rp.authorize()
        fresh = rp.redeem(flow)
        session = rp.session()
        revoked = session.revoke_token(
            rp.metadata["revocation_endpoint"], token=fresh["access_token"], token_type_hint="access_token"
        )
        require("revocation", revoked.status_code == 200, f"revocation answered {revoked.status_code}")
        introspected = session.introspect_token(rp.metadata["introspection_endpoint"], token=fresh["access_token"])
        require("revocation", introspected.status_code == 200, f"introspection answered {introspected.status_code}")
        require("revocation", introspected.json().get("active") is False, f"introspection says {introspected.text}")
        must_refuse_token("revocation", rp, fresh["access_token"], "a revoked access token")

    @check("code_replay_refused")
    def _():
        must_fail_oauth("code_replay_refused", lambda: rp.redeem(first), "invalid_grant")
        # RFC 6749 §4.1.2: what the code gave is revoked.
        must_refuse_token("code_replay_refused", rp, tokens["access_token"], "the replayed code's access token")
        must_fail_oauth("code_replay_refused", lambda: rp.refresh(refreshed["refresh_token"]), "invalid_grant")

    @check("refresh_replay_refused")
    def _():
        flow = rp.authorize()
        fresh = rp.redeem(flow)
        newer = rp.refresh(fresh["refresh_token"])
        must_fail_oauth("refresh_replay_refused", lambda: rp.refresh(fresh["refresh_token"]), "invalid_grant")
        must_fail_oauth("refresh_replay_refused", lambda: rp.refresh(newer["refresh_token"]), "invalid_grant")

    @check("wrong_verifier_refused")
    def _():
        # RFC 7636 §4.6.
        flow = rp.authorize()
        must_fail_oauth("wrong_verifier_refused", lambda: rp.redeem(flow, verifier=generate_token(64)), "invalid_grant")

    @check("wrong_secret_refused")
    def _():
        # RFC 6749 §5.2 (credentials in the body: 400 or 401 are both allowed).
        flow = rp.authorize()
        must_fail_oauth("wrong_secret_refused", lambda: rp.redeem(flow, secret=secrets.token_urlsafe(32)), "invalid_client")
        status = rp.last_token_response.status_code if rp.last_token_response is not None else None
        require("wrong_secret_refused", status in (400, 401), f"the token endpoint answered {status}")

    tamperings = {
        "tampered_id_token_claims_refused": tamper_claims,
        "tampered_id_token_signature_refused": tamper_signature,
        "unsigned_id_token_refused": unsigned,
    }
    for name, tamper in tamperings.items():

        @check(name)
        def _():
            try:
                rp.id_token_claims(tamper(tokens["id_token"]), tokens["access_token"], first["nonce"])
            except JoseError:
                return
            raise CheckFailed(name, "the altered ID token was accepted")

    if post_logout:

        @check("logout")
        def _():
            flow = rp.authorize()
            fresh = rp.redeem(flow)
            state = generate_token(20)
            url = rp.metadata["end_session_endpoint"] + "?" + urlencode(
                {"id_token_hint": fresh["id_token"], "post_logout_redirect_uri": post_logout, "state": state}
            )
            landing = rp.browser.follow(url)
            require("logout", landing.startswith(post_logout), f"logout sent the browser to {landing}")
            require("logout", parse_qs(urlsplit(landing).query).get("state") == [state], "logout lost the state")
            must_refuse_token("logout", rp, fresh["access_token"], "the ended session's access token")

        @check("prompt_none_login_required")
        def _():
            # OpenID Connect Core §3.1.2.6: no session, no silent login.
            session = rp.session()
            url, state = session.create_authorization_url(
                rp.metadata["authorization_endpoint"],
                code_verifier=generate_token(64),
                nonce=generate_token(32),
                prompt="none",
            )
            landing = rp.browser.follow(url)
            query = parse_qs(urlsplit(landing).query)
            require("prompt_none_login_required", query.get("error") == ["login_required"], f"got {landing}")
            require("prompt_none_login_required", query.get("state") == [state], "the error lost the state")
            # RFC 9207 §2: error responses name the issuer too.
            require("prompt_none_login_required", query.get("iss") == [rp.issuer], "the error has no iss")
            require("prompt_none_login_required", "code" not in query, "a code came back")

    summary.pop("current", None)


if __name__ == "__main__":
    summary: dict = {
        "rp": "authlib",
        "version": version("authlib"),
        "jose": f"joserfc {version('joserfc')}",
        "runtime": f"python {sys.version.split()[0]}",
    }
    passed: list[str] = []
    try:
        main(summary, passed)
    except Exception as error:  # noqa: BLE001 - every failure is reported by check name
        failed = error.check if isinstance(error, CheckFailed) else summary.get("current", "setup")
        summary.pop("current", None)
        print(json.dumps({**summary, "ok": False, "failed": failed, "error": f"{type(error).__name__}: {error}", "checks": passed}, ensure_ascii=False))
        sys.exit(1)
    print(json.dumps({**summary, "ok": True, "checks": passed}, ensure_ascii=False))
