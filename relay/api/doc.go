// Package api serves relay's HTTP API v1: posting messages, reading their
// deliveries, incidents and the roster, and the health and metrics
// endpoints. The API is described in openapi.yaml beside this file.
//
// Every error answer is a problem.Envelope:
//
//	{"error": {"code": "invalid_field", "message": "to[0]: ...", "field": "to[0]"}}
//
// with a stable code (the Code constants of package problem; openapi.yaml
// lists those the API answers with) a client can branch on.
//
// Everything a client sends is taken as hostile. Bodies are bounded;
// strings that are not UTF-8 are refused rather than decoded with
// replacement characters, and text follows relay's text policy
// (relay.CheckText). Requests are limited (Limits) per client address
// before the token is looked at and per token after it, and wrong tokens
// make their address wait longer and longer, all answered 429 with
// Retry-After and counted; the limits keep no goroutine and a bounded
// table of addresses. Health, readiness and metrics are never limited.
package api
