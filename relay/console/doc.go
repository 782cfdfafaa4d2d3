// Package console is the web console every node serves at "/": the
// incidents, each incident's room with its live timeline, delivery matrix
// and roll-call tally, the people and who is on call, roll-calls and
// posts for commanders, the roster, cluster and audit trail for admins,
// and each person's own contact methods.
//
// Pages are rendered on the server from html/template and work without
// JavaScript: forms post and redirect. One small script, embedded with
// the templates and one style sheet, adds live updates (server-sent
// events re-rendering the room's parts when the store changes) and
// failover: the room is rendered with a short-lived hand-off token, the
// stream brings fresh ones, and when the node stops answering the page
// moves to another node's /resume, which turns the hand-off into the
// same session there; a hand-off is taken once in the cluster.
//
// A person logs in with a one-time code sent over their own channels
// (relay/node), and the session cookie holds a signed token
// (relay/session) every node accepts; an admin may also use an API
// token. Every form carries a signed form token naming the session, and
// every POST must come from the page's own origin. Pages carry a strict
// Content-Security-Policy: no inline script or style anywhere.
package console
