// Package receiver owns the push webhooks that Git servers send to the operator. GitHub, GitLab,
// Gitea and Forgejo can all notify a URL when a repository changes; New returns the http.Handler
// serving them at PathPrefix<namespace>/<gitprovider-name>, and for each authenticated push to a
// branch it tells the operator, through Options.OnPush, which GitProvider and branch moved, so the
// operator fetches at once instead of waiting for its poll interval. The webhook only speeds the
// fetch up: the poll stays, so a lost or refused webhook costs latency, never correctness.
//
// # Security model
//
// The endpoint is reachable by whoever can reach the operator, so every request is authenticated
// with a token shared between the Git server and one GitProvider (Options.Token), before anything
// in the body is believed. A GitProvider without a token accepts no webhook.
//
//   - HMAC is preferred: GitHub (X-Hub-Signature-256), Gitea (X-Gitea-Signature) and Forgejo
//     (X-Forgejo-Signature) sign the raw body with HMAC-SHA256 keyed with the token, so the token
//     never travels and the body cannot be altered. Gitea and Forgejo send several of these
//     headers, all over the same body and key; every one present must verify. GitHub's SHA-1
//     X-Hub-Signature is not accepted.
//   - GitLab sends the token itself (X-Gitlab-Token). It is compared in constant time, after
//     hashing, so neither its content nor its length leaks through timing; that it crosses the
//     wire is why the endpoint must be served over TLS.
//   - A request must use one scheme: GitLab's token together with an HMAC header is refused.
//   - The body is read whole before it can be verified, so it is bounded (Options.MaxBody, 5 MiB
//     by default) to keep unauthenticated callers from making the operator buffer more.
//   - Responses and logs say which header was checked and why a request was refused, never the
//     token or the expected signature.
//
// There is no replay protection beyond what TLS gives: none of these servers signs a timestamp,
// and a delivery ID would need state shared across replicas. A replayed push only causes a
// fetch, which is harmless: the operator reads what the repository holds, not what the webhook
// claims.
package receiver
