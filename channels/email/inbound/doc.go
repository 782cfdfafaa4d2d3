// Package inbound is the receiving side of the email channel: an SMTP
// server that turns staff replies to incident mail into relay.Inbound
// messages, on any node.
//
// A reply arrives at one of two kinds of address in the relay's mail
// domain:
//
//   - A reply address "r+<token>@<domain>", which the outgoing mail sets
//     as its Reply-To (email.ReplyKey.Address). The token is signed, so it
//     names the person and the incident; the sender must still be that
//     person's roster address, in MAIL FROM and in the From header.
//   - An incident address "<incident-id>@<domain>", for a new mail about
//     an incident that exists, from any roster address, or from a bot
//     logged in with AUTH PLAIN.
//
// A logged-in bot (Options.Auth) posts as itself, whatever its From says:
// its Subject, a blank line and its text go to everyone the incident's
// messages were addressed to, through Options.Post. A bot with an
// audience of its own (Bot.To) may open an incident that has no message
// yet. A mail sent again (same Message-ID) posts once.
//
// Anyone can write a roster address into MAIL FROM and From, so mail from
// a person to an incident address must also prove its From domain, as
// DMARC (RFC 7489) has it: a DKIM signature that verifies for the From
// domain or one aligned with it, or else SPF passing for an aligned MAIL
// FROM domain, or else, on connections from a trusted upstream mail
// server's addresses, that server's Authentication-Results saying so.
// Alignment is relaxed (same organizational domain) unless the domain's
// DMARC record asks for strict; the check is made whatever the domain's
// DMARC policy. DNS lookups go through Options.Resolver, each bounded by
// DNSTimeout. Options.IncidentAddressesOff refuses such mail altogether.
// A reply address needs no such proof: its signed token names the person.
//
// Everything else is refused while the client is still connected, so the
// sender's own mail server bounces it with a reason:
//
//	550 5.1.1  recipient outside the domain, unknown incident (also when
//	           the Receiver answers relay.ErrNoIncident)
//	550 5.7.1  reply address that does not verify or belongs to someone
//	           else, incident addresses turned off, sender not on the roster (at RCPT from MAIL FROM, at
//	           DATA from the From header, or when the Receiver answers
//	           relay.ErrUnknownSender)
//	550 5.7.26 mail to an incident address whose From domain neither DKIM
//	           nor SPF vouches for (at DATA), saying what failed
//	451 4.4.3  a DKIM, SPF or DMARC record could not be looked up now
//	552 5.3.4  message over the size limit
//	500 5.5.0  a line longer than MaxLineLength
//	554 5.6.0  broken MIME, no From, no text
//	451 4.3.0  the Receiver failed for now; the sender retries
//
// Limits (Options.Limits) keep one client, an IPv4 address or an IPv6
// /64, from taking the server: connections over the client's share or
// over the total are answered 421 4.7.0 and closed, mails over the
// client's rate 450 4.7.1 at MAIL FROM. Each failed AUTH of a client waits
// twice as long as its last (AuthDelay up to AuthMaxDelay) before the 535,
// and is logged with the client's address, at most once a minute per
// client, never with the password.
//
// Out-of-office answers and other machine-sent mail (Auto-Submitted,
// Precedence: bulk, delivery reports) are accepted and handed on marked
// relay.Inbound.Automatic: the core records them in the incident and sends
// them to nobody, so an autoresponder neither posts to an incident nor
// gets a bounce.
//
// Parse and StripQuoted are the pure part: they read a MIME message
// (quoted-printable, base64, UTF-8, EUC-KR, CP949, ISO-2022-KR, HTML-only
// mail) into the few fields the relay needs and cut the quoted original
// and signature from the text. Server is the thin SMTP side around them,
// built on github.com/emersion/go-smtp. It logs who sent what to which
// incident, never a body or a secret.
package inbound
