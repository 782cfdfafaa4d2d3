// Package alertmanager turns Prometheus Alertmanager webhook notifications
// into relay posts, so that alerts page people through relay when the usual
// paging path is down.
//
// Alertmanager posts a notification (payload version "4") for each group of
// alerts to a webhook_config URL. Handler authenticates it (a bearer token
// or basic auth, as Alertmanager's http_config sends them), decodes it
// strictly with Decode, routes each alert by its labels to audiences with
// the Config's routes (match, match_re and continue, as Alertmanager's own
// routing tree does), renders the text in Korean or English, and posts one
// message per matched route to the group's incident.
//
// Every group key has one incident, whose id Posts derives from the
// receiver and the group key. Every message carries an idempotency key
// derived from the notification's alerts and the rendered post, so a
// notification that Alertmanager retries after a timeout or a 5xx answer
// is posted once.
//
// Handler answers 200 when the notification is stored, 4xx when it never
// can be (Alertmanager does not retry those), and 503 when storing failed
// for now (Alertmanager retries). An error answer is a problem.Envelope,
// as the HTTP API's are, with code no_route for alerts no route takes.
package alertmanager
