package render_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/demo"
	"github.com/rooms-export/rooms-export/shared/render"
)

// messageSchema compiles the embedded schema, formats asserted.
func messageSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(render.MessageSchema()))
	if err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(render.MessageSchemaID, doc); err != nil {
		t.Fatalf("add schema: %v", err)
	}
	sch, err := c.Compile(render.MessageSchemaID)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

// validateLines validates every line of an NDJSON document and returns how
// many there were.
func validateLines(t *testing.T, sch *jsonschema.Schema, name string, doc []byte) int {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(doc))
	sc.Buffer(nil, 16<<20)
	n := 0
	for sc.Scan() {
		n++
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(sc.Bytes()))
		if err != nil {
			t.Errorf("%s line %d: not JSON: %v", name, n, err)
			continue
		}
		if err := sch.Validate(v); err != nil {
			// The error names the failing keyword and location, not the text.
			t.Errorf("%s line %d (_id %s) breaks the schema: %v", name, n, idOf(sc.Bytes()), err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

func idOf(line []byte) string {
	var m struct {
		ID string `json:"_id"`
	}
	_ = json.Unmarshal(line, &m)
	return m.ID
}

func TestSchemaIsDraft202012WithItsID(t *testing.T) {
	var head struct {
		Schema string `json:"$schema"`
		ID     string `json:"$id"`
	}
	if err := json.Unmarshal(render.MessageSchema(), &head); err != nil {
		t.Fatal(err)
	}
	if head.Schema != "https://json-schema.org/draft/2020-12/schema" || head.ID != render.MessageSchemaID {
		t.Errorf("$schema %q, $id %q", head.Schema, head.ID)
	}
	file, err := os.ReadFile(filepath.Join("schema", "message-v1.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, render.MessageSchema()) {
		t.Errorf("the embedded schema differs from the file")
	}
	a := render.MessageSchema()
	a[0] = 'x'
	if render.MessageSchema()[0] != '{' {
		t.Errorf("MessageSchema hands out shared bytes")
	}
}

func TestSchemaValidatesGoldenLines(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("testdata", "export.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if n := validateLines(t, messageSchema(t), "export.ndjson", doc); n != 26 {
		t.Errorf("validated %d golden lines, want 26", n)
	}
}

// recordingSink keeps what demo.Load writes.
type recordingSink struct {
	rooms []chat.Room
	msgs  []chat.Message
}

func (s *recordingSink) PutUsers(context.Context, []chat.User) error                 { return nil }
func (s *recordingSink) PutTokens(context.Context, []chat.Token) error               { return nil }
func (s *recordingSink) PutPermissions(context.Context, []chat.Permission) error     { return nil }
func (s *recordingSink) PutSubscriptions(context.Context, []chat.Subscription) error { return nil }
func (s *recordingSink) PutUploads(context.Context, []chat.Upload) error             { return nil }
func (s *recordingSink) PutRooms(_ context.Context, r []chat.Room) error {
	s.rooms = append(s.rooms, r...)
	return nil
}
func (s *recordingSink) PutMessages(_ context.Context, m []chat.Message) error {
	s.msgs = append(s.msgs, m...)
	return nil
}

type discardBlobs struct{}

func (discardBlobs) PutBlob(context.Context, string, string, []byte) error { return nil }

func TestSchemaValidatesDemoWorkspace(t *testing.T) {
	sink := &recordingSink{}
	if _, err := demo.Load(context.Background(), sink, discardBlobs{}, time.Date(2021, 11, 26, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	sch := messageSchema(t)
	total := 0
	kinds := map[string]bool{}
	for _, room := range sink.rooms {
		var buf bytes.Buffer
		doc := render.NewJSON(&buf)
		if err := doc.Begin(render.Header{Room: room}); err != nil {
			t.Fatal(err)
		}
		n := int64(0)
		for _, m := range sink.msgs {
			if m.RoomID != room.ID || m.Hidden {
				continue
			}
			if err := doc.Message(m); err != nil {
				t.Fatal(err)
			}
			n++
			kinds["type:"+m.Type] = true
			if len(m.Attachments) > 0 {
				kinds["attachments"] = true
			}
			if len(m.AllFiles()) > 0 {
				kinds["files"] = true
			}
			if len(m.Reactions) > 0 {
				kinds["reactions"] = true
			}
			if m.ThreadID != "" {
				kinds["tmid"] = true
			}
			if m.EditedAt != nil {
				kinds["editedAt"] = true
			}
		}
		if err := doc.End(n); err != nil {
			t.Fatal(err)
		}
		if got := validateLines(t, sch, room.ID, buf.Bytes()); int64(got) != n {
			t.Errorf("room %s: %d lines for %d messages", room.ID, got, n)
		}
		total += int(n)
	}
	if total < 2000 {
		t.Errorf("validated only %d demo messages", total)
	}
	for _, k := range []string{"attachments", "files", "reactions", "tmid", "editedAt", "type:", "type:uj"} {
		if !kinds[k] {
			t.Errorf("the demo data has no message with %s: the test covers less than it claims", k)
		}
	}
}

func TestSchemaRejectsWrongLines(t *testing.T) {
	sch := messageSchema(t)
	good := `{"msg":"x","username":"u","ts":"2021-03-04T05:06:07.008Z","_id":"m1"}`
	for name, line := range map[string]string{
		"missing _id":         `{"msg":"x","username":"u","ts":"2021-03-04T05:06:07.008Z"}`,
		"ts not UTC":          `{"msg":"x","username":"u","ts":"2021-03-04T05:06:07.008+01:00","_id":"m1"}`,
		"ts without millis":   `{"msg":"x","username":"u","ts":"2021-03-04T05:06:07Z","_id":"m1"}`,
		"ts not a date":       `{"msg":"x","username":"u","ts":"2021-13-44T05:06:07.008Z","_id":"m1"}`,
		"unknown key":         `{"msg":"x","username":"u","ts":"2021-03-04T05:06:07.008Z","_id":"m1","u":{}}`,
		"empty type":          `{"msg":"x","username":"u","ts":"2021-03-04T05:06:07.008Z","type":"","_id":"m1"}`,
		"file without size":   `{"msg":"x","username":"u","ts":"2021-03-04T05:06:07.008Z","_id":"m1","files":[{"_id":"f","name":"n","type":""}]}`,
		"reaction null users": `{"msg":"x","username":"u","ts":"2021-03-04T05:06:07.008Z","_id":"m1","reactions":{":a:":{"usernames":null}}}`,
		"attachment bad ts":   `{"msg":"x","username":"u","ts":"2021-03-04T05:06:07.008Z","attachments":[{"ts":"yesterday"}],"_id":"m1"}`,
		"nested unknown key":  `{"msg":"x","username":"u","ts":"2021-03-04T05:06:07.008Z","attachments":[{"attachments":[{"fields":[]}]}],"_id":"m1"}`,
	} {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(line))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if sch.Validate(v) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	v, _ := jsonschema.UnmarshalJSON(strings.NewReader(good))
	if err := sch.Validate(v); err != nil {
		t.Errorf("a minimal line is refused: %v", err)
	}
}
