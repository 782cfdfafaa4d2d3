package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/problem"
)

// ContactRequest is the body of PUT /v1/people/{id}/contacts: either a
// new contact to verify (Channel and Address; a code goes to the new
// address), or the code that came back (Challenge and Code).
type ContactRequest struct {
	// Channel is "phone" (or "sms", "voice") or "email".
	Channel string `json:"channel,omitempty"`
	Address string `json:"address,omitempty"`
	// Challenge is the id PUT answered with; Code is the code sent.
	Challenge string `json:"challenge,omitempty"`
	Code      string `json:"code,omitempty"`
}

// ContactChallenge answers a new contact: the code was sent, and must
// come back before the contact is used.
type ContactChallenge struct {
	Challenge string    `json:"challenge"`
	SentTo    []string  `json:"sent_to"`
	Expires   time.Time `json:"expires"`
}

// PersonContacts is a person's contacts in effect, and the changes they
// made themselves over the roster file.
type PersonContacts struct {
	Person  string          `json:"person"`
	Phone   string          `json:"phone,omitempty"`
	Email   string          `json:"email,omitempty"`
	Changes []ContactChange `json:"changes"`
}

// ContactChange is a contact change a person made themselves (or an
// admin for them): what it is, and whether it is in effect or the roster
// file replaced it later (file says what the file has, which is used).
type ContactChange struct {
	Person   string    `json:"person"`
	Kind     string    `json:"kind"`
	Address  string    `json:"address"`
	Base     string    `json:"base"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	InEffect bool      `json:"in_effect"`
	File     string    `json:"file,omitempty"`
}

// ContactChanges is the body of GET /v1/roster/contacts.
type ContactChanges struct {
	Changes []ContactChange `json:"changes"`
}

func contactChanges(states []node.ContactState) []ContactChange {
	out := make([]ContactChange, len(states))
	for i, s := range states {
		out[i] = ContactChange{Person: s.Person, Kind: s.Kind, Address: s.Address, Base: s.Base, By: s.By,
			At: s.At, InEffect: s.InEffect, File: s.File}
	}
	return out
}

func (a *API) listContactChanges(w http.ResponseWriter, r *http.Request) {
	states, err := a.opts.Node.Contacts("")
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &ContactChanges{Changes: contactChanges(states)})
}

func (a *API) getContacts(w http.ResponseWriter, r *http.Request) {
	if v, ok := a.personContacts(w, r, r.PathValue("id")); ok {
		writeJSON(w, http.StatusOK, v)
	}
}

// personContacts is the view of id's contacts, or a 404 answered.
func (a *API) personContacts(w http.ResponseWriter, r *http.Request, id string) (*PersonContacts, bool) {
	ros, err := a.opts.Node.Roster()
	if err != nil {
		a.failErr(w, r, err)
		return nil, false
	}
	p, ok := ros.Person(id)
	if !ok {
		a.failContact(w, r, node.ErrNoPerson, id)
		return nil, false
	}
	states, err := a.opts.Node.Contacts(id)
	if err != nil {
		a.failErr(w, r, err)
		return nil, false
	}
	return &PersonContacts{Person: p.ID, Phone: p.Phone, Email: p.Email, Changes: contactChanges(states)}, true
}

func (a *API) putContact(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req ContactRequest
	if !a.decodeJSON(w, r, &req) {
		return
	}
	from := a.clientOf(r)
	c := callerOf(r.Context())
	switch {
	case req.Challenge != "" || req.Code != "":
		if req.Channel != "" || req.Address != "" {
			a.fail(w, http.StatusUnprocessableEntity, problem.Problem{Code: problem.CodeInvalidField, Field: "challenge",
				Message: "send either channel and address (a new contact) or challenge and code (its code), not both"})
			return
		}
		if err := a.opts.Node.ConfirmContactChange(r.Context(), id, req.Challenge, req.Code, from); err != nil {
			a.failContact(w, r, err, id)
			return
		}
		a.log.Info("contact verified", "person", id, "by", c.name)
		a.audit(r, c, "contact.add", id, "")
		if v, ok := a.personContacts(w, r, id); ok {
			writeJSON(w, http.StatusOK, v)
		}
	default:
		ch, err := a.opts.Node.StartContactChange(r.Context(), id, req.Channel, req.Address, from)
		if err != nil {
			a.failContact(w, r, err, id)
			return
		}
		a.log.Info("contact verification sent", "person", id, "channel", req.Channel, "by", c.name)
		a.audit(r, c, "contact.start", id, req.Channel)
		writeJSON(w, http.StatusAccepted, &ContactChallenge{Challenge: ch.ID, SentTo: ch.SentTo, Expires: ch.Expires})
	}
}

func (a *API) deleteContact(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	channel := r.URL.Query().Get("channel")
	c := callerOf(r.Context())
	if err := a.opts.Node.RemoveContact(r.Context(), id, channel, "token:"+c.name); err != nil {
		a.failContact(w, r, err, id)
		return
	}
	a.log.Info("contact removed", "person", id, "channel", channel, "by", c.name)
	a.audit(r, c, "contact.remove", id, channel)
	if v, ok := a.personContacts(w, r, id); ok {
		writeJSON(w, http.StatusOK, v)
	}
}

// audit puts a contact change made through the API in the audit trail,
// as the console does for its own; a failure is logged, the change
// stands.
func (a *API) audit(r *http.Request, c caller, action, person, detail string) {
	e := relay.AuditEntry{Actor: "token:" + c.name, Action: action, Target: person, Detail: detail}
	if from := a.clientOf(r); from.IsValid() {
		e.Address = from.String()
	}
	if err := a.opts.Node.Audit(r.Context(), e); err != nil {
		a.log.Warn("contact change not in the audit trail", "person", person, "action", action, "err", err)
	}
}

// failContact answers a refused contact change.
func (a *API) failContact(w http.ResponseWriter, r *http.Request, err error, id string) {
	var bad *node.InvalidContactError
	var limited *relay.RateLimitError
	switch {
	case errors.Is(err, node.ErrNoPerson):
		a.fail(w, http.StatusNotFound, problem.Problem{Code: problem.CodeNotFound, Field: "id", Message: "no person " + quote(id) + " in the roster"})
	case errors.Is(err, relay.ErrNotFound):
		a.fail(w, http.StatusNotFound, problem.Problem{Code: problem.CodeNotFound, Field: "channel", Message: err.Error()})
	case errors.As(err, &bad):
		details := make([]problem.Detail, len(bad.Problems))
		for i, p := range bad.Problems {
			details[i] = problem.Detail{Field: p.Field, Message: p.Message}
		}
		a.fail(w, http.StatusUnprocessableEntity, problem.Invalid(details))
	case errors.As(err, &limited):
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(limited.RetryAfter)))
		a.fail(w, http.StatusTooManyRequests, problem.Problem{Code: problem.CodeRateLimited, Message: limited.Error()})
	case errors.Is(err, relay.ErrCodeWrong), errors.Is(err, relay.ErrCodeExpired):
		a.fail(w, http.StatusUnprocessableEntity, problem.Problem{Code: problem.CodeInvalidField, Field: "code", Message: err.Error()})
	case errors.Is(err, relay.ErrLockedOut):
		a.fail(w, http.StatusTooManyRequests, problem.Problem{Code: problem.CodeRateLimited, Message: err.Error()})
	default:
		a.failErr(w, r, err)
	}
}
