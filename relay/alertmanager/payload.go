package alertmanager

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Version is the webhook payload version this package reads.
const Version = "4"

// Alert and notification statuses.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// DefaultMaxBytes bounds a notification's size when no limit is given. A
// notification of a few hundred alerts with long annotations fits.
const DefaultMaxBytes = 1 << 20

// Notification is one webhook notification: a group of alerts that
// Alertmanager routed to one receiver.
type Notification struct {
	// Receiver is the name of the Alertmanager receiver that sent it.
	Receiver string `json:"receiver"`
	// Status is StatusFiring when any alert fires, else StatusResolved.
	Status string  `json:"status"`
	Alerts []Alert `json:"alerts"`
	// GroupLabels are the labels the alerts were grouped by.
	GroupLabels map[string]string `json:"groupLabels"`
	// CommonLabels and CommonAnnotations are those every alert shares.
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	// ExternalURL links back to the Alertmanager.
	ExternalURL string `json:"externalURL"`
	Version     string `json:"version"`
	// GroupKey identifies the group of alerts across notifications.
	GroupKey string `json:"groupKey"`
	// TruncatedAlerts counts the alerts Alertmanager left out because of
	// its max_alerts setting.
	TruncatedAlerts int `json:"truncatedAlerts"`
}

// Alert is one alert of a notification.
type Alert struct {
	// Status is StatusFiring or StatusResolved.
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	// EndsAt is zero while the alert fires: Alertmanager sends
	// "0001-01-01T00:00:00Z" until the alert is resolved.
	EndsAt time.Time `json:"endsAt"`
	// GeneratorURL links to what raised the alert, such as a Prometheus
	// graph of the rule's expression.
	GeneratorURL string `json:"generatorURL"`
	// Fingerprint identifies the alert by its labels.
	Fingerprint string `json:"fingerprint"`
}

// Firing reports whether the alert fires.
func (a *Alert) Firing() bool { return a.Status == StatusFiring }

// TooLargeError is returned by Decode for a payload over its limit.
type TooLargeError struct {
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("payload is larger than %d bytes", e.Limit)
}

// wireNotification is a notification as sent, its alerts still raw so that
// a problem in one can name its index.
type wireNotification struct {
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []json.RawMessage `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Version           *string           `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
}

// wireAlert is an alert as sent, its times still text.
type wireAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     *string           `json:"startsAt"`
	EndsAt       *string           `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Decode reads one notification of at most limit bytes (DefaultMaxBytes
// when limit is not positive). A payload over the limit is a
// *TooLargeError. The body must be exactly one JSON object whose fields
// have the documented types. Fields Alertmanager may add to version 4 are
// ignored: the version is what changes when the format does. Then:
// version must be "4", groupKey is required, alerts must not be empty,
// every status must be firing or resolved, startsAt is a required RFC 3339
// time and endsAt an optional one, and truncatedAlerts must not be
// negative. A string that is not UTF-8 is refused. Problems with fields
// are *relay.FieldError values, joined with errors.Join, whose Field is
// the JSON path, such as "alerts[1].startsAt" or "alerts[0].labels.team".
func Decode(r io.Reader, limit int64) (*Notification, error) {
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read payload: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	// Alertmanager writes UTF-8; a string that is not would be decoded
	// with replacement characters, so it is refused, naming the field.
	if err := relay.CheckJSONText(data); err != nil {
		return nil, err
	}
	var w wireNotification
	if err := decodeObject(data, &w, ""); err != nil {
		return nil, err
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &relay.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case w.Version == nil:
		bad("version", `is required and must be "4"`)
	case *w.Version != Version:
		bad("version", `is %q; only payload version "4" is understood`, *w.Version)
	}
	if w.GroupKey == "" {
		bad("groupKey", "is required")
	}
	checkStatus(bad, "status", w.Status)
	if len(w.Alerts) == 0 {
		bad("alerts", "is required and must list at least one alert")
	}
	if w.TruncatedAlerts < 0 {
		bad("truncatedAlerts", "is %d; it must not be negative", w.TruncatedAlerts)
	}
	n := &Notification{
		Receiver:          w.Receiver,
		Status:            w.Status,
		Alerts:            make([]Alert, 0, len(w.Alerts)),
		GroupLabels:       w.GroupLabels,
		CommonLabels:      w.CommonLabels,
		CommonAnnotations: w.CommonAnnotations,
		ExternalURL:       w.ExternalURL,
		Version:           Version,
		GroupKey:          w.GroupKey,
		TruncatedAlerts:   w.TruncatedAlerts,
	}
	for i, raw := range w.Alerts {
		path := fmt.Sprintf("alerts[%d]", i)
		var wa wireAlert
		if err := decodeObject(raw, &wa, path); err != nil {
			errs = append(errs, err)
			continue
		}
		a := Alert{
			Status:       wa.Status,
			Labels:       wa.Labels,
			Annotations:  wa.Annotations,
			GeneratorURL: wa.GeneratorURL,
			Fingerprint:  wa.Fingerprint,
		}
		checkStatus(bad, path+".status", wa.Status)
		if wa.StartsAt == nil {
			bad(path+".startsAt", "is required")
		} else if a.StartsAt, err = parseTime(*wa.StartsAt); err != nil {
			bad(path+".startsAt", "%v", err)
		}
		if wa.EndsAt != nil && *wa.EndsAt != "" {
			if a.EndsAt, err = parseTime(*wa.EndsAt); err != nil {
				bad(path+".endsAt", "%v", err)
			}
		}
		n.Alerts = append(n.Alerts, a)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return n, nil
}

func checkStatus(bad func(field, format string, args ...any), field, status string) {
	switch status {
	case StatusFiring, StatusResolved:
	case "":
		bad(field, "is required: firing or resolved")
	default:
		bad(field, "is %q; it must be firing or resolved", status)
	}
}

// parseTime reads an RFC 3339 time, with or without fractional seconds.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time such as 2026-11-03T14:02:00Z", s)
	}
	return t, nil
}

// decodeObject decodes data, which must be exactly one JSON object, into
// v. Errors are *relay.FieldError values whose Field starts with path, or
// plain errors for a body that is not JSON at all.
func decodeObject(data []byte, v any, path string) error {
	what := "payload"
	if path != "" {
		what = path
	}
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return fmt.Errorf("%s is empty; send a JSON object", what)
	case trimmed[0] != '{':
		if path == "" && json.Valid(trimmed) {
			return fmt.Errorf("payload must be a JSON object, not %s", jsonKind(trimmed[0]))
		}
		if path != "" {
			return &relay.FieldError{Field: path, Message: "must be an object, not " + jsonKind(trimmed[0])}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = fmt.Errorf("unexpected data after the JSON object")
		}
	}
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syntax):
		return fmt.Errorf("malformed JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s ends in the middle of the JSON object", what)
	case errors.As(err, &typ) && typ.Field != "":
		field := typ.Field
		if path != "" {
			field = path + "." + field
		}
		return &relay.FieldError{Field: field, Message: fmt.Sprintf("must be %s, not %s", typeKind(typ), typ.Value)}
	}
	return fmt.Errorf("%s: %v", what, strings.TrimPrefix(err.Error(), "json: "))
}

// typeKind names the JSON type a field wanted.
func typeKind(e *json.UnmarshalTypeError) string {
	switch e.Type.Kind().String() {
	case "string":
		if strings.HasSuffix(e.Field, "labels") || strings.HasSuffix(e.Field, "Labels") ||
			strings.HasSuffix(e.Field, "nnotations") {
			return "an object of strings"
		}
		return "a string"
	case "int":
		return "a whole number"
	case "map":
		return "an object of strings"
	case "slice":
		return "an array of objects"
	}
	return "an object"
}

// jsonKind names the kind of JSON value that starts with c.
func jsonKind(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
