package api_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/problem"
)

// roleKey is the extension naming the least role an operation needs.
const roleKey = "x-relay-role"

// TestDocumentErrorCodes checks that the ErrorCode enum lists exactly the
// codes the API answers with, the problem.Code constants its source
// names (problem.Invalid stands for CodeInvalidField), so a new code
// cannot go undocumented.
func TestDocumentErrorCodes(t *testing.T) {
	spec := specFor(t)
	var documented []string
	for _, v := range spec.doc.Components.Schemas["ErrorCode"].Value.Enum {
		documented = append(documented, v.(string))
	}
	values := codeConstants(t, filepath.Join("..", "problem", "problem.go"))
	values["Invalid"] = problem.CodeInvalidField
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok || !strings.HasPrefix(sel.Sel.Name, "Code") && sel.Sel.Name != "Invalid" {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "problem" {
				v, ok := values[sel.Sel.Name]
				if !ok {
					t.Fatalf("%s names problem.%s, which problem.go does not declare", name, sel.Sel.Name)
				}
				if !slices.Contains(declared, v) {
					declared = append(declared, v)
				}
			}
			return true
		})
	}
	sort.Strings(documented)
	sort.Strings(declared)
	if len(declared) == 0 || !slices.Equal(documented, declared) {
		t.Errorf("ErrorCode enum = %q\nthe API answers with %q", documented, declared)
	}
}

// codeConstants returns the values of the Code constants a Go file
// declares, by name.
func codeConstants(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Code") || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					t.Fatalf("%s is not a string literal", name.Name)
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out[name.Name] = v
			}
		}
	}
	return out
}

// TestDocumentErrorsUseEnvelope checks that every error answer the
// description lists is the error envelope in JSON (except the metrics
// endpoint's own plain-text failure).
func TestDocumentErrorsUseEnvelope(t *testing.T) {
	spec := specFor(t)
	for path, item := range spec.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status, ref := range op.Responses.Map() {
				if status < "400" || (path == "/metrics" && status == "500") {
					continue
				}
				mt := ref.Value.Content.Get("application/json")
				if mt == nil || len(ref.Value.Content) != 1 {
					t.Errorf("%s %s %s: error answers must be application/json only", method, path, status)
					continue
				}
				if !refersTo(mt.Schema, "#/components/schemas/Error") {
					t.Errorf("%s %s %s: schema is not the Error envelope", method, path, status)
				}
			}
		}
	}
}

func refersTo(s *openapi3.SchemaRef, ref string) bool {
	if s.Ref == ref {
		return true
	}
	return s.Value != nil && slices.ContainsFunc(s.Value.AllOf, func(r *openapi3.SchemaRef) bool { return r.Ref == ref })
}

// operation is one operation of the description.
type operation struct {
	method, path string
	op           *openapi3.Operation
}

func operations(spec *contract) []operation {
	var out []operation
	for path, item := range spec.doc.Paths.Map() {
		for method, op := range item.Operations() {
			out = append(out, operation{method, path, op})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path+out[i].method < out[j].path+out[j].method })
	return out
}

// harmless is a request to o that changes nothing whoever sends it: a
// body with an unknown field where one is needed, ids that do not exist.
func harmless(o operation, auth string) request {
	r := request{method: o.method, path: strings.ReplaceAll(o.path, "{id}", "no-such-id"), auth: auth}
	if o.op.RequestBody != nil {
		r.contentType = "application/json"
		r.body = `{"harmless":true}`
	}
	return r
}

// TestRolesFollowDescription sends every operation the description lists
// with no token and with each role's token: open operations answer
// without one, the others refuse a missing token, and a role is refused
// exactly when it is weaker than the operation's x-relay-role.
func TestRolesFollowDescription(t *testing.T) {
	h := newHarness(t)
	spec := specFor(t)
	before := h.state(t)
	tokens := map[relay.Role]string{relay.RoleViewer: viewerToken, relay.RoleBot: botToken, relay.RoleAdmin: adminToken}
	for _, o := range operations(spec) {
		name := o.method + " " + o.path
		open := o.op.Security != nil && len(*o.op.Security) == 0
		raw, hasRole := o.op.Extensions[roleKey]
		switch {
		case open && hasRole:
			t.Errorf("%s needs no token but names role %v", name, raw)
			continue
		case !open && !hasRole:
			t.Errorf("%s needs a token but names no %s", name, roleKey)
			continue
		case !open && !strings.Contains(o.op.Description, "Needs role `"+raw.(string)+"`"):
			t.Errorf("%s: description does not say it needs role %s", name, raw)
		}
		ctx, _ := offContract(t.Context())
		a := h.do(t, ctx, harmless(o, ""))
		if notServed(t, a) {
			t.Errorf("%s is described but not served", name)
			continue
		}
		if open {
			if a.status != http.StatusOK {
				t.Errorf("%s without a token: %d %s", name, a.status, a.body)
			}
			continue
		}
		if a.status != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d, want 401", name, a.status)
		}
		need := relay.Role(raw.(string))
		if !need.Valid() {
			t.Errorf("%s: %s %q is not a role", name, roleKey, need)
			continue
		}
		for role, tok := range tokens {
			a := h.do(t, ctx, harmless(o, bearer(tok)))
			if refused := a.status == http.StatusForbidden; refused == role.Allows(need) {
				t.Errorf("%s with role %s: %d %s; it needs %s", name, role, a.status, a.body, need)
			}
		}
	}
	h.unchanged(t, before)
}

// notServed reports whether an answer is the handler's catch-all for
// paths it does not have.
func notServed(t *testing.T, a *answer) bool {
	return a.status == http.StatusNotFound && strings.HasPrefix(a.problem(t).Message, "no such endpoint")
}

// TestWrongMethod asks paths the API has with methods they do not serve.
// The answer must be the error envelope, refuse the request and change
// nothing. HTTP says 405 with an Allow header; today the API answers 404
// not_found, as for an unknown path, so both are taken here.
func TestWrongMethod(t *testing.T) {
	h := newHarness(t)
	before := h.state(t)
	for _, r := range []request{
		{method: http.MethodDelete, path: "/v1/messages", auth: bearer(adminToken)},
		{method: http.MethodGet, path: "/v1/messages", auth: bearer(adminToken)},
		{method: http.MethodPut, path: "/v1/messages/01JC0Z6T4Q9G8W7X2Y3Z4A5B6C", auth: bearer(adminToken), contentType: "application/json", body: validPost},
		{method: http.MethodPost, path: "/v1/roster", auth: bearer(adminToken), contentType: "application/yaml", body: newRosterYAML},
		{method: http.MethodDelete, path: "/v1/incidents/" + incident, auth: bearer(adminToken)},
		{method: http.MethodPost, path: "/healthz"},
	} {
		ctx, v := offContract(t.Context())
		a := h.do(t, ctx, r)
		if v.outside() == nil {
			t.Errorf("%s %s: the description has this operation", r.method, r.path)
		}
		p := a.problem(t)
		switch a.status {
		case http.StatusMethodNotAllowed:
			if p.Code != problem.CodeMethod || a.header.Get("Allow") == "" {
				t.Errorf("%s %s: 405 with code %q and Allow %q", r.method, r.path, p.Code, a.header.Get("Allow"))
			}
		default:
			t.Errorf("%s %s: %d %s, want 405", r.method, r.path, a.status, a.body)
		}
	}
	h.unchanged(t, before)
}
