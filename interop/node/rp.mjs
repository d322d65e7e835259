// An independent relying party for clave, built on panva's openid-client (an OpenID
// Certified RP library). It runs the authorization code flow with PKCE against a clave
// issuer and then the negative cases, letting the library do every protocol check it knows
// (issuer and `iss` response parameter, state, nonce, ID-token signature against the JWKS,
// aud, exp, userinfo `sub` binding, token-response shape).
//
// The browser part (clave's login and consent pages) is plain `fetch` with a hand-kept
// cookie jar, so nothing here depends on clave's own test code.
//
// Input (environment):
//   RP_ISSUER, RP_CLIENT_ID, RP_CLIENT_SECRET, RP_REDIRECT_URI, RP_RUN, RP_PASSWORD
//   RP_POST_LOGOUT_REDIRECT_URI (optional: enables the logout checks)
// Output: one JSON line on stdout, {"ok":true,"checks":[…],…} or {"ok":false,"failed":NAME,…};
// the exit code is 0 only when every check passed.

import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import * as client from 'openid-client'

const LIBRARY = 'openid-client'
const LIBRARY_VERSION = JSON.parse(
  readFileSync(new URL('./node_modules/openid-client/package.json', import.meta.url), 'utf8'),
).version

/** A failed check: its name and what went wrong. */
class CheckFailed extends Error {
  constructor(check, message) {
    super(message)
    this.check = check
  }
}

function env(name, { optional = false } = {}) {
  const value = process.env[name]
  if (!value && !optional) throw new CheckFailed('input', `the environment variable ${name} is not set`)
  return value || undefined
}

function describe(error) {
  if (error === undefined || error === null) return String(error)
  const parts = [error.name, error.code, error.error, error.status, error.error_description, error.message]
  const text = parts.filter((p) => p !== undefined && p !== null && p !== '').join(' | ')
  // The library wraps what went wrong in a generic error; the cause says what it was.
  return error.cause instanceof Error ? `${text} (cause: ${describe(error.cause)})` : text
}

/** `fn` must throw; `accept` decides whether the error is the expected refusal. */
async function mustFail(check, fn, accept, expected) {
  let outcome
  try {
    outcome = await fn()
  } catch (error) {
    if (accept(error)) return error
    throw new CheckFailed(check, `expected ${expected}, got ${describe(error)}`)
  }
  const shape = outcome && typeof outcome === 'object' ? Object.keys(outcome).join(', ') : String(outcome)
  throw new CheckFailed(check, `expected ${expected}, but it succeeded (${shape})`)
}

const oauthError = (code, status) => (error) =>
  error instanceof client.ResponseBodyError && error.error === code && (status === undefined || error.status === status)

function assert(check, condition, message) {
  if (!condition) throw new CheckFailed(check, message)
}

function base64url(bytes) {
  return Buffer.from(bytes).toString('base64url')
}

function jwtPart(token, index) {
  return JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString('utf8'))
}

// ---------------------------------------------------------------------------------------
// The browser: cookies by hand, clave's redirects followed, its forms filled in.

const ENTITIES = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>' }

function unescapeHtml(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, entity) => {
    if (entity[0] === '#') {
      const code = entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10)
      return String.fromCodePoint(code)
    }
    return ENTITIES[entity.toLowerCase()] ?? whole
  })
}

function attributes(tag) {
  const found = {}
  for (const match of tag.matchAll(/([a-zA-Z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    found[match[1].toLowerCase()] = unescapeHtml(match[2] ?? match[3] ?? '')
  }
  return found
}

/** The form on `html` that has a control named `field`: its absolute action and hidden fields. */
function formWith(html, field, pageUrl) {
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const body = match[2]
    const controls = [...body.matchAll(/<(?:input|button|select|textarea)\b[^>]*>/gi)].map((m) => attributes(m[0]))
    if (!controls.some((c) => c.name === field)) continue
    const action = attributes(`<form ${match[1]}>`).action
    const fields = new URLSearchParams()
    for (const control of controls) {
      if (control.type === 'hidden' && control.name) fields.append(control.name, control.value ?? '')
    }
    return { action: new URL(action || pageUrl, pageUrl), fields }
  }
  return undefined
}

function visibleText(html) {
  return unescapeHtml(html.replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]+>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 400)
}

class Browser {
  constructor(issuer) {
    this.origin = new URL(issuer).origin
    this.cookies = new Map()
    this.visited = []
  }

  keepCookies(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';')
      const eq = pair.indexOf('=')
      if (eq <= 0) continue
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const expired = attrs.some((attr) => {
        const [key, val = ''] = attr.split('=').map((s) => s.trim())
        if (/^max-age$/i.test(key)) return Number(val) <= 0
        if (/^expires$/i.test(key)) return Date.parse(val) <= Date.now()
        return false
      })
      if (expired || value === '') this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }

  async request(url, { method = 'GET', form } = {}) {
    const headers = { accept: 'text/html' }
    if (this.cookies.size > 0) {
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    }
    let body
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = form.toString()
    }
    const response = await fetch(url, { method, headers, body, redirect: 'manual' })
    this.keepCookies(response)
    return response
  }

  /**
   * Opens `url` and follows clave's redirects, logging in and approving consent when asked,
   * until clave sends the browser away from itself; returns that URL.
   */
  async follow(url, { run, password, onConsent = 'approve' } = {}) {
    let target = new URL(url)
    for (let hop = 0; hop < 20; hop += 1) {
      this.visited.push(target.pathname)
      let response = await this.request(target)
      if (response.status === 200 && target.pathname === '/login' && run) {
        const html = await response.text()
        const form = formWith(html, 'password', target)
        if (!form) throw new Error(`no login form on ${target}: ${visibleText(html)}`)
        form.fields.set('run', run)
        form.fields.set('password', password)
        response = await this.request(form.action, { method: 'POST', form: form.fields })
      } else if (response.status === 200 && target.pathname === '/consent') {
        const html = await response.text()
        const form = formWith(html, 'decision', target)
        if (!form) throw new Error(`no consent form on ${target}: ${visibleText(html)}`)
        form.fields.set('decision', onConsent)
        response = await this.request(form.action, { method: 'POST', form: form.fields })
      }
      const location = response.headers.get('location')
      if (response.status < 300 || response.status >= 400 || !location) {
        const text = await response.text()
        throw new Error(`clave answered ${response.status} at ${response.url || target}: ${visibleText(text)}`)
      }
      const next = new URL(location, target)
      if (next.origin !== this.origin) return next
      target = next
    }
    throw new Error(`too many redirects from ${url}`)
  }
}

// ---------------------------------------------------------------------------------------
// The relying party.

const SCOPE = 'openid profile email run'
const passed = []
let current = 'input'
const summary = { rp: LIBRARY, version: LIBRARY_VERSION, runtime: `node ${process.version}` }

// The input, read by `main` so that a missing variable is reported like any failed check.
let issuer, clientId, clientSecret, redirectUri, run, password, postLogoutRedirectUri, browser

function readInput() {
  issuer = env('RP_ISSUER')
  clientId = env('RP_CLIENT_ID')
  clientSecret = env('RP_CLIENT_SECRET')
  redirectUri = env('RP_REDIRECT_URI')
  run = env('RP_RUN')
  password = env('RP_PASSWORD')
  postLogoutRedirectUri = env('RP_POST_LOGOUT_REDIRECT_URI', { optional: true })
  summary.issuer = issuer
  browser = new Browser(issuer)
}

/** Runs one named check. */
async function check(name, fn) {
  current = name
  const result = await fn()
  passed.push(name)
  return result
}

/**
 * What the token endpoint answers passes through `rewriteTokenResponse` when it is set: the
 * tampering checks change the ID token there, between clave and the library's validation.
 */
let rewriteTokenResponse
async function interceptingFetch(url, options) {
  const response = await fetch(url, options)
  if (!rewriteTokenResponse || String(url) !== tokenEndpoint) return response
  const body = await response.json()
  const headers = new Headers(response.headers)
  headers.delete('content-length')
  return new Response(JSON.stringify(rewriteTokenResponse(body)), {
    status: response.status,
    statusText: response.statusText,
    headers,
  })
}

async function configure(secret) {
  const config = await client.discovery(
    new URL(issuer),
    clientId,
    { client_secret: secret, id_token_signed_response_alg: 'ES256' },
    client.ClientSecretBasic(secret),
    // Loopback http in tests; and ID tokens from the token endpoint are verified against
    // the JWKS too (the library skips that by default under TLS).
    { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
  )
  config[client.customFetch] = interceptingFetch
  return config
}

let tokenEndpoint

/** A fresh authorization request through the browser; what the client needs to redeem it. */
async function authorize(config, { pushed = false } = {}) {
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const parameters = {
    redirect_uri: redirectUri,
    scope: SCOPE,
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }
  const url = pushed
    ? await client.buildAuthorizationUrlWithPAR(config, parameters)
    : client.buildAuthorizationUrl(config, parameters)
  const landing = await browser.follow(url, { run, password })
  const expected = new URL(redirectUri)
  if (landing.origin + landing.pathname !== expected.origin + expected.pathname) {
    throw new Error(`clave sent the browser to ${landing}, not to the redirect URI`)
  }
  return { landing, verifier, state, nonce }
}

function grant(config, flow, overrides = {}) {
  return client.authorizationCodeGrant(config, flow.landing, {
    pkceCodeVerifier: flow.verifier,
    expectedState: flow.state,
    expectedNonce: flow.nonce,
    idTokenExpected: true,
    ...overrides,
  })
}

function atHash(accessToken) {
  const digest = createHash('sha256').update(accessToken, 'ascii').digest()
  return base64url(digest.subarray(0, digest.length / 2))
}

async function main() {
  readInput()
  const config = await check('discovery', async () => {
    const config = await configure(clientSecret)
    const metadata = config.serverMetadata()
    assert('discovery', metadata.issuer === issuer, `issuer ${metadata.issuer} is not ${issuer}`)
    assert(
      'discovery',
      metadata.code_challenge_methods_supported?.includes('S256'),
      'S256 is not among code_challenge_methods_supported',
    )
    tokenEndpoint = metadata.token_endpoint
    return config
  })

  // The code flow: PKCE S256, state and nonce; the library checks the response's state and
  // `iss`, then validates the ID token (signature against the JWKS, iss, aud, exp, nonce).
  let first
  const tokens = await check('code_flow', async () => {
    first = await authorize(config)
    assert('code_flow', first.landing.searchParams.get('iss') === issuer, 'the response has no `iss` parameter')
    const tokens = await grant(config, first)
    assert('code_flow', tokens.token_type?.toLowerCase() === 'bearer', `token_type ${tokens.token_type}`)
    assert('code_flow', typeof tokens.refresh_token === 'string', 'no refresh token')
    assert('code_flow', typeof tokens.expires_in === 'number' && tokens.expires_in > 0, 'no expires_in')
    return tokens
  })
  const claims = tokens.claims()

  await check('id_token_claims', async () => {
    for (const name of ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'at_hash', 'sid']) {
      assert('id_token_claims', claims[name] !== undefined, `the ID token has no ${name}`)
    }
    assert('id_token_claims', jwtPart(tokens.id_token, 0).alg === 'ES256', 'the ID token is not ES256')
    assert('id_token_claims', claims.at_hash === atHash(tokens.access_token), 'at_hash does not match the access token')
  })

  const info = await check('userinfo', async () => {
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
    for (const name of ['given_name', 'family_name', 'run']) {
      assert('userinfo', typeof info[name] === 'string', `userinfo has no ${name}`)
    }
    return info
  })
  summary.userinfo = { sub: info.sub, given_name: info.given_name, family_name: info.family_name, run: info.run, email: info.email }

  await check('introspection', async () => {
    const active = await client.tokenIntrospection(config, tokens.access_token)
    assert('introspection', active.active === true, `introspection says ${JSON.stringify(active)}`)
    assert('introspection', active.sub === claims.sub, 'introspection names another subject')
  })

  // RFC 9126: the same request pushed first; the browser carries only its request_uri.
  await check('par_code_flow', async () => {
    const flow = await authorize(config, { pushed: true })
    const pushed = await grant(config, flow)
    assert('par_code_flow', pushed.claims().sub === claims.sub, 'the pushed request logged in someone else')
  })

  // Refresh: the library validates the new ID token (if any) against the first one's sub.
  const refreshed = await check('refresh', async () => {
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
    assert('refresh', refreshed.access_token !== tokens.access_token, 'the same access token came back')
    assert('refresh', refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'the refresh token was not rotated')
    if (refreshed.id_token) {
      // OpenID Connect Core §12.2: the same iss, sub, aud and auth_time (the original
      // authentication, not the refresh); a nonce, if any, the original one.
      const again = refreshed.claims()
      for (const name of ['iss', 'sub', 'aud', 'auth_time']) {
        assert('refresh', JSON.stringify(again[name]) === JSON.stringify(claims[name]), `the refreshed ID token has another ${name}`)
      }
      assert('refresh', again.nonce === undefined || again.nonce === claims.nonce, 'the refreshed ID token has another nonce')
    }
    await client.fetchUserInfo(config, refreshed.access_token, claims.sub)
    return refreshed
  })

  // RFC 6749 §4.1.2: a code is used once; a replay is refused and what it gave is revoked.
  await check('code_replay_refused', async () => {
    await mustFail('code_replay_refused', () => grant(config, first), oauthError('invalid_grant'), 'invalid_grant')
    await mustFail(
      'code_replay_refused',
      () => client.fetchUserInfo(config, tokens.access_token, claims.sub),
      (e) => e instanceof client.WWWAuthenticateChallengeError || e?.status === 401,
      'the access token from the replayed code to be refused at userinfo',
    )
    await mustFail(
      'code_replay_refused',
      () => client.refreshTokenGrant(config, refreshed.refresh_token),
      oauthError('invalid_grant'),
      'the refresh token from the replayed code to be refused',
    )
  })

  // Refresh-token rotation: presenting a spent one is refused and kills the family.
  await check('refresh_replay_refused', async () => {
    const flow = await authorize(config)
    const fresh = await grant(config, flow)
    const next = await client.refreshTokenGrant(config, fresh.refresh_token)
    await mustFail(
      'refresh_replay_refused',
      () => client.refreshTokenGrant(config, fresh.refresh_token),
      oauthError('invalid_grant'),
      'invalid_grant for a spent refresh token',
    )
    await mustFail(
      'refresh_replay_refused',
      () => client.refreshTokenGrant(config, next.refresh_token),
      oauthError('invalid_grant'),
      'invalid_grant for the newest refresh token of a replayed family',
    )
  })

  // RFC 7636 §4.6: a verifier that does not match the challenge is invalid_grant.
  await check('wrong_verifier_refused', async () => {
    const flow = await authorize(config)
    await mustFail(
      'wrong_verifier_refused',
      () => grant(config, flow, { pkceCodeVerifier: client.randomPKCECodeVerifier() }),
      oauthError('invalid_grant'),
      'invalid_grant',
    )
  })

  // RFC 6749 §5.2: failed client authentication is invalid_client, 401 with HTTP Basic.
  await check('wrong_secret_refused', async () => {
    const flow = await authorize(config)
    const wrong = await configure(base64url(randomBytes(32)))
    const error = await mustFail(
      'wrong_secret_refused',
      () => grant(wrong, flow),
      (e) => e?.status === 401 && (e instanceof client.ResponseBodyError || e instanceof client.WWWAuthenticateChallengeError),
      'a 401 refusal',
    )
    // With a challenge the library stops before the body; read it to see the error code.
    const code = error instanceof client.ResponseBodyError ? error.error : (await error.response.json()).error
    assert('wrong_secret_refused', code === 'invalid_client', `the error is ${code}, not invalid_client`)
    if (error instanceof client.WWWAuthenticateChallengeError) {
      const schemes = error.cause.map((challenge) => challenge.scheme)
      assert('wrong_secret_refused', schemes.includes('basic'), `WWW-Authenticate offers ${schemes}, not Basic`)
    }
  })

  // A token response whose ID token was altered on the way: the library must refuse it.
  const tamperings = {
    // A claim changed, the signature kept: only the signature check can notice.
    tampered_id_token_claims_refused: (idToken) => {
      const [header, payload, signature] = idToken.split('.')
      const claims = jwtPart(idToken, 1)
      claims.sub = `${claims.sub}-someone-else`
      return [header, base64url(JSON.stringify(claims)), signature].join('.')
    },
    // The signature altered (one byte flipped).
    tampered_id_token_signature_refused: (idToken) => {
      const [header, payload, signature] = idToken.split('.')
      const bytes = Buffer.from(signature, 'base64url')
      bytes[bytes.length >> 1] ^= 0x01
      return [header, payload, base64url(bytes)].join('.')
    },
  }
  for (const [name, tamper] of Object.entries(tamperings)) {
    await check(name, async () => {
      const flow = await authorize(config)
      rewriteTokenResponse = (body) => ({ ...body, id_token: tamper(body.id_token) })
      try {
        await mustFail(
          name,
          () => grant(config, flow),
          (e) => e instanceof client.ClientError && /signature/i.test(`${e.message} ${e.cause?.message}`),
          'the library to refuse the ID token signature',
        )
      } finally {
        rewriteTokenResponse = undefined
      }
    })
  }

  if (postLogoutRedirectUri) {
    // RP-initiated logout with id_token_hint, a registered post_logout_redirect_uri and state.
    await check('logout', async () => {
      const flow = await authorize(config)
      const fresh = await grant(config, flow)
      const state = client.randomState()
      const url = client.buildEndSessionUrl(config, {
        id_token_hint: fresh.id_token,
        post_logout_redirect_uri: postLogoutRedirectUri,
        state,
      })
      const landing = await browser.follow(url)
      assert('logout', landing.href.startsWith(postLogoutRedirectUri), `logout sent the browser to ${landing}`)
      assert('logout', landing.searchParams.get('state') === state, 'logout did not return the state')
      await mustFail(
        'logout',
        () => client.fetchUserInfo(config, fresh.access_token, claims.sub),
        (e) => e instanceof client.WWWAuthenticateChallengeError || e?.status === 401,
        'the logged-out session’s access token to be refused at userinfo',
      )
    })

    // With the session gone, prompt=none cannot log in silently (OIDC Core §3.1.2.6).
    await check('prompt_none_login_required', async () => {
      const verifier = client.randomPKCECodeVerifier()
      const state = client.randomState()
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: SCOPE,
        state,
        nonce: client.randomNonce(),
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        prompt: 'none',
      })
      const landing = await browser.follow(url)
      await mustFail(
        'prompt_none_login_required',
        () => client.authorizationCodeGrant(config, landing, { pkceCodeVerifier: verifier, expectedState: state }),
        (e) => e instanceof client.AuthorizationResponseError && e.error === 'login_required',
        'an authorization error login_required',
      )
    })
  }
}

try {
  await main()
  console.log(JSON.stringify({ ...summary, ok: true, checks: passed }))
} catch (error) {
  const failed = error instanceof CheckFailed ? error.check : current
  console.log(JSON.stringify({ ...summary, ok: false, failed, error: describe(error), checks: passed }))
  process.exitCode = 1
}
