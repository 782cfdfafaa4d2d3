// Package relay is the core of relay, an out-of-band emergency
// communication relay: the domain (people, groups, incidents, messages,
// deliveries, acknowledgements and the events of the replicated log),
// audience resolution, delivery policies, what replies mean, and the
// contract between the core and the channels. This comment also explains
// how the whole module fits together.
//
// # Why relay exists
//
// In October 2022 a fire in one data center took down a national messenger
// and, with it, the company's own internal messenger: failover, storage and
// the operations tools all lived in that building, and staff had no second
// channel to coordinate on for days. relay is that second channel. A few
// nodes, each hosted apart from the rest (other regions, clouds, providers),
// form a gossip cluster with no shared database, no central queue and no
// single provider. Through any node that survives, bots and people post
// incident messages; relay fans them out over SMS, voice calls, email and
// NATS, and carries replies and acknowledgements back the same ways. A lone
// surviving node still accepts, stores and delivers.
//
// # Packages
//
// This package imports no store, no provider SDK and no memberlist. It
// holds the domain: a [Roster] of [Person] and [Group] entries, replaced
// whole, whose [Roster.Resolve] turns "person:kim", "group:oncall" or
// "everyone" into people; a [Schedule] (layers of rotations and
// overrides in one time zone) says who is on call at an instant, and
// [Roster.ResolveAt] turns "schedule:db" into that person at the time
// the message is accepted ([Plan.Now]), overrides added through the API
// ([OverrideChange]) layered over the roster; a [Message], built by [NewMessage] from a [Post]
// and a [Plan] with its audience resolved at acceptance and never changed
// after; one [Delivery] per (message, person, channel) plus one per
// broadcast channel (NATS), which only moves forward ([Delivery.Apply]);
// [Incident], [Ack] and [Consent] (STOP and START); [Seen], the record of
// a provider's webhook taken, which makes the cluster's [Memory] so that
// a webhook is taken once whichever node it reaches and however often;
// and [Event], the one entry of the log that carries each change. A message's [Severity] sets
// its deadline and its [Policy]: every channel at once ([ModeAll]) or one
// after another ([ModeFallback]). Replies are an [Inbound] handed to a
// [Receiver], read by [ParseCommand]; [ReplyCodes] gives the codes, alike
// on every node, that name an incident in an SMS reply. A [Sender] makes
// exactly one attempt of an [Outgoing] and never retries; a [Tracker] can
// be asked afterwards what became of an attempt; a failure is a
// [SendError], temporary or permanent, with a [Reason] from a closed set.
//
// Around it:
//
//   - relay/store is a node's durable state: the append-only event log and
//     the state folded from it, in one bbolt file. One goroutine writes,
//     committing every waiting write with one fsync (group commit). The
//     fold is idempotent and order-independent. Upkeep removes settled
//     incidents past retention (tombstones keep them from coming back),
//     packs a settled message's deliveries into one record, truncates the
//     log below what every live peer holds, rewrites a file that is mostly
//     free, and writes and restores snapshots for peers.
//   - relay/delivery is the engine. Each channel has a lane: a queue by
//     priority and due time, a dispatcher that claims due deliveries by
//     recording them "sending" before any is sent, workers that wait for
//     their provider's rate limit and circuit breaker and make one attempt,
//     and a recorder that writes results in batches. Each attempt holds one
//     of the lane's unrecorded tokens until its result is on disk and held
//     by the peers. Retries back off exponentially with jitter within the
//     message's deadline. Before repeating an attempt a node left in
//     flight, and when a receipt is late, the engine asks the provider.
//   - relay/cluster is what nodes do together. Each node pushes its events
//     to every peer as soon as they are on disk, with a window of
//     unconfirmed events, and sends again from the marks (what a peer
//     holds) each peer answers with; a peer merges pushes through a bounded
//     inbox per sender. Anti-entropy exchanges marks on every join and
//     periodically. When a node starts counting a peer as live it says
//     hello with its marks, and the peer claims nothing until it holds
//     what the hello announced. A node that lacks events no peer's log
//     keeps any more pulls a snapshot. Ownership: each unsettled delivery
//     belongs to the live member that ranks highest for it (rendezvous
//     hashing); a claim stays with its node while that node is alive and
//     its lease runs. On an authenticated cluster every frame is signed
//     by its sender's node key and bound to sender, recipient and time,
//     and only members that proved a trusted key get events or own
//     deliveries.
//   - relay/trust is who a node is and whom it believes: the node's own
//     ed25519 key and the keyring of trusted nodes' keys, read from a
//     file that may change while the node runs. The store signs every
//     event it writes with the node key ([Event.Sig]) and verifies every
//     event it merges; an event that does not verify, writes under
//     another node's origin, or carries a clock beyond the allowed drift
//     is refused alone, never folded. The gossip key only keeps
//     strangers out of the gossip; the node keys decide what is believed.
//   - relay/node assembles one node, with no HTTP, config file or
//     memberlist in it, so tests run several nodes in one process. Open
//     opens the store and prepares the engine and the replicator; Attach
//     joins a membership; Start applies the roster file, reconciles with
//     the peers, then delivers and starts the store upkeep; Close stops
//     claiming, waits for the attempts in flight, lets the peers catch up,
//     leaves the cluster and closes the store last. The node also records
//     receipts and acknowledgements and takes replies.
//   - relay/api serves HTTP API v1 (relay/api/openapi.yaml); relay/client
//     is its Go client, which tries the next node when one is down;
//     relay/alertmanager turns Alertmanager's webhook notifications into
//     posts; relay/problem is the one error shape every interface refuses
//     with; relay/hlc is the hybrid logical clock that stamps events;
//     relay/secret holds credentials that print as "<secret>".
//   - relay/console is the web console every node serves at "/":
//     server-rendered pages, one style sheet and one script embedded in
//     the binary, live updates of an incident room over server-sent
//     events (fed by the store's change notification, so a reply any
//     node takes shows everywhere), and the move of a page to another
//     node when its node dies. People log in with a one-time code sent
//     over their own channels (relay/node/login.go: the code is in the
//     log only as a salted hash, so any node checks it, and wrong codes
//     lock out on every node); relay/session makes the tokens of
//     sessions, personal links and hand-offs, signed by the node key so
//     that every node trusting that key accepts them and a session
//     outlives its node. Revocations and the audit trail are events.
//   - relay/watch probes watched targets from each node's site and
//     decides, from the views of a quorum of sites, that a target is
//     down; relay/node/watch*.go writes each node's view as events and
//     has the owner of each target, heartbeat or node page once per
//     outage and once per recovery, under an idempotency key every node
//     derives alike. relay/drill makes a drill's report (who was reached,
//     how fast, who acknowledged, per provider and site, the trend) from
//     the log alone; relay/node/drill*.go starts drills and scheduled
//     drills, and canary.go sends provider canaries whose late receipts
//     demote a provider behind the next one of its channel.
//   - relay/rosterdiff says what replacing a roster would change, entry
//     by entry and field by field; relay/rostercsv builds a roster from
//     an HR system's CSV export. The command line's roster verbs use them.
//   - channels/twilio sends SMS and calls with twilio-go and serves
//     Twilio's webhooks (receipts, keys pressed in a call, incoming SMS);
//     channels/twilio/emulator stands in for Twilio in tests and relay dev,
//     checked against Twilio's OpenAPI description. channels/email sends
//     mail through a smarthost, with a signed Reply-To when the node takes
//     replies; channels/email/inbound is the SMTP server that takes them;
//     channels/email/mailsink is a mail server for tests and relay dev.
//     channels/nats publishes one event per message and takes posts and
//     acknowledgements from bots.
//   - gossip is membership with hashicorp/memberlist (encrypted, labelled,
//     SWIM failure detection, reliable sends, push/pull); config loads and
//     checks a node's configuration file; cmd/relay is the binary, whose
//     internal/launch builds a node from its config and stops it in order
//     and whose internal/devstack is relay dev, a local three-node cluster
//     with the emulator, a mail sink and an embedded NATS server.
//
// # The life of a message
//
// A bot posts to POST /v1/messages (or to relay.post.<bot> over NATS, or
// through Alertmanager's webhook); a person's reply by SMS or mail becomes a
// post the same way. The author is who the credentials say, never the
// payload. The node validates the post, derives the message id from the
// idempotency key, scoped to the author and the way it came, when there is
// one (so a retry on another node finds the same message), resolves the audience against the roster and appends
// one event. Once it is fsynced it is pushed to every live peer, and the
// API answers 202 when cluster.copies peers (default 1) hold it too, or
// after copy_timeout (default 2 s) with fewer: only_copy says when no peer
// does.
//
// Folding the event creates the message's deliveries, pending, on every
// node that holds it, but only each delivery's owner claims it. A lane's
// dispatcher records a batch of due deliveries "sending"; its workers make
// one attempt each through the channel's first provider whose breaker lets
// them through; the recorder writes each result: sent (or delivered),
// pending with a next attempt time after a temporary error, or failed
// after a permanent one or when the deadline leaves no room. Under
// ModeFallback a person's next channel starts when the previous one fails
// or stays unconfirmed; once one confirms, or the person acknowledges, the
// rest are skipped.
//
// SMS and calls are confirmed later: Twilio posts a signed status callback
// to the delivery's callback URL and the node that takes it records
// delivered or failed (a busy or unanswered call is made again as
// delivery.calls allows). A receipt that has not come after
// delivery.receipt_timeout is looked up at Twilio by the delivery's owner.
// Pressing 1 in a call, or ACK by SMS, mail or NATS, records an [Ack];
// free text is posted to the incident's audience, except its author.
//
// When a node dies, memberlist declares it dead (in about a second with
// the LAN preset), or it leaves on SIGTERM. Every survivor recomputes
// ownership over the live members and takes up what it now owns at once.
// A node declared dead while its frames still come (a busy node that
// missed the failure detector's probes) keeps its deliveries until half
// a second after its last frame, so nothing it is sending is sent again.
// A delivery found "sending" was claimed by a node that never recorded the
// result: the new owner first asks the provider whether that attempt got
// through ([Tracker]), and records an SMS that did rather than sending it
// again; an SMS is sent only once the peers hold its claim, so that this
// holds for every SMS a dead node may have sent. A node that comes back catches up from its peers (their events,
// or a snapshot and the log's tail) before it claims anything; /readyz
// answers 503 until then.
//
// A roll-call ([RollCall], rollcall.go here and relay/node/rollcall*.go)
// is a question with numbered options posted to an incident's audience;
// the roll-call and its question are one commit, each answer
// ([RollCallAnswer]) an event, so every node counts the same [Tally].
// While one is open, a person's digit by SMS, mail, a key in a call or a
// NATS bot's ack is their answer, not a reply. Re-pings of the silent are
// timers owned like summaries of held replies (relay/node/repings.go).
//
// # Invariants
//
//   - Accepted means durable: 202 only after the message is fsynced here
//     and, while a peer confirms within copy_timeout, on cluster.copies
//     peers; otherwise the answer says it is the only copy. Replication
//     then brings it to every node, and any order of arrival folds into
//     the same state.
//   - Each delivery is sent once in normal operation: it has one owner,
//     which records its claim before sending, and a node that has not
//     caught up claims nothing. A crash repeats at most the attempts in
//     flight, never more than a lane's unrecorded tokens, and an SMS not
//     even those while Twilio can be asked; a call or mail in flight may be
//     repeated, and a NATS event repeated through JetStream is dropped by
//     its id.
//   - Failover takes seconds: takeover follows the failure detector's
//     verdict, or a claim's lease running out, not fixed waits.
//   - Everything from outside can fail: every provider call has a timeout
//     and is classified; retries (in relay/delivery, nowhere else) back
//     off within the deadline; a breaker moves on to the channel's next
//     provider, and a fallback policy to the person's next channel. Bad
//     input gets a clear error naming what is wrong, and changes nothing.
//   - Text that is kept holds no control character but newline and tab
//     and no bidirectional override, and is valid UTF-8: refused where a
//     client wrote it ([CheckText]), removed where a person answered
//     ([CleanText]); everything else, Hangul and emoji, passes byte for
//     byte.
//
// # Where to look
//
//   - Messages, deliveries and events: message.go and event.go here;
//     audience and policy: post.go, roster.go and policy.go; on-call
//     schedules: schedule.go, and relay/node/oncall.go; replies:
//     reply.go and inbound.go here, and relay/node/inbound.go.
//   - People's own phone numbers and addresses, verified by a code and
//     layered over the applied roster ([ContactChange],
//     [Roster.WithContacts]): contacts.go here, relay/node/contacts.go,
//     relay/store/contacts.go; relay roster diff and export read them.
//   - Escalation policies (steps until someone acknowledges): escalation.go
//     here, their timers in relay/node/escalations.go, their steps in
//     relay/store/escalation.go.
//   - The channel contract and its errors: channel.go and senderror.go.
//   - The text policy: text.go, and jsontext.go for JSON strings a decoder
//     would change; the API's limits on clients: relay/api/throttle.go.
//   - Group commit, the fold, retention and snapshots: relay/store
//     (store.go, fold.go, retention.go, snapshot.go).
//   - Claims, attempts and retries: relay/delivery (lane.go, attempt.go,
//     recorder.go, backoff.go, breaker.go, fallback.go); lookups of
//     attempts left in flight and of late receipts: lookup.go and
//     receipts.go.
//   - Replication and ownership: relay/cluster (push.go, inbox.go,
//     antientropy.go, catchup.go, snapshot.go, owner.go).
//   - Start and stop order: relay/node/node.go and
//     cmd/relay/internal/launch; takeovers: relay/node/cluster.go; upkeep:
//     relay/node/upkeep.go.
//   - The console: relay/console (pages.go, room.go, live.go, auth.go,
//     login.go); login codes, sessions, revocations and the audit trail:
//     relay/node/login.go and sessions.go, relay/store/login.go.
//   - Watching and drills: relay/watch, relay/node/watch.go,
//     watchdecide.go, watchview.go and site.go; relay/drill,
//     relay/node/drill.go, drillsched.go and canary.go.
//   - Every configuration key: config/testdata/full.yaml; the HTTP API:
//     relay/api/openapi.yaml.
package relay
