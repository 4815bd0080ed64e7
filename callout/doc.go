// Package callout makes the HTTP calls of Parley's webhook widget: it
// implements flows.WebhookService and provides the pure helpers the widget
// uses to build bodies and read answers.
//
// The main pieces:
//   - Service (New, Options): sends a rendered flows.WebhookRequest with auth
//     (basic, bearer, OAuth 2.0 client credentials and password grants),
//     per-attempt timeouts, a response size cap, optional redirects and
//     retries, and reports a flows.WebhookResult with redacted traces.
//   - Guard: the SSRF guard. It runs as the dialer's Control function, so it
//     judges the address actually dialled, after DNS resolution, on every
//     connection and every redirect hop. Private, loopback, link-local,
//     multicast and other special-purpose ranges (code.dny.dev/ssrf) are
//     refused unless allowed by CIDR (ParseAllowCIDRs).
//   - Configured webhooks: LoadConfigs, Validate, Merge, NewRequest.
//   - Bodies: DefaultBody, LegacyBody (RapidPro), EncodeBody, EncodeCustom,
//     BuildBody. They only read the session, so they are testable alone.
//   - Answers: CheckAnswer (a JSON answer nested deeper than MaxAnswerDepth
//     fails the call), Exit, Extra (a name an object repeats keeps its last
//     value: LastValues), Extract (gjson mappings), Event, Describe.
//   - AccessToken, DropToken: the OAuth 2.0 token cache for other senders
//     (event delivery), so tokens are obtained one way.
//   - Redactor: secrets (auth headers, cookies, passwords, client secrets,
//     tokens, secret-looking headers and query parameters) never reach
//     traces, events or logs, nor do their JSON-escaped and percent-encoded
//     forms, as a receiver echoing them may write them.
//
// Caveats: OAuth 2.0 access tokens are cached in memory per token URL,
// client, grant, user, scopes and audience, shared by all sessions; a restart
// requests new ones. The timeout applies to each attempt (connect, send,
// answer and body); retries add attempts, and a retry never starts if its
// backoff would outlast the caller's deadline. The guard is bypassed by
// nothing but Options.Unsafe: proxies from the environment are ignored,
// since the guard would only see the proxy's address.
package callout
