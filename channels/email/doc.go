// Package email delivers incident messages by SMTP through a smarthost.
//
// Rendering and sending are kept apart. Render is a pure function that
// turns one delivery into a complete MIME message: a Korean-first subject
// (RFC 2047), a multipart/alternative body with text/plain and text/html
// parts in the recipient's language, a Message-ID that is deterministic
// per delivery, and threading headers that group every message of an
// incident in mail clients. Sender is the thin I/O side: each Send dials
// the smarthost once, secures the connection as configured (STARTTLS,
// implicit TLS, or plain on loopback), authenticates with AUTH PLAIN when
// a username is set, and hands the message over.
//
// Send makes exactly one attempt and classifies its failure as a
// *relay.SendError: SMTP 4xx replies are temporary, 5xx replies are
// permanent, network failures are temporary and a passed deadline is a
// timeout. See Sender.Send for the full table, including how TLS failures
// are treated.
//
// A ReplyKey signs the reply addresses a Sender can set as each mail's
// Reply-To, so that a reply names its person and incident on whichever
// node takes it; package inbound is the SMTP server that takes replies.
//
// Mailboxes with non-ASCII local parts and internationalized (IDN) domain
// names are not supported; configuration and rendering reject them.
package email
