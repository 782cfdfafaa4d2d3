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
package api
