package console

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"

	"github.com/oob-relay/relay/relay"
)

// contactChanger is the node's self-service of contact methods: a new
// address gets a code, and is used once the code comes back.
type contactChanger interface {
	StartContactChange(ctx context.Context, person, channel, address string, from netip.Addr) (relay.Challenge, error)
	ConfirmContactChange(ctx context.Context, person, challenge, code string, from netip.Addr) error
	RemoveContact(ctx context.Context, person, channel, by string) error
}

type contact struct{ Channel, Address string }

type meData struct {
	Contacts  []contact
	CanChange bool
	Challenge *relay.Challenge
}

func (c *Console) contacts() (contactChanger, bool) {
	cc, ok := any(c.n).(contactChanger)
	return cc, ok
}

func (c *Console) meView(r *http.Request, u *user) (*view, error) {
	ros, err := c.n.Roster()
	if err != nil {
		return nil, err
	}
	p, ok := ros.Person(u.person.ID)
	if !ok {
		return nil, errors.New("not in the roster")
	}
	var cs []contact
	if p.Phone != "" {
		cs = append(cs, contact{relay.ChannelSMS, p.Phone})
	}
	if p.Email != "" {
		cs = append(cs, contact{relay.ChannelEmail, p.Email})
	}
	_, can := c.contacts()
	v := c.newView(r, u, "me.title")
	v.Data = &meData{Contacts: cs, CanChange: can}
	return v, nil
}

func (c *Console) mePage(w http.ResponseWriter, r *http.Request, u *user) {
	if !c.asPerson(w, r, u) {
		return
	}
	v, err := c.meView(r, u)
	if err != nil {
		c.fail(w, r, u, http.StatusInternalServerError, "error.store", "")
		return
	}
	c.render(w, http.StatusOK, "me", v)
}

// mePost starts a contact change (a code to the new address), confirms
// it with the code, or removes a contact method.
func (c *Console) mePost(w http.ResponseWriter, r *http.Request, u *user) {
	if !c.asPerson(w, r, u) {
		return
	}
	cc, ok := c.contacts()
	if !ok {
		c.fail(w, r, u, http.StatusNotImplemented, "me.readonly", "")
		return
	}
	v, err := c.meView(r, u)
	if err != nil {
		c.fail(w, r, u, http.StatusInternalServerError, "error.store", "")
		return
	}
	d := v.Data.(*meData)
	from := c.opts.Gate.ClientAddr(r)
	ch := r.PostFormValue("channel")
	switch step := r.PostFormValue("step"); step {
	case "start":
		addr := strings.TrimSpace(r.PostFormValue("address"))
		if len(addr) > 254 || addr == "" {
			v.Error, v.Detail = "error.action", "address: empty or longer than 254 bytes"
			c.render(w, http.StatusBadRequest, "me", v)
			return
		}
		chal, err := cc.StartContactChange(r.Context(), u.person.ID, ch, addr, from)
		if err != nil {
			c.meError(w, r, u, v, step, err)
			return
		}
		chal.To = nil
		d.Challenge = &chal
		c.audit(r.Context(), r, u, "contact.start", u.person.ID, ch)
		c.render(w, http.StatusOK, "me", v)
	case "confirm":
		id := r.PostFormValue("challenge")
		code := strings.ReplaceAll(strings.TrimSpace(r.PostFormValue("code")), " ", "")
		if id == "" || len(id) > 256 || code == "" || len(code) > 12 {
			v.Error, v.Detail = "error.action", "challenge and code: each required, the code at most 12 digits"
			c.render(w, http.StatusBadRequest, "me", v)
			return
		}
		if err := cc.ConfirmContactChange(r.Context(), u.person.ID, id, code, from); err != nil {
			if errors.Is(err, relay.ErrCodeWrong) {
				// The code form stays, so that the person can type the
				// code again.
				d.Challenge = &relay.Challenge{ID: id}
			}
			c.meError(w, r, u, v, step, err)
			return
		}
		c.audit(r.Context(), r, u, "contact.add", u.person.ID, c.changedContacts(d.Contacts, u.person.ID))
		back(w, r, "/me", "contact")
	case "remove":
		if err := cc.RemoveContact(r.Context(), u.person.ID, ch, u.person.ID); err != nil {
			c.meError(w, r, u, v, step, err)
			return
		}
		c.audit(r.Context(), r, u, "contact.remove", u.person.ID, ch)
		back(w, r, "/me", "contact")
	default:
		v.Error, v.Detail = "error.action", "step: must be start, confirm or remove"
		c.render(w, http.StatusBadRequest, "me", v)
	}
}

// changedContacts names the channels of person whose address is no
// longer the one in before.
func (c *Console) changedContacts(before []contact, person string) string {
	ros, err := c.n.Roster()
	if err != nil {
		return ""
	}
	p, ok := ros.Person(person)
	if !ok {
		return ""
	}
	was := map[string]string{}
	for _, ct := range before {
		was[ct.Channel] = ct.Address
	}
	var out []string
	if was[relay.ChannelSMS] != p.Phone {
		out = append(out, relay.ChannelSMS)
	}
	if was[relay.ChannelEmail] != p.Email {
		out = append(out, relay.ChannelEmail)
	}
	return strings.Join(out, " ")
}

// meError renders a refused contact action, with what is wrong, and
// records the refusal in the audit trail.
func (c *Console) meError(w http.ResponseWriter, r *http.Request, u *user, v *view, step string, err error) {
	status := c.loginError(w, v, err)
	var fe *relay.FieldError
	switch {
	case status != http.StatusServiceUnavailable:
	case errors.As(err, &fe):
		v.Error, v.Detail, status = "error.action", err.Error(), http.StatusBadRequest
	case errors.Is(err, relay.ErrNotFound):
		v.Error, v.Detail, status = "error.action", err.Error(), http.StatusNotFound
	}
	c.audit(r.Context(), r, u, "contact.refused", u.person.ID, step+": "+v.Error)
	c.render(w, status, "me", v)
}
