package sam

import (
	"slices"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rooms-export/rooms-export/shared/dynamo"
)

// TestTablesMatchTheAdapter compares the template's tables with the ones
// shared/dynamo creates for its tests (dynamo.TableDefinitions): the same
// key schemas, attribute definitions and indexes, and the adapter's TTL
// attribute as the tables' TimeToLiveSpecification.
func TestTablesMatchTheAdapter(t *testing.T) {
	s := loadStack(t)
	defs := dynamo.TableDefinitions(dynamo.Tables{Directory: "DirectoryTable", Messages: "MessagesTable", Jobs: "JobsTable"})
	var names []string
	for _, d := range defs {
		if d.TableName == nil {
			t.Fatal("dynamo.TableDefinitions returned a table without a name")
		}
		names = append(names, *d.TableName)
	}
	sort.Strings(names)
	if tables := s.ofType("AWS::DynamoDB::Table"); !slices.Equal(names, tables) {
		t.Fatalf("dynamo.TableDefinitions defines %v, the template %v", names, tables)
	}
	for _, d := range defs {
		id := *d.TableName
		p := s.Resources[id].Properties
		if got, want := keySchema(p["KeySchema"]), sdkKeySchema(d.KeySchema); !slices.Equal(got, want) {
			t.Errorf("%s: KeySchema %v, dynamo wants %v", id, got, want)
		}
		var want []string
		for _, a := range d.AttributeDefinitions {
			want = append(want, *a.AttributeName+" "+string(a.AttributeType))
		}
		var got []string
		for _, a := range list(p["AttributeDefinitions"]) {
			got = append(got, render(get(a, "AttributeName"))+" "+render(get(a, "AttributeType")))
		}
		if sort.Strings(got); !slices.Equal(got, sortedSet(want)) {
			t.Errorf("%s: AttributeDefinitions %v, dynamo wants %v", id, got, sortedSet(want))
		}
		if got, want := indexes(p["GlobalSecondaryIndexes"]), sdkGSIs(d.GlobalSecondaryIndexes); !slices.Equal(got, want) {
			t.Errorf("%s: GlobalSecondaryIndexes %v, dynamo wants %v", id, got, want)
		}
		if got, want := indexes(p["LocalSecondaryIndexes"]), sdkLSIs(d.LocalSecondaryIndexes); !slices.Equal(got, want) {
			t.Errorf("%s: LocalSecondaryIndexes %v, dynamo wants %v", id, got, want)
		}
		if d.BillingMode != "" && render(p["BillingMode"]) != string(d.BillingMode) {
			t.Errorf("%s: BillingMode %s, dynamo wants %s", id, render(p["BillingMode"]), d.BillingMode)
		}
		if got := render(get(p, "TimeToLiveSpecification", "AttributeName")); got != dynamo.TTLAttribute {
			t.Errorf("%s: TTL attribute %q, dynamo writes %q", id, got, dynamo.TTLAttribute)
		}
	}
}

// keySchema renders a template KeySchema as "name TYPE" in order.
func keySchema(v any) []string {
	var out []string
	for _, k := range list(v) {
		out = append(out, render(get(k, "AttributeName"))+" "+render(get(k, "KeyType")))
	}
	return out
}

func sdkKeySchema(ks []types.KeySchemaElement) []string {
	var out []string
	for _, k := range ks {
		out = append(out, *k.AttributeName+" "+string(k.KeyType))
	}
	return out
}

// indexes renders template indexes as "name: key schema / projection",
// sorted by name.
func indexes(v any) []string {
	var out []string
	for _, ix := range list(v) {
		out = append(out, index(render(get(ix, "IndexName")), keySchema(get(ix, "KeySchema")), render(get(ix, "Projection", "ProjectionType"))))
	}
	sort.Strings(out)
	return out
}

func sdkGSIs(ixs []types.GlobalSecondaryIndex) []string {
	var out []string
	for _, ix := range ixs {
		out = append(out, index(*ix.IndexName, sdkKeySchema(ix.KeySchema), projection(ix.Projection)))
	}
	sort.Strings(out)
	return out
}

func sdkLSIs(ixs []types.LocalSecondaryIndex) []string {
	var out []string
	for _, ix := range ixs {
		out = append(out, index(*ix.IndexName, sdkKeySchema(ix.KeySchema), projection(ix.Projection)))
	}
	sort.Strings(out)
	return out
}

func projection(p *types.Projection) string {
	if p == nil {
		return ""
	}
	return string(p.ProjectionType)
}

func index(name string, keys []string, proj string) string {
	out := name + ":"
	for _, k := range keys {
		out += " " + k
	}
	return out + " / " + proj
}
