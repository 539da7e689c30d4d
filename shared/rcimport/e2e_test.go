package rcimport

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rooms-export/rooms-export/shared/awstest"
	"github.com/rooms-export/rooms-export/shared/dynamo"
	"github.com/rooms-export/rooms-export/shared/embedded"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/localfs"
	"github.com/rooms-export/rooms-export/shared/maildir"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// The end-to-end tests: a mongodump (or mongoexport) of a Rocket.Chat
// workspace is imported into a store, a room is exported through the real
// service with a token that exists only as a hash in the dump, and the
// exported JSON lines are compared with the source messages. Importing a
// second time changes nothing.

func TestExportAfterImportEmbedded(t *testing.T) {
	fx := buildFixture(1200) // GENERAL spans three store pages of 500
	d, files := writeDump(t, fx, formBSON)
	st, err := embedded.Open(t.TempDir(), export.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.Service.Now = func() time.Time { return testNow }
	opts := Options{Sink: st.Store, Blobs: workspace.FileBlobs{Files: st.Files}, FilesDir: files, TempDir: t.TempDir()}

	rep, err := Import(t.Context(), d, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, rep, fx)
	doc, entries := exportJSON(t, st.Service, st.Store, st.Files, adminID, adminLoginToken, generalID, "general.json")
	checkExport(t, fx, doc, entries)
	pat, _ := exportJSON(t, st.Service, st.Store, st.Files, adminID, adminPAT, generalID, "general.json")
	if !bytes.Equal(pat, doc) {
		t.Error("the personal access token exported something else")
	}
	checkLogins(t, st.Service)

	again, err := Import(t.Context(), d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep.Collections, again.Collections) || !reflect.DeepEqual(rep.Files, again.Files) {
		t.Errorf("second import counted differently:\n%+v\n%+v", rep, again)
	}
	doc2, entries2 := exportJSON(t, st.Service, st.Store, st.Files, adminID, adminLoginToken, generalID, "general.json")
	if !bytes.Equal(doc, doc2) {
		t.Error("the export changed after importing again")
	}
	checkExport(t, fx, doc2, entries2)
}

// dispatchFunc runs background exports (none are expected here: the
// fixture's rooms are small enough to export inline).
type dispatchFunc func(ctx context.Context, id string) error

func (f dispatchFunc) Dispatch(ctx context.Context, id string) error { return f(ctx, id) }

func TestExportAfterImportDynalite(t *testing.T) {
	emu, err := awstest.Start(awstest.DynamoDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	client := dynamodb.NewFromConfig(awstest.Config(emu.Endpoint))
	tables := dynamo.Tables{Directory: "rc-directory", Messages: "rc-messages", Jobs: "rc-jobs"}
	if err := dynamo.CreateTables(t.Context(), client, tables); err != nil {
		t.Fatal(err)
	}
	// The store's clock decides when jobs expire: it must be the service's.
	store := dynamo.NewWith(client, tables, dynamo.Options{Now: func() time.Time { return testNow }})
	key := []byte("0123456789abcdef0123456789abcdef")
	files, err := localfs.New(t.TempDir(), key, "http://127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	mail, err := maildir.New(t.TempDir(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	svc := &export.Service{
		Directory: store, Messages: store, Jobs: store, Limiter: store, Files: files, Mailer: mail,
		Dispatcher: dispatchFunc(func(context.Context, string) error { return errors.New("no background exports in this test") }),
		Links:      export.LinkSigner{Key: key}, Config: export.Config{}.WithDefaults(),
		Now: func() time.Time { return testNow },
	}

	fx := buildFixture(600)
	d, dir := writeDump(t, fx, formRelaxed) // mongoexport's default form
	opts := Options{Sink: store, Blobs: workspace.FileBlobs{Files: files}, FilesDir: dir, MaxRecordBytes: 350 << 10, TempDir: t.TempDir()}
	rep, err := Import(t.Context(), d, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, rep, fx)
	doc, entries := exportJSON(t, svc, store, files, adminID, adminLoginToken, generalID, "general.json")
	checkExport(t, fx, doc, entries)
	checkLogins(t, svc)

	again, err := Import(t.Context(), d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep.Collections, again.Collections) || !reflect.DeepEqual(rep.Files, again.Files) {
		t.Errorf("second import counted differently:\n%+v\n%+v", rep, again)
	}
	doc2, _ := exportJSON(t, svc, store, files, adminID, adminPAT, generalID, "general.json")
	if !bytes.Equal(doc, doc2) {
		t.Error("the export changed after importing again")
	}
	if n, err := store.CountMessages(t.Context(), generalID, time.Time{}, testNow); err != nil || n != int64(len(fx.generalLines())) {
		t.Errorf("CountMessages = %d, %v; want %d (no duplicates after a re-import)", n, err, len(fx.generalLines()))
	}
}
