package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/problem"
)

func (a *API) fail(w http.ResponseWriter, status int, p problem.Problem) {
	writeJSON(w, status, problem.Envelope{Error: p})
}

// failErr answers err: field errors as 422 listing each, anything else
// as a 500 whose cause goes to the log, not to the client.
func (a *API) failErr(w http.ResponseWriter, r *http.Request, err error) {
	fes := problem.FieldErrors(err)
	if len(fes) == 0 {
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		a.fail(w, http.StatusInternalServerError, problem.Problem{Code: problem.CodeInternal, Message: "internal error; the node's log has the cause"})
		return
	}
	details := make([]problem.Detail, len(fes))
	for i, fe := range fes {
		details[i] = problem.Detail{Field: fe.Field, Message: fe.Message}
	}
	a.fail(w, http.StatusUnprocessableEntity, problem.Invalid(details))
}

// failRoster answers a refused roster: every problem listed.
func (a *API) failRoster(w http.ResponseWriter, err error) {
	var details []problem.Detail
	for _, e := range problem.Flatten(err) {
		msg := e.Error()
		field, rest, ok := strings.Cut(msg, ": ")
		if !ok || strings.Contains(field, `"`) {
			field, rest = "", msg
		}
		details = append(details, problem.Detail{Field: field, Message: rest})
	}
	p := problem.Invalid(details)
	p.Message = "roster refused, the current one stays: " + err.Error()
	a.fail(w, http.StatusUnprocessableEntity, p)
}

// decodeJSON reads one JSON object into v, refusing unknown fields,
// trailing data, bodies over the limit and strings that are not UTF-8.
// On failure it has answered.
func (a *API) decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !mediaType(ct, "application/json") {
		a.fail(w, http.StatusUnsupportedMediaType, problem.Problem{Code: problem.CodeUnsupportedType, Message: fmt.Sprintf("Content-Type %q is not supported; send application/json", ct)})
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if !errors.As(err, &tooBig) {
			a.fail(w, http.StatusBadRequest, problem.Problem{Code: problem.CodeInvalidJSON, Message: "cannot read the request body: " + err.Error()})
			return false
		}
		a.failDecode(w, err)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON object")
	}
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	if err != nil {
		a.failDecode(w, err)
		return false
	}
	// The decoder has put U+FFFD where the body was not UTF-8: refuse
	// what it would have changed, naming the field.
	if err := relay.CheckJSONText(body); err != nil {
		a.failErr(w, r, err)
		return false
	}
	return true
}

func (a *API) failDecode(w http.ResponseWriter, err error) {
	var (
		tooBig *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		a.fail(w, http.StatusRequestEntityTooLarge, problem.Problem{Code: problem.CodeBodyTooLarge, Message: fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit)})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		a.fail(w, http.StatusBadRequest, problem.Problem{Code: problem.CodeUnknownField, Field: name, Message: fmt.Sprintf("unknown field %q", name)})
	case errors.As(err, &syntax):
		a.fail(w, http.StatusBadRequest, problem.Problem{Code: problem.CodeInvalidJSON, Message: fmt.Sprintf("malformed JSON at byte %d: %s", syntax.Offset, syntax.Error())})
	case errors.As(err, &typ) && typ.Field == "":
		a.fail(w, http.StatusBadRequest, problem.Problem{Code: problem.CodeInvalidJSON, Message: fmt.Sprintf("request body must be a JSON object, not %s", typ.Value)})
	case errors.As(err, &typ):
		a.fail(w, http.StatusBadRequest, problem.Problem{Code: problem.CodeInvalidJSON, Field: typ.Field, Message: fmt.Sprintf("%s must be %s, not %s", typ.Field, jsonKind(typ.Type), typ.Value)})
	case errors.Is(err, io.EOF):
		a.fail(w, http.StatusBadRequest, problem.Problem{Code: problem.CodeInvalidJSON, Message: "request body is empty; send a JSON object"})
	case errors.Is(err, io.ErrUnexpectedEOF):
		a.fail(w, http.StatusBadRequest, problem.Problem{Code: problem.CodeInvalidJSON, Message: "request body ends in the middle of the JSON object"})
	default:
		a.fail(w, http.StatusBadRequest, problem.Problem{Code: problem.CodeInvalidJSON, Message: err.Error()})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client may be gone; nothing to do about it
}

// mediaType reports whether a Content-Type value names one of the media
// types, compared without case and parameters.
func mediaType(header string, types ...string) bool {
	mt, _, err := mime.ParseMediaType(header)
	if err != nil {
		return false
	}
	for _, t := range types {
		if mt == t {
			return true
		}
	}
	return false
}

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(jsonKind(t.Elem()), "a "), "an ") + "s"
	default:
		return "an object"
	}
}
