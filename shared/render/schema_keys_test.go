package render

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// structKeys lists the JSON keys of a struct type, in field order.
func structKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		keys = append(keys, name)
	}
	return keys
}

// schemaNode is the part of the schema this test reads.
type schemaNode struct {
	Required   []string                   `json:"required"`
	Properties map[string]json.RawMessage `json:"properties"`
	Defs       map[string]schemaNode      `json:"$defs"`
	Items      *schemaNode                `json:"items"`
}

func propertyNames(n schemaNode) []string {
	var out []string
	for k := range n.Properties {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestSchemaListsEveryKey keeps the schema and the encoder in step: a key
// added to a JSON line without a schema change fails here.
func TestSchemaListsEveryKey(t *testing.T) {
	var root schemaNode
	if err := json.Unmarshal(MessageSchema(), &root); err != nil {
		t.Fatal(err)
	}
	if got, want := propertyNames(root), sorted(structKeys(reflect.TypeFor[jsonMessage]())); !slices.Equal(got, want) {
		t.Errorf("message keys: schema %v, encoder %v", got, want)
	}
	if got, want := propertyNames(root.Defs["attachment"]), sorted(structKeys(reflect.TypeFor[jsonAttachment]())); !slices.Equal(got, want) {
		t.Errorf("attachment keys: schema %v, encoder %v", got, want)
	}
	var files schemaNode
	if err := json.Unmarshal(root.Properties["files"], &files); err != nil || files.Items == nil {
		t.Fatalf("files: %v", err)
	}
	want := sorted(structKeys(reflect.TypeFor[jsonFile]()))
	if got := propertyNames(*files.Items); !slices.Equal(got, want) || !slices.Equal(sorted(files.Items.Required), want) {
		t.Errorf("file keys: schema %v (required %v), encoder %v", got, files.Items.Required, want)
	}
	// The keys the encoder never omits are the schema's required keys.
	var always []string
	for f := range reflect.TypeFor[jsonMessage]().Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !strings.Contains(opts, "omitempty") {
			always = append(always, name)
		}
	}
	if !slices.Equal(sorted(root.Required), sorted(always)) {
		t.Errorf("required: schema %v, encoder always writes %v", root.Required, always)
	}
}
