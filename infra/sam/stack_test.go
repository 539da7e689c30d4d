package sam

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// repoRoot is where template.yaml, samconfig.toml and the Makefile live.
const repoRoot = "../.."

// stack is template.yaml as goformation's parser reads it, with the
// short-form tags (!Ref, !GetAtt, !Sub, !If ...) turned into their long form
// ({"Ref": ...}, {"Fn::GetAtt": ...}) and nothing resolved. Parameters and
// Outputs use goformation's types; resources stay generic maps, because
// goformation's typed model cannot hold this template: its SAM types predate
// LoggingConfig and FunctionResponseTypes (a function with LoggingConfig
// fails to decode, an SQS event with FunctionResponseTypes silently decodes
// to nothing), and resolving intrinsics puts numbers where its structs want
// strings (a Number parameter in Environment) and the reverse.
type stack struct {
	Parameters cloudformation.Parameters
	Conditions map[string]any
	Globals    map[string]map[string]any
	Resources  map[string]resource
	Outputs    cloudformation.Outputs
}

// resource is one entry of Resources.
type resource struct {
	Type                string
	Properties          map[string]any
	Metadata            map[string]any
	DeletionPolicy      string
	UpdateReplacePolicy string
	Condition           string
}

func loadStack(t *testing.T) stack {
	t.Helper()
	path := filepath.Join(repoRoot, "template.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read template: %v", err)
	}
	long, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	var s stack
	if err := json.Unmarshal(long, &s); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	if len(s.Resources) == 0 {
		t.Fatalf("%s has no resources", path)
	}
	return s
}

// ofType returns the logical ids of the resources of one type, sorted.
func (s stack) ofType(typ string) []string {
	var ids []string
	for id, r := range s.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// functions returns the logical ids of the template's Lambda functions;
// a template without any fails the test.
func (s stack) functions(t *testing.T) []string {
	t.Helper()
	ids := s.ofType("AWS::Serverless::Function")
	if len(ids) == 0 {
		t.Fatal("template has no AWS::Serverless::Function")
	}
	if raw := s.ofType("AWS::Lambda::Function"); len(raw) > 0 {
		t.Errorf("plain AWS::Lambda::Function %v: use AWS::Serverless::Function so the checks here apply", raw)
	}
	return ids
}

// function returns a function's properties with Globals.Function merged in
// as SAM merges them: maps merge key by key, the function's own scalars and
// lists win.
func (s stack) function(id string) map[string]any {
	return merge(s.Globals["Function"], s.Resources[id].Properties)
}

func merge(global, local map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range global {
		out[k] = v
	}
	for k, v := range local {
		g, gok := out[k].(map[string]any)
		l, lok := v.(map[string]any)
		if gok && lok && !isIntrinsic(l) {
			out[k] = merge(g, l)
			continue
		}
		out[k] = v
	}
	return out
}

// get follows a path of map keys; nil when any step is missing.
func get(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// isIntrinsic reports whether m is an intrinsic function call ({"Ref": ...},
// {"Fn::...": ...}).
func isIntrinsic(m map[string]any) bool {
	if len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

// render writes a value the way the template's short form reads:
// "!Ref X", "!GetAtt X.Attr", "!Sub text" (variables of the list form left
// out), plain strings as they are, numbers without exponent, anything else
// as JSON.
func render(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case map[string]any:
		if isIntrinsic(v) {
			switch {
			case v["Ref"] != nil:
				return "!Ref " + render(v["Ref"])
			case v["Fn::GetAtt"] != nil:
				if parts, ok := v["Fn::GetAtt"].([]any); ok {
					s := make([]string, len(parts))
					for i, p := range parts {
						s[i] = render(p)
					}
					return "!GetAtt " + strings.Join(s, ".")
				}
				return "!GetAtt " + render(v["Fn::GetAtt"])
			case v["Fn::Sub"] != nil:
				if list, ok := v["Fn::Sub"].([]any); ok && len(list) > 0 {
					return "!Sub " + render(list[0])
				}
				return "!Sub " + render(v["Fn::Sub"])
			}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// list returns v as a list: a list stays one, nil is empty, anything else
// (a string, an intrinsic) is one element.
func list(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	default:
		return []any{v}
	}
}

// strs renders every element of list(v).
func strs(v any) []string {
	var out []string
	for _, e := range list(v) {
		out = append(out, render(e))
	}
	return out
}

// statement is one IAM policy statement, found at where.
type statement struct {
	where string
	doc   map[string]any
}

func (st statement) effect() string      { return render(st.doc["Effect"]) }
func (st statement) actions() []string   { return strs(st.doc["Action"]) }
func (st statement) resources() []string { return strs(st.doc["Resource"]) }

// statements finds every policy statement under v: the elements of any
// "Statement" list at any depth, with both branches of an Fn::If taken (a
// conditional statement counts as if its condition held) and AWS::NoValue
// dropped.
func statements(where string, v any) []statement {
	var out []statement
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "Statement" {
				for i, e := range list(v[k]) {
					for j, doc := range branches(e) {
						out = append(out, statement{where: fmt.Sprintf("%s.Statement[%d.%d]", where, i, j), doc: doc})
					}
				}
				continue
			}
			out = append(out, statements(where+"."+k, v[k])...)
		}
	case []any:
		for i, e := range v {
			out = append(out, statements(fmt.Sprintf("%s[%d]", where, i), e)...)
		}
	}
	return out
}

// branches returns the statement documents an element of a Statement list
// may become.
func branches(e any) []map[string]any {
	m, ok := e.(map[string]any)
	if !ok {
		return nil
	}
	if args, ok := m["Fn::If"].([]any); ok && len(args) == 3 {
		return append(branches(args[1]), branches(args[2])...)
	}
	if render(m) == "!Ref AWS::NoValue" {
		return nil
	}
	return []map[string]any{m}
}

// sortedSet returns the distinct strings of ss, sorted.
func sortedSet(ss []string) []string {
	out := slices.Clone(ss)
	sort.Strings(out)
	return slices.Compact(out)
}
