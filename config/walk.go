package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

var (
	configType      = reflect.TypeFor[Config]()
	durationType    = reflect.TypeFor[time.Duration]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

// walker follows a parsed document along the Go types it decodes into and
// records where each key and value is, so that the decoder's errors, which
// name lines and Go types, can name key paths instead. It visits every
// node once where it is written and does not follow aliases.
type walker struct {
	keys   map[int][]key   // by line
	values map[int][]value // by line, in document order
	// known lists the keys each mapping path accepts, in declaration order.
	known map[string][]string
}

// key is a mapping key as written.
type key struct {
	line int
	name string
	in   string // the path of the mapping it is in; "" at the top
}

// value is a node with the path and Go type it decodes into.
type value struct {
	line   int
	path   string
	typ    reflect.Type
	node   *yaml.Node
	custom bool // the type decodes itself (yaml.Unmarshaler)
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			w.walk(c, t, path)
		}
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	custom := reflect.PointerTo(t).Implements(unmarshalerType)
	if w.values == nil {
		w.values, w.keys, w.known = map[int][]value{}, map[int][]key{}, map[string][]string{}
	}
	w.values[n.Line] = append(w.values[n.Line], value{line: n.Line, path: path, typ: t, node: n, custom: custom})
	if custom || n.Kind == yaml.AliasNode {
		return
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := structFields(t)
		if _, ok := w.known[path]; !ok {
			names := make([]string, len(fields))
			for i, f := range fields {
				names[i] = f.name
			}
			w.known[path] = names
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				// Merged mappings written in place belong to this path;
				// aliases were walked where their anchor is.
				merged := []*yaml.Node{v}
				if v.Kind == yaml.SequenceNode {
					merged = v.Content
				}
				for _, m := range merged {
					if m.Kind == yaml.MappingNode {
						w.walk(m, t, path)
					}
				}
				continue
			}
			if k.Kind != yaml.ScalarNode {
				continue
			}
			w.keys[k.Line] = append(w.keys[k.Line], key{line: k.Line, name: k.Value, in: path})
			for _, f := range fields {
				if f.name == k.Value {
					w.walk(v, f.typ, join(path, f.name))
					break
				}
			}
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			w.walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.walk(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))
		}
	}
}

// key returns the key called name written at line.
func (w *walker) key(line int, name string) *key {
	for i := range w.keys[line] {
		if k := &w.keys[line][i]; k.name == name {
			return k
		}
	}
	return nil
}

// value returns the first value at line that match accepts.
func (w *walker) value(line int, match func(*value) bool) *value {
	for i := range w.values[line] {
		if v := &w.values[line][i]; v.path != "" && match(v) {
			return v
		}
	}
	return nil
}

type field struct {
	name string
	typ  reflect.Type
}

// structFields lists the YAML keys of a struct as yaml.v3 sees them,
// inline structs included.
func structFields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct {
			out = append(out, structFields(f.Type)...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, field{name, f.Type})
	}
	return out
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// describeType says in words what a value of type t is written as.
func describeType(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 30s, 5m or 1h"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping of keys"
	}
	return t.String()
}

// describeNode says in words what was written.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	v := n.Value
	if utf8.RuneCountInString(v) > 40 {
		v = string([]rune(v)[:37]) + "..."
	}
	return fmt.Sprintf("%q", v)
}
