// Package nats publishes incident messages to NATS and takes posts and
// acknowledgements from bots over it.
//
// NATS is a broadcast channel: each message is published once, not once per
// person, as a JSON event of schema "relay.message.v1" (see
// message.v1.md and message.v1.schema.json) on the subject
//
//	<subject_prefix>.incident.<incident>.message
//
// A Publisher publishes either with core NATS, where success means the
// server received the event, or through a JetStream stream, where success
// means the stream stored it and the server removes duplicate attempts of
// the same delivery by their Nats-Msg-Id.
//
// The connection is made by Connect, which the ingest side can share: it
// never gives up reconnecting, starts even when no server is reachable,
// and backs off between attempts.
//
// The ingest side (Subscribe, configured under ingest) takes posts and
// acknowledgements from configured bots as NATS requests on
// <subject_prefix>.post.<bot> and <subject_prefix>.ack.<bot> (see
// ingest.v1.md, post.v1.schema.json and ack.v1.schema.json) and answers
// each with a JSON reply: a refusal is a problem.Problem, relay's one error
// shape, with every field at fault listed. The subject names the bot, and
// the NATS server's permissions tie the subject to the bot's credentials:
// a post's author is that bot, never what the request says; a bot
// acknowledges only if allowed and only for the people of its ack_for;
// each bot has a token bucket, and the node bounds the payload size and
// the requests it holds. What ingest needs of the node is the Inbox
// interface. Every node subscribes in the same queue group, so each
// request is taken by exactly one node of a cluster.
package nats
