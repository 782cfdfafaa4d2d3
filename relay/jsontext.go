package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// maxTextProblems bounds how many strings CheckJSONText reports.
const maxTextProblems = 10

// CheckJSONText finds the strings of a JSON document that a decoder would
// change without saying so: Go's encoding/json turns invalid UTF-8, and a
// \u escape of half a surrogate pair, into U+FFFD. It returns a
// *FieldError for each such string (at most 10), joined with errors.Join,
// whose Field is the string's JSON path ("text", "to[2]",
// "alerts[0].labels.team"; a key at fault is named by the path of its
// object), or nil when there is none. It reads only as far as data is
// well-formed JSON: reporting a malformed document is the decoder's task.
func CheckJSONText(data []byte) error {
	if utf8.Valid(data) && !bytes.Contains(data, []byte(`\u`)) {
		return nil // nothing a decoder could replace
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var (
		stack []*jsonFrame
		errs  []error
		prev  int64
	)
	for len(errs) < maxTextProblems {
		tok, err := dec.Token()
		if err != nil {
			break // the end, or malformed JSON: the decoder says which
		}
		end := dec.InputOffset()
		raw := data[prev:end]
		prev = end
		var top *jsonFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				stack[len(stack)-1].advance()
			}
			continue
		}
		if top != nil && top.wantKey {
			key, _ := tok.(string) // Token returns a string for a key
			if !jsonStringIntact(raw) {
				errs = append(errs, &FieldError{cmpPath(top.path, "(the request's keys)"),
					fmt.Sprintf("has a key %s that is not valid UTF-8 (or has a \\u escape of half a surrogate pair)", strconv.Quote(key))})
			}
			top.key, top.wantKey = key, false
			continue
		}
		path := top.child()
		switch v := tok.(type) {
		case json.Delim:
			stack = append(stack, &jsonFrame{array: v == '[', wantKey: v == '{', path: path})
			continue
		case string:
			if !jsonStringIntact(raw) {
				errs = append(errs, &FieldError{cmpPath(path, "(the request)"),
					"is not valid UTF-8 (or has a \\u escape of half a surrogate pair); send text in UTF-8"})
			}
		}
		top.advance()
	}
	return errors.Join(errs...)
}

func cmpPath(path, none string) string {
	if path == "" {
		return none
	}
	return path
}

// jsonFrame is an object or array CheckJSONText is inside of.
type jsonFrame struct {
	array bool
	index int
	key   string
	// wantKey is true in an object when the next token is a key.
	wantKey bool
	path    string
}

// child returns the path of the value the frame is at; nil is the top.
func (f *jsonFrame) child() string {
	switch {
	case f == nil:
		return ""
	case f.array:
		return fmt.Sprintf("%s[%d]", f.path, f.index)
	case f.path == "":
		return Printable(f.key)
	}
	return f.path + "." + Printable(f.key)
}

// advance moves a frame past one value.
func (f *jsonFrame) advance() {
	if f == nil {
		return
	}
	if f.array {
		f.index++
	} else {
		f.wantKey = true
	}
}

// jsonStringIntact reports whether the JSON string token in raw (which
// may start with separators and white space) decodes without
// replacement: it is valid UTF-8, and its \u escapes of surrogates come
// in pairs.
func jsonStringIntact(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	i := bytes.IndexByte(raw, '"')
	if i < 0 {
		return true
	}
	s := raw[i+1:]
	for j := 0; j < len(s); j++ {
		if s[j] != '\\' {
			continue
		}
		j++
		if j >= len(s) || s[j] != 'u' {
			continue
		}
		r, ok := hex4(s[j+1:])
		if !ok {
			continue
		}
		j += 4
		switch {
		case r >= 0xdc00 && r <= 0xdfff:
			return false // a low half alone
		case r >= 0xd800 && r <= 0xdbff:
			if j+6 >= len(s) || s[j+1] != '\\' || s[j+2] != 'u' {
				return false
			}
			lo, ok := hex4(s[j+3:])
			if !ok || lo < 0xdc00 || lo > 0xdfff {
				return false
			}
			j += 6
		}
	}
	return true
}

// hex4 reads four hex digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[:4]), 16, 32)
	return rune(v), err == nil
}
