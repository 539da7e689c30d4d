package main

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rooms-export/rooms-export/shared/awstest"
	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/demo"
	"github.com/rooms-export/rooms-export/shared/dynamo"
	"github.com/rooms-export/rooms-export/shared/embedded"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/rcimport"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// result is one run of the command.
type result struct {
	err            error
	stdout, stderr string
}

// runLoad runs the command with args, its environment limited to env.
func runLoad(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	e := Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }}
	err := run(t.Context(), args, e)
	return result{err: err, stdout: out.String(), stderr: errOut.String()}
}

// exportRoom exports a room as JSON through the embedded default opened on
// dir, as the local server would, and returns the document's lines.
func exportRoom(t *testing.T, dir, user, token, rid, docName string) []string {
	t.Helper()
	st, err := embedded.Open(dir, export.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	body := `{"rid":"` + rid + `","type":"file","format":"json","dateFrom":"2000-01-01"}`
	res, err := st.Service.Export(t.Context(), export.Credentials{UserID: user, Token: token}, []byte(body), "http://127.0.0.1:3000")
	if err != nil || res.Status != chat.JobDone {
		t.Fatalf("export = %+v, %v", res, err)
	}
	job, err := st.Store.Job(t.Context(), res.ExportID)
	if err != nil {
		t.Fatal(err)
	}
	entries := readZip(t, st.Files, job.Key)
	doc, ok := entries[docName]
	if !ok {
		t.Fatalf("no %s in the archive", docName)
	}
	lines := strings.Split(strings.TrimSpace(string(doc)), "\n")
	for name, b := range entries {
		if strings.HasPrefix(name, "assets/") && len(b) == 0 && !strings.HasSuffix(name, "empty.txt") {
			t.Errorf("asset %s is empty", name)
		}
	}
	return lines
}

func TestDemoIntoEmbedded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	r := runLoad(t, map[string]string{"DATA_DIR": dir}, "--from", "demo", "--progress", "off")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.stdout, "Demo workspace: 12 users, 6 tokens") || !strings.Contains(r.stdout, "Target: the embedded store in "+dir) {
		t.Errorf("stdout = %q", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("progress off, yet stderr = %q", r.stderr)
	}
	lines := exportRoom(t, dir, demo.AdminID, demo.AdminToken, demo.GeneralRoomID, "general.json")
	if len(lines) < 100 {
		t.Errorf("the demo's general channel exported %d lines", len(lines))
	}
	// Again: the same counts, the same export.
	again := runLoad(t, map[string]string{"DATA_DIR": dir}, "--from", "demo", "--progress", "off")
	if again.err != nil || again.stdout != r.stdout {
		t.Errorf("second load: %v\n%s\nvs\n%s", again.err, again.stdout, r.stdout)
	}
	if l2 := exportRoom(t, dir, demo.AdminID, demo.AdminToken, demo.GeneralRoomID, "general.json"); strings.Join(l2, "\n") != strings.Join(lines, "\n") {
		t.Error("the export changed after loading again")
	}
}

// writeDump writes a small mongodump (BSON, written with the bson package)
// with one upload in GridFS and one in a FileSystem folder, and returns the
// dump and files folders.
func writeDump(t *testing.T) (dumpDir, filesDir string) {
	t.Helper()
	dumpDir, filesDir = t.TempDir(), t.TempDir()
	ts := time.Now().Add(-time.Hour).Truncate(time.Millisecond).UTC()
	coll := func(name string, docs ...bson.D) {
		var b bytes.Buffer
		for _, d := range docs {
			raw, err := bson.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(raw)
		}
		if err := os.WriteFile(filepath.Join(dumpDir, name+".bson"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	coll(rcimport.Users,
		bson.D{{Key: "_id", Value: "u1"}, {Key: "username", Value: "root"}, {Key: "active", Value: true}, {Key: "roles", Value: bson.A{"admin"}},
			{Key: "services", Value: bson.D{{Key: "resume", Value: bson.D{{Key: "loginTokens", Value: bson.A{
				bson.D{{Key: "when", Value: ts}, {Key: "hashedToken", Value: export.HashToken("secret-token")}}}}}}}}},
		bson.D{{Key: "username", Value: "no id"}})
	coll(rcimport.Rooms, bson.D{{Key: "_id", Value: "GENERAL"}, {Key: "t", Value: "c"}, {Key: "name", Value: "general"}})
	coll(rcimport.Subscriptions, bson.D{{Key: "rid", Value: "GENERAL"}, {Key: "u", Value: bson.D{{Key: "_id", Value: "u1"}}}})
	coll(rcimport.Messages,
		bson.D{{Key: "_id", Value: "m1"}, {Key: "rid", Value: "GENERAL"}, {Key: "ts", Value: ts}, {Key: "msg", Value: "first"}, {Key: "u", Value: bson.D{{Key: "_id", Value: "u1"}, {Key: "username", Value: "root"}}}},
		bson.D{{Key: "_id", Value: "m2"}, {Key: "rid", Value: "GENERAL"}, {Key: "ts", Value: ts.Add(time.Second)}, {Key: "msg", Value: "files"},
			{Key: "files", Value: bson.A{bson.D{{Key: "_id", Value: "g1"}, {Key: "name", Value: "g.txt"}}, bson.D{{Key: "_id", Value: "d1"}, {Key: "name", Value: "d.txt"}}}}},
		bson.D{{Key: "_id", Value: "m3"}, {Key: "rid", Value: "GENERAL"}, {Key: "msg", Value: "no ts"}})
	coll(rcimport.Uploads,
		bson.D{{Key: "_id", Value: "g1"}, {Key: "name", Value: "g.txt"}, {Key: "type", Value: "text/plain"}, {Key: "size", Value: int32(5)}, {Key: "store", Value: "GridFS:Uploads"}},
		bson.D{{Key: "_id", Value: "d1"}, {Key: "name", Value: "d.txt"}, {Key: "type", Value: "text/plain"}, {Key: "size", Value: int32(4)}, {Key: "store", Value: "FileSystem:Uploads"}, {Key: "extension", Value: "txt"}})
	coll(rcimport.GridFSFiles, bson.D{{Key: "_id", Value: "g1"}, {Key: "length", Value: int64(5)}, {Key: "chunkSize", Value: int32(261120)}})
	coll(rcimport.GridFSChunks, bson.D{{Key: "files_id", Value: "g1"}, {Key: "n", Value: int32(0)}, {Key: "data", Value: bson.Binary{Data: []byte("grid!")}}})
	if err := os.WriteFile(filepath.Join(filesDir, "d1.txt"), []byte("disk"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dumpDir, filesDir
}

func TestRocketChatDumpIntoEmbedded(t *testing.T) {
	dumpDir, filesDir := writeDump(t)
	dir := t.TempDir()
	r := runLoad(t, map[string]string{"DATA_DIR": dir}, "--from", "rocketchat:"+dumpDir, "--files", filesDir, "--progress", "lines", "--progress-every", "1ns")
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, want := range []string{"Imported " + dumpDir, "rocketchat_message.bson (bson)", `users: 1 × missing "_id"`, `rocketchat_message: 1 × missing "ts"`,
		"uploaded files: 2 copied (9 B; 1 from GridFS, 1 from --files)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "load: rocketchat_message") || !strings.Contains(r.stderr, "load: done: 11 documents") {
		t.Errorf("progress lines = %q", r.stderr)
	}
	lines := exportRoom(t, dir, "u1", "secret-token", "GENERAL", "general.json")
	if len(lines) != 2 || !strings.Contains(lines[0], `"msg":"first"`) || !strings.Contains(lines[1], `"_id":"g1"`) {
		t.Errorf("export = %q", lines)
	}
	st, err := embedded.Open(dir, export.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for key, want := range map[string]string{"uploads/g1": "grid!", "uploads/d1": "disk"} {
		rc, err := st.Files.Open(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	dumpDir, filesDir := writeDump(t)
	dir := filepath.Join(t.TempDir(), "data")
	r := runLoad(t, map[string]string{"DATA_DIR": dir}, "--from", "rocketchat:"+dumpDir, "--files", filesDir, "--dry-run", "--progress", "off")
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, want := range []string{"Dry run: nothing was written to the embedded store in " + dir, "Checked (dry run: nothing was written)", "uploaded files: 2 copied"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runLoad(t, map[string]string{"DATA_DIR": dir}, "--from", "demo", "--dry-run", "--progress", "off")
	if r.err != nil || !strings.Contains(r.stdout, "Demo workspace: 12 users") || strings.Contains(r.stdout, "Try it") {
		t.Errorf("demo dry run: %v\n%s", r.err, r.stdout)
	}
	// A dry run into AWS needs no account, no tables and no network.
	r = runLoad(t, map[string]string{}, "--from", "demo", "--to", "aws", "--dry-run", "--progress", "off")
	if r.err != nil || !strings.Contains(r.stdout, "Dry run: nothing was written to the AWS stack") {
		t.Errorf("aws dry run: %v\n%s", r.err, r.stdout)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a dry run created the data directory (%v)", err)
	}
}

func TestSeedFile(t *testing.T) {
	seed := filepath.Join(t.TempDir(), "workspace.ndjson")
	f, err := os.Create(seed)
	if err != nil {
		t.Fatal(err)
	}
	enc := workspace.NewEncoder(f)
	if _, err := demo.Load(t.Context(), enc, enc, time.Now()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	dir := t.TempDir()
	r := runLoad(t, map[string]string{"DATA_DIR": dir}, "--from", "seed:"+seed, "--progress", "bar", "--progress-every", "1ns")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.stdout, "Seed file "+seed+": 12 users, 6 tokens") || !strings.Contains(r.stdout, "9 blobs") {
		t.Errorf("stdout = %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "\r\x1b[K[") || !strings.Contains(r.stderr, "100%") || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("bar = %q", r.stderr)
	}
	if lines := exportRoom(t, dir, demo.AdminID, demo.AdminToken, demo.GeneralRoomID, "general.json"); len(lines) < 100 {
		t.Errorf("%d lines", len(lines))
	}
}

func TestBadArguments(t *testing.T) {
	dumpDir, _ := writeDump(t)
	empty := t.TempDir()
	notDir := filepath.Join(empty, "file")
	os.WriteFile(notDir, nil, 0o644)
	data := filepath.Join(t.TempDir(), "data")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "--from is required"},
		{[]string{"--from", "mongo:x"}, `unknown source --from "mongo:x"`},
		{[]string{"--from", "rocketchat"}, `unknown source --from "rocketchat"`},
		{[]string{"--from", "seed:"}, "needs a file name"},
		{[]string{"--from", "seed:" + filepath.Join(empty, "missing.ndjson")}, "seed file: stat"},
		{[]string{"--from", "seed:" + empty}, "is not a regular file"},
		{[]string{"--from", "rocketchat:" + empty}, "no Rocket.Chat collection found"},
		{[]string{"--from", "rocketchat:" + notDir}, "not a directory"},
		{[]string{"--from", "rocketchat:" + filepath.Join(empty, "nope")}, "no such file or directory"},
		{[]string{"--from", "rocketchat:" + dumpDir, "--files", notDir}, "is not a folder"},
		{[]string{"--from", "demo", "--files", empty}, "--files applies to --from rocketchat:DIR only"},
		{[]string{"--from", "demo", "--to", "mars"}, `unknown target --to "mars"`},
		{[]string{"--from", "demo", "--to", "aws"}, "--to aws needs --directory-table (DIRECTORY_TABLE)"},
		{[]string{"--from", "demo", "--progress", "loud"}, `unknown --progress "loud"`},
		{[]string{"--from", "demo", "extra"}, `unexpected argument "extra"`},
		{[]string{"--from", "demo", "--bogus"}, "flag provided but not defined"},
	} {
		r := runLoad(t, map[string]string{"DATA_DIR": data}, c.args...)
		if r.err == nil || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.args, r.err, c.want)
		}
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Error("a failed command created the data directory")
	}
	r := runLoad(t, nil, "--help")
	if !strings.Contains(r.stderr, "rocketchat:DIR") || !strings.Contains(r.stderr, "-dry-run") {
		t.Errorf("help = %q", r.stderr)
	}
}

func TestLockedDataDir(t *testing.T) {
	dir := t.TempDir()
	st, err := embedded.Open(dir, export.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := runLoad(t, map[string]string{"DATA_DIR": dir}, "--from", "demo", "--progress", "off")
	if r.err == nil || !strings.Contains(r.err.Error(), "is the local server running") {
		t.Errorf("err = %v", r.err)
	}
}

func TestRenderBar(t *testing.T) {
	p := rcimportProgress("rocketchat_message", 123456, 45, 100, 10*time.Second)
	bar := renderBar(p, 100)
	for _, want := range []string{"[", "45%", "rocketchat_message", "123,456 docs", "12,345/s", "ETA 0:12"} {
		if !strings.Contains(bar, want) {
			t.Errorf("bar %q lacks %q", bar, want)
		}
	}
	if len([]rune(bar)) > 100 {
		t.Errorf("bar is %d columns wide", len([]rune(bar)))
	}
	if narrow := renderBar(p, 30); strings.Contains(narrow, "[") {
		t.Errorf("no room for a bar, yet %q", narrow)
	}
	if got := describe(p); got != "rocketchat_message  45%, 123,456 documents, 12,345/s, about 0:12 left" {
		t.Errorf("describe = %q", got)
	}
	if count(1234567) != "1,234,567" || count(12) != "12" || clock(3723*time.Second) != "1:02:03" {
		t.Error("count or clock")
	}
}

// TestIntoAWSEmulators loads the demo and a Rocket.Chat dump into
// DynamoDB and S3 emulators, through the SDK's default configuration (as
// against a deployed stack), and reads them back with the adapters.
func TestIntoAWSEmulators(t *testing.T) {
	ddb, err := awstest.Start(awstest.DynamoDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ddb.Stop)
	s3emu, err := awstest.Start(awstest.S3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s3emu.Stop)
	cfg := awstest.Config(s3emu.Endpoint)
	cfg.Credentials = credentials.NewStaticCredentialsProvider("S3RVER", "S3RVER", "") // s3rver's only key
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("exports")}); err != nil {
		t.Fatal(err)
	}
	// The command reads the process environment through the SDK; keep it
	// away from any profile on this machine.
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER", "AWS_REGION": "us-east-1",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	env := map[string]string{
		"DYNAMODB_ENDPOINT": ddb.Endpoint, "S3_ENDPOINT": s3emu.Endpoint, "S3_FORCE_PATH_STYLE": "true",
		"DIRECTORY_TABLE": "directory", "MESSAGES_TABLE": "messages", "JOBS_TABLE": "jobs", "EXPORTS_BUCKET": "exports",
	}
	r := runLoad(t, env, "--from", "demo", "--to", "aws", "--progress", "off")
	if r.err == nil || !strings.Contains(r.err.Error(), "table directory does not exist") {
		t.Fatalf("without tables: %v", r.err)
	}
	r = runLoad(t, env, "--from", "demo", "--to", "aws", "--create-tables", "--progress", "off")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.stdout, "Target: DynamoDB tables directory, messages, jobs and S3 bucket exports") {
		t.Errorf("stdout = %q", r.stdout)
	}
	dumpDir, filesDir := writeDump(t)
	r = runLoad(t, env, "--from", "rocketchat:"+dumpDir, "--files", filesDir, "--to", "aws", "--progress", "off")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.stdout, "uploaded files: 2 copied") {
		t.Errorf("stdout = %q", r.stdout)
	}

	store := dynamo.New(dynamodb.NewFromConfig(awstest.Config(ddb.Endpoint)), dynamo.Tables{Directory: "directory", Messages: "messages", Jobs: "jobs"})
	ctx := t.Context()
	if tok, err := store.TokenByHash(ctx, export.HashToken(demo.AdminToken)); err != nil || tok.UserID != demo.AdminID {
		t.Errorf("demo token: %+v, %v", tok, err)
	}
	if tok, err := store.TokenByHash(ctx, export.HashToken("secret-token")); err != nil || tok.UserID != "u1" {
		t.Errorf("dump token: %+v, %v", tok, err)
	}
	if n, err := store.CountMessages(ctx, "GENERAL", time.Time{}, time.Now()); err != nil || n != 2 {
		t.Errorf("GENERAL holds %d messages (%v)", n, err)
	}
	for key, want := range map[string]string{"uploads/g1": "grid!", "uploads/d1": "disk"} {
		out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("exports"), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(got) != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
}

// readZip reads an archive of the file store into entry name → bytes.
func readZip(t *testing.T, files export.FileStore, key string) map[string][]byte {
	t.Helper()
	rc, err := files.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return unzip(t, data)
}

func unzip(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = b
	}
	return out
}

func rcimportProgress(name string, docs, bytes, total int64, elapsed time.Duration) rcimport.Progress {
	return rcimport.Progress{Collection: name, Docs: docs, Bytes: bytes, TotalBytes: total, Elapsed: elapsed}
}
