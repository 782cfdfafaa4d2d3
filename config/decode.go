package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/relay"
)

// Messages of the YAML decoder. A key may hold any character, newlines
// included.
var (
	yamlLine         = regexp.MustCompile(`(?s)^line (\d+): (.*)$`)
	yamlUnknownField = regexp.MustCompile(`(?s)^field (.*) not found in type \S+$`)
	yamlWrongType    = regexp.MustCompile("(?s)^cannot unmarshal (\\S+(?: `(.*)`)?) into (\\S+)$")
	yamlDuplicateKey = regexp.MustCompile(`(?s)^mapping key ("(?:[^"\\]|\\.)*") already defined at line (\d+)$`)
)

// Decode reads a configuration in YAML strictly: an unknown key, a
// repeated key, a value of the wrong type or a second document is an
// error. Every such problem is reported at once, joined with errors.Join,
// each naming its line and, where it can be told, its key path:
//
//	line 12: unknown key "listn" in http (known: listen, public_url, callback_url, max_body_bytes)
//	line 20: delivery.workers: want an integer, got "many"
//
// An empty document is the error "config is empty". Decode only decodes:
// it neither fills in defaults nor validates.
func Decode(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	switch err := dec.Decode(&root); {
	case errors.Is(err, io.EOF):
		return nil, errors.New("config is empty")
	case err != nil:
		return nil, errors.New(rewrite(err.Error(), nil))
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	switch {
	case doc.Kind == yaml.ScalarNode && doc.ShortTag() == "!!null":
		return nil, errors.New("config is empty")
	case doc.Kind != yaml.MappingNode:
		return nil, fmt.Errorf("line %d: the config must be a mapping of keys such as node:, http: and channels:", doc.Line)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, errors.New(rewrite(err.Error(), nil))
	default:
		return nil, fmt.Errorf("line %d: a config file holds one YAML document; remove the second one", extra.Line)
	}

	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	var c Config
	if err := strict.Decode(&c); err != nil {
		return nil, decodeError(err, &root)
	}
	return &c, nil
}

// decodeError rewrites a YAML decoding error so that it names keys and key
// paths rather than Go types.
func decodeError(err error, root *yaml.Node) error {
	w := &walker{}
	w.walk(root, configType, "")
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return errors.New(rewrite(err.Error(), w))
	}
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		errs = append(errs, errors.New(rewrite(msg, w)))
	}
	return errors.Join(errs...)
}

// rewrite turns one message of the YAML decoder into one that names keys.
// w may be nil when no document could be parsed.
func rewrite(msg string, w *walker) string {
	msg = strings.TrimPrefix(msg, "yaml: ")
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return relay.YAMLErrorText(errors.New(msg))
	}
	line, _ := strconv.Atoi(m[1])
	rest := m[2]
	if w == nil {
		return msg
	}
	if f := yamlUnknownField.FindStringSubmatch(rest); f != nil {
		if k := w.key(line, f[1]); k != nil {
			return fmt.Sprintf("line %d: unknown key %q %s (known: %s)", line, k.name, where(k.in), strings.Join(w.known[k.in], ", "))
		}
		return fmt.Sprintf("line %d: unknown key %q", line, f[1])
	}
	if f := yamlDuplicateKey.FindStringSubmatch(rest); f != nil {
		name, _ := strconv.Unquote(f[1])
		if k := w.key(line, name); k != nil {
			return fmt.Sprintf("line %d: key %q %s is repeated; it was first given at line %s", line, k.name, where(k.in), f[2])
		}
		return fmt.Sprintf("line %d: key %s is repeated; it was first given at line %s", line, f[1], f[2])
	}
	if f := yamlWrongType.FindStringSubmatch(rest); f != nil {
		// The type, and the value where the message shows it, tell apart
		// several values on one line.
		v := w.value(line, func(v *value) bool { return v.typ.String() == f[3] && shows(f[2], v.node) })
		if v == nil {
			v = w.value(line, func(v *value) bool { return v.typ.String() == f[3] })
		}
		if v != nil {
			return fmt.Sprintf("line %d: %s: want %s, got %s", line, v.path, describeType(v.typ), describeNode(v.node))
		}
		return fmt.Sprintf("line %d: wrong type: %s", line, f[1])
	}
	// An error from a type's own decoding, such as a secret's.
	if v := w.value(line, func(v *value) bool { return v.custom }); v != nil {
		return fmt.Sprintf("line %d: %s: %s", line, v.path, rest)
	}
	return msg
}

// shows reports whether shown, a value as the YAML decoder quotes it in
// a message (long ones cut to 7 bytes and "..."), is n's value.
func shows(shown string, n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return shown == ""
	}
	if len(n.Value) > 10 {
		return shown == n.Value[:7]+"..."
	}
	return shown == n.Value
}

// where names the mapping a key is in.
func where(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}
