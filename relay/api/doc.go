// Package api serves relay's HTTP API v1: posting messages, reading their
// deliveries, incidents and the roster, and the health and metrics
// endpoints. The API is described in openapi.yaml beside this file.
//
// Every error answer has the shape
//
//	{"error": {"code": "invalid_field", "message": "to[0]: ...", "field": "to[0]"}}
//
// with a stable code (see the Code constants) a client can branch on.
package api
