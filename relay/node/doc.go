// Package node assembles one relay node from its parts: the durable store
// (relay/store), the delivery engine (relay/delivery), the replication of
// the event log and the ownership of deliveries (relay/cluster), and the
// roster. It knows nothing of HTTP, configuration files or memberlist, so
// several nodes can run in one process; the HTTP API, the webhooks, the
// inbound servers and the command line all talk to a *Node.
//
// What a Node does:
//
//   - Post accepts a message: it validates the post, resolves its
//     audience against the roster, and returns once the message is on disk
//     here and, while a peer is alive, held by Options.Copies peers, or
//     after Options.CopyTimeout with fewer (Accepted says how many); an
//     idempotency key makes a retried post the same message.
//   - Start reconciles with the peers, then delivers: the engine sends
//     each delivery this node owns through its providers, retrying within
//     the severity's deadline.
//   - Attach and MembershipChanged join the node to its cluster's
//     membership: deliveries are owned by rendezvous hashing over the live
//     members, and a member takes over the unfinished deliveries of one
//     that died or whose lease ran out.
//   - RecordReceipt and Acknowledge record what providers' webhooks report
//     (a delivery receipt, a key pressed during a call); a busy or
//     unanswered call is called again as Options.Calls allows.
//   - Receive takes what people send back on any channel: a reply posted
//     to their incident's audience, ACK, STOP and START, HELP, with
//     rate-limited automatic answers. Replies never feed each other:
//     automatic answers and repeats are recorded and sent to nobody, a
//     person's replies over their limit are held and sent on in one
//     summary (SendSummaries, on a timer each summary's owner runs), and
//     only a budget of replies goes at high priority (loops.go,
//     summaries.go). AckIncident acknowledges an incident
//     for a person; ReplyCode gives the code that names an incident in an
//     SMS reply.
//   - Roster and SetRoster read and replace the roster; Cluster reports
//     the node's view of its cluster: each member, how many of this
//     node's events it has yet to confirm, and the unsettled deliveries it
//     owns.
//   - StartLogin and FinishLogin log a person in to the web console by a
//     one-time code sent straight through the node's providers (never
//     through the engine), checked on any node from the log, where it is
//     only a salted hash; SendChallenge and CheckChallenge do the same
//     for other purposes, such as proving a new contact. Tokens signs and
//     checks console sessions and links; RevokeSession, RevokeSessions
//     and SessionRevoked end sessions early through the log; Audit and
//     AuditTrail keep the replicated audit trail; PersonalLink is the
//     link an SMS or mail carries to its incident room (login.go,
//     sessions.go).
package node
