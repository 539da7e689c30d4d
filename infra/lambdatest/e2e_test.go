package lambdatest

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rooms-export/rooms-export/shared/demo"
)

const eventsDir = "../../events"

type expectation struct {
	Status    int    `json:"status"`
	ErrorType string `json:"errorType"`
}

func readEvent(t testing.TB, name string) events.APIGatewayProxyRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(eventsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestSampleEventsUnderTheEmulator sends every sample REST API event to the
// real API bootstrap and checks the answer against events/expected.json.
func TestSampleEventsUnderTheEmulator(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(eventsDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string]expectation
	if err := json.Unmarshal(b, &expected); err != nil {
		t.Fatal(err)
	}
	for name, want := range expected {
		t.Run(name, func(t *testing.T) {
			resp, body := st.call(t, readEvent(t, name))
			if resp.StatusCode != want.Status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, want.Status, resp.Body)
			}
			if want.ErrorType != "" && body["errorType"] != want.ErrorType && !(want.Status == 401 && body["error"] == "unauthorized") {
				t.Fatalf("answer %s, want errorType %s", resp.Body, want.ErrorType)
			}
			if resp.Headers["Content-Type"] != "application/json" {
				t.Fatalf("headers %v", resp.Headers)
			}
		})
	}
}

// TestFileExportHandedToTheWorker is the documentation's example against the
// deployed shape: the inline budget is spent at once, so the API function
// answers "queued" and invokes the worker through the real service/lambda
// client; the worker writes the ZIP to S3; the status and the signed link
// then lead to it.
func TestFileExportHandedToTheWorker(t *testing.T) {
	resp, body := st.call(t, readEvent(t, "export-file-html.json"))
	if resp.StatusCode != 200 || body["exportId"] == nil {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	id := body["exportId"].(string)
	// On AWS the answer is "queued"; the emulator runs Event invocations
	// synchronously, so here the worker has already finished: "done" is
	// right too. Either way the worker ran it.
	if s := body["status"]; s != "queued" && s != "done" {
		t.Fatalf("status %v", s)
	}
	if !strings.Contains(st.worker.log.String(), id) {
		t.Fatalf("the worker did not run %s:\n%s", id, st.worker.log)
	}
	status := readEvent(t, "status-unknown-export.json")
	status.QueryStringParameters = map[string]string{"exportId": id}
	exp := statusOf(t, id)
	files := download(t, exp["url"].(string))
	html := string(files[demo.GeneralRoomID+".html"])
	if !strings.Contains(html, "Content-Security-Policy") || !strings.Contains(html, "general") {
		t.Fatalf("document: %.200s", html)
	}
	var man struct {
		Messages int64 `json:"messages"`
	}
	if err := json.Unmarshal(files["manifest.json"], &man); err != nil || man.Messages <= 1000 {
		t.Fatalf("manifest %s %v", files["manifest.json"], err)
	}
	if exp["exported"] != float64(man.Messages) {
		t.Fatalf("status says %v exported, the manifest %d", exp["exported"], man.Messages)
	}
}

// TestJSONExportOfARange: newline-delimited JSON of exactly the range.
func TestJSONExportOfARange(t *testing.T) {
	ev := readEvent(t, "export-file-json.json")
	ev.Body = `{"rid":"` + demo.GeneralRoomID + `","type":"file","format":"json","dateFrom":"2021-01-01","dateTo":"2021-03-31"}`
	resp, body := st.call(t, ev)
	if resp.StatusCode != 200 || body["exportId"] == nil {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	doc := download(t, statusOf(t, body["exportId"].(string))["url"].(string))["general.json"]
	lines := strings.Split(strings.TrimSpace(string(doc)), "\n")
	if len(lines) < 10 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		var m struct {
			TS string `json:"ts"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.TS < "2021-01-01" || m.TS > "2021-04-01" {
			t.Fatalf("line %s: %v", l, err)
		}
	}
}

// TestEmailThroughSES: the date-range email export lands in the SES emulator
// with the ZIP attached.
func TestEmailThroughSES(t *testing.T) {
	resp, body := st.call(t, readEvent(t, "export-email-range.json"))
	if resp.StatusCode != 200 || body["exportId"] == nil {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	statusOf(t, body["exportId"].(string))
	store := sesStore(t)
	found := false
	for _, m := range store.Emails {
		if m.Subject == "General, Q1 2021" {
			found = true
			if !strings.Contains(strings.Join(m.To, ","), "bob@example.com") || m.Attachments != 1 {
				t.Fatalf("mail %+v", m)
			}
		}
	}
	if !found {
		t.Fatalf("no mail in the SES emulator: %+v", store)
	}
}

// statusOf reads an export's status through the API function; the
// emulator runs the worker's Event invocations synchronously, so a handed
// over export is done by the time the API answered.
func statusOf(t *testing.T, id string) map[string]any {
	t.Helper()
	ev := readEvent(t, "status-unknown-export.json")
	ev.QueryStringParameters = map[string]string{"exportId": id}
	resp, body := st.call(t, ev)
	exp, _ := body["export"].(map[string]any)
	if resp.StatusCode != 200 || exp["status"] != "done" {
		t.Fatalf("status: %d %s\nworker log:\n%s", resp.StatusCode, resp.Body, st.worker.log)
	}
	return exp
}

// sesMail is what the SES emulator keeps of a mail (GET /store).
type sesMail struct {
	Subject     string
	To          []string
	Text, HTML  string
	Attachments int
}

func sesStore(t *testing.T) struct{ Emails []sesMail } {
	t.Helper()
	resp, err := http.Get(st.ses.Endpoint + "/store")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw struct {
		Emails []struct {
			Subject     string `json:"subject"`
			Destination struct {
				To []string `json:"to"`
			} `json:"destination"`
			Body struct {
				Text string `json:"text"`
				HTML string `json:"html"`
			} `json:"body"`
			Attachments []json.RawMessage `json:"attachments"`
		} `json:"emails"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	var out struct{ Emails []sesMail }
	for _, e := range raw.Emails {
		out.Emails = append(out.Emails, sesMail{Subject: e.Subject, To: e.Destination.To, Text: e.Body.Text, HTML: e.Body.HTML, Attachments: len(e.Attachments)})
	}
	return out
}

// TestSelectedMessagesThroughSES is Rocket.Chat's form: the chosen messages
// rendered into the body (HTML with inline styles, and plain text).
func TestSelectedMessagesThroughSES(t *testing.T) {
	resp, body := st.call(t, readEvent(t, "export-email-messages.json"))
	if resp.StatusCode != 200 || body["success"] != true {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	for _, m := range sesStore(t).Emails {
		if m.Subject != "Selected messages" {
			continue
		}
		for _, part := range []string{m.Text, m.HTML} {
			if !strings.Contains(part, "Guten Morgen! Wer kommt heute ins Büro?") || !strings.Contains(part, "בוקר טוב לכולם!") {
				t.Fatalf("body lacks the selected messages:\n%s", part)
			}
		}
		if strings.Contains(m.HTML, "<style") || !strings.Contains(m.HTML, "style=") {
			t.Fatal("mail HTML must use inline styles only")
		}
		return
	}
	t.Fatal("no mail with the selected messages in the SES emulator")
}

// download follows a signed link through the API function (302) to the
// presigned S3 URL and returns the archive's entries.
func download(t *testing.T, link string) map[string][]byte {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	ev := readEvent(t, "download-forged-link.json")
	ev.Path = u.Path[strings.Index(u.Path, "/api/"):]
	ev.QueryStringParameters = map[string]string{}
	for k, v := range u.Query() {
		ev.QueryStringParameters[k] = v[0]
	}
	resp, _ := st.call(t, ev)
	if resp.StatusCode != 302 {
		t.Fatalf("download: %d %s", resp.StatusCode, resp.Body)
	}
	got, err := http.Get(resp.Headers["Location"])
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	data, _ := io.ReadAll(got.Body)
	if got.StatusCode != 200 {
		t.Fatalf("presigned GET: %d %s", got.StatusCode, data)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		out[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	return out
}
