package sam

import (
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rooms-export/rooms-export/shared/dynamo"
	"github.com/rooms-export/rooms-export/shared/lambdainvoke"
	"github.com/rooms-export/rooms-export/shared/s3store"
	"github.com/rooms-export/rooms-export/shared/sesmail"
)

// TestNoWildcardGrants checks every policy statement anywhere in the
// template: no action or resource is "*", and nothing is allowed through a
// service wildcard ("s3:*", "dynamodb:*"), NotAction or NotResource, or
// dynamodb:Scan (every read is a GetItem or a Query). A Deny may name a
// whole service: the bucket's TLS-only rule denies "s3:*", and denying more
// is safer. An allowed resource with a wildcard in it must be the bucket's
// objects or carry a Condition.
func TestNoWildcardGrants(t *testing.T) {
	s := loadStack(t)
	serviceWildcard := regexp.MustCompile(`^[a-z0-9-]+:\*$`)
	ids := make([]string, 0, len(s.Resources))
	for id := range s.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var all []statement
	for _, id := range ids {
		all = append(all, statements(id, s.Resources[id].Properties)...)
	}
	if len(all) < 5 {
		t.Fatalf("found only %d policy statements: the walk is broken or the policies are gone", len(all))
	}
	for _, st := range all {
		effect := st.effect()
		if effect != "Allow" && effect != "Deny" {
			t.Errorf("%s: Effect %q", st.where, effect)
		}
		for _, k := range []string{"Action", "NotAction", "Resource", "NotResource"} {
			for _, v := range strs(st.doc[k]) {
				if v == "*" {
					t.Errorf("%s: %s is \"*\"", st.where, k)
				}
			}
		}
		if effect != "Allow" {
			continue
		}
		for _, k := range []string{"NotAction", "NotResource"} {
			if st.doc[k] != nil {
				t.Errorf("%s: an Allow with %s grants everything else", st.where, k)
			}
		}
		for _, a := range st.actions() {
			if serviceWildcard.MatchString(a) || strings.EqualFold(a, "dynamodb:Scan") {
				t.Errorf("%s: allows %s", st.where, a)
			}
		}
		for _, r := range st.resources() {
			if strings.Contains(r, "*") && r != "!Sub ${ExportsBucket.Arn}/*" && st.doc["Condition"] == nil {
				t.Errorf("%s: allows %s on the wildcard resource %s without a Condition", st.where, strings.Join(st.actions(), ", "), r)
			}
		}
	}
}

// TestPoliciesMatchTheAdapters derives each function's permissions from
// the code: every operation of the adapters' SDK interfaces (dynamo.API,
// s3store.API, sesmail.API, lambdainvoke.API) maps to the IAM actions that
// authorise it, and a function is allowed exactly those actions on exactly
// its own resources — nothing more, nothing missing. An adapter that starts
// calling a new operation fails here until the template grants it.
func TestPoliciesMatchTheAdapters(t *testing.T) {
	s := loadStack(t)
	tables := []string{"!GetAtt DirectoryTable.Arn", "!GetAtt JobsTable.Arn", "!GetAtt MessagesTable.Arn"}
	objects := []string{"!Sub ${ExportsBucket.Arn}/*"}
	sender := []string{
		"!Sub arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${Domain}",
		"!Sub arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SenderEmail}",
	}
	// IAM actions per SDK operation (the Service Authorization Reference):
	// the parts of a multipart upload are authorised by s3:PutObject.
	s3Actions := map[string][]string{
		"PutObject": {"s3:PutObject"}, "CreateMultipartUpload": {"s3:PutObject"}, "UploadPart": {"s3:PutObject"},
		"CompleteMultipartUpload": {"s3:PutObject"}, "AbortMultipartUpload": {"s3:AbortMultipartUpload"},
		"GetObject": {"s3:GetObject"}, "HeadObject": {"s3:GetObject"}, "DeleteObject": {"s3:DeleteObject"},
	}
	sesActions := map[string][]string{"SendEmail": {"ses:SendEmail", "ses:SendRawEmail"}}
	lambdaActions := map[string][]string{"Invoke": {"lambda:InvokeFunction"}}

	// want[function][action] = resources
	want := map[string]map[string][]string{"ApiFunction": {}, "WorkerFunction": {}}
	grant := func(fn string, actions []string, resources []string) {
		for _, a := range actions {
			want[fn][a] = sortedSet(append(want[fn][a], resources...))
		}
	}
	for fn := range want {
		for _, op := range methods[dynamo.API](t) {
			grant(fn, []string{"dynamodb:" + op}, tables)
		}
		for _, op := range methods[s3store.API](t) {
			grant(fn, mapped(t, "s3store.API", s3Actions, op), objects)
		}
		// Without ListBucket, S3 answers a GetObject of a missing key with
		// 403 instead of 404, and s3store could not tell "not found".
		grant(fn, []string{"s3:ListBucket"}, []string{"!GetAtt ExportsBucket.Arn"})
		for _, op := range methods[sesmail.API](t) {
			grant(fn, mapped(t, "sesmail.API", sesActions, op), sender)
		}
	}
	for _, op := range methods[lambdainvoke.API](t) {
		grant("ApiFunction", mapped(t, "lambdainvoke.API", lambdaActions, op), []string{"!GetAtt WorkerFunction.Arn"})
		// A worker run that is out of time invokes the next one.
		grant("WorkerFunction", mapped(t, "lambdainvoke.API", lambdaActions, op),
			[]string{"!Sub arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-worker"})
	}

	for _, fn := range s.functions(t) {
		w, ok := want[fn]
		if !ok {
			t.Errorf("%s: no expected permissions: add the function to this test", fn)
			continue
		}
		props := s.Resources[fn].Properties
		if props["Role"] != nil {
			t.Errorf("%s: Role set: the policies here would not apply", fn)
		}
		got := map[string][]string{}
		for i, p := range list(props["Policies"]) {
			doc, ok := p.(map[string]any)
			if !ok || doc["Statement"] == nil {
				t.Errorf("%s: Policies[%d] = %s: only inline policy documents (SAM policy templates and managed policies grant more than the code uses)",
					fn, i, render(p))
				continue
			}
			for _, st := range statements(fn, doc) {
				if st.effect() != "Allow" {
					continue
				}
				if st.doc["Condition"] != nil {
					continue // narrows a grant checked by TestNoWildcardGrants
				}
				for _, a := range st.actions() {
					got[a] = sortedSet(append(got[a], st.resources()...))
				}
			}
		}
		for a, res := range w {
			if !slices.Equal(got[a], res) {
				t.Errorf("%s: %s allowed on %v, want %v", fn, a, got[a], res)
			}
		}
		for a, res := range got {
			if _, ok := w[a]; !ok {
				t.Errorf("%s: allows %s on %v, which no adapter needs", fn, a, res)
			}
		}
	}
}

// methods lists the method names of interface type I.
func methods[I any](t *testing.T) []string {
	t.Helper()
	typ := reflect.TypeFor[I]()
	if typ.Kind() != reflect.Interface || typ.NumMethod() == 0 {
		t.Fatalf("%s is not a non-empty interface", typ)
	}
	names := make([]string, typ.NumMethod())
	for i := range names {
		names[i] = typ.Method(i).Name
	}
	return names
}

// mapped returns the IAM actions of an SDK operation, failing the test for
// an operation the table does not know.
func mapped(t *testing.T, iface string, table map[string][]string, op string) []string {
	t.Helper()
	actions, ok := table[op]
	if !ok {
		t.Errorf("%s has %s, which this test cannot map to IAM actions: add it (and grant it in template.yaml)", iface, op)
	}
	return actions
}
