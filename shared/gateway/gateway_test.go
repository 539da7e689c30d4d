package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

func fileBody(rid, format string) string {
	return fmt.Sprintf(`{"rid":%q,"type":"file","format":%q,"dateFrom":"2000-01-01","dateTo":"2021-11-25"}`, rid, format)
}

func TestAuthorizationMatrix(t *testing.T) {
	w := newWorld(t, export.Config{})
	seed(t, w)
	const ok, noPerm, noAccess = "ok", chat.CodeActionNotAllowed, chat.CodeNotAllowed
	rooms := []string{"chan", "grp", "dm", "disc-p", "disc-c"}
	want := map[string][]string{
		"A1": {ok, ok, ok, ok, ok},
		"A0": {ok, noAccess, noAccess, noAccess, ok},
		"U1": {noPerm, noPerm, noPerm, noPerm, noPerm},
		"U0": {noPerm, noPerm, noPerm, noPerm, noPerm},
		"O1": {ok, ok, ok, noPerm, noPerm}, // owner role is room-scoped: not in the discussions
		"O0": {noPerm, noPerm, noPerm, noPerm, noPerm},
	}
	for caller, row := range want {
		for i, rid := range rooms {
			t.Run(caller+"/"+rid, func(t *testing.T) {
				resp := w.post(caller, tokenOf(caller), fileBody(rid, "json"))
				if row[i] == ok {
					if resp.StatusCode != 200 || body(t, resp)["status"] != "done" {
						t.Fatalf("%d %s", resp.StatusCode, resp.Body)
					}
					return
				}
				wantError(t, resp, 400, row[i])
			})
		}
	}
}

func TestAuthentication(t *testing.T) {
	w := newWorld(t, export.Config{})
	seed(t, w)
	body := fileBody("chan", "json")
	for name, c := range map[string][2]string{
		"no headers":            {"", ""},
		"no token":              {"A1", ""},
		"no user":               {"", tokenOf("A1")},
		"unknown user":          {"nobody", tokenOf("A1")},
		"unknown token":         {"A1", "not-a-token"},
		"another user's token":  {"A0", tokenOf("A1")},
		"deactivated user":      {"inactive", tokenOf("inactive")},
		"expired login token":   {"stale", tokenOf("stale")},
		"token prefix":          {"A1", tokenOf("A1")[:10]},
		"token with extra char": {"A1", tokenOf("A1") + "x"},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, w.post(c[0], c[1], body), 401, chat.CodeUnauthorized)
		})
	}
	t.Run("personal access token never expires", func(t *testing.T) {
		if resp := w.post("pat", tokenOf("pat"), body); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, resp.Body)
		}
	})
	t.Run("revoked token", func(t *testing.T) {
		// Revoking is deleting the stored hash; simulated by a token never stored.
		wantError(t, w.post("A1", tokenOf("A1-revoked"), body), 401, chat.CodeUnauthorized)
	})
	if strings.Contains(w.logs.String(), tokenOf("A1")) || strings.Contains(w.logs.String(), export.HashToken(tokenOf("A1"))) {
		t.Fatal("a token or its hash reached the log")
	}
}

func TestCatalogue(t *testing.T) {
	w := newWorld(t, export.Config{})
	seed(t, w)
	cases := []struct {
		name, caller, body string
		status             int
		code               string
	}{
		{"body not JSON", "A1", `{`, 400, chat.CodeInvalidParams},
		{"body an array", "A1", `[]`, 400, chat.CodeInvalidParams},
		{"rid missing", "A1", `{"type":"file","format":"html"}`, 400, chat.CodeInvalidParams},
		{"rid a number", "A1", `{"rid":1,"type":"file","format":"html"}`, 400, chat.CodeInvalidParams},
		{"type missing", "A1", `{"rid":"chan","format":"html"}`, 400, chat.CodeInvalidParams},
		{"type wrong", "A1", `{"rid":"chan","type":"pdf","format":"html"}`, 400, chat.CodeInvalidParams},
		{"date not real", "A1", `{"rid":"chan","type":"file","format":"html","dateTo":"2023-02-29"}`, 400, chat.CodeInvalidParams},
		{"field wrong type", "A1", `{"rid":"chan","type":"email","format":"html","toEmails":"a@b.co"}`, 400, chat.CodeInvalidParams},
		{"unknown field", "A1", `{"rid":"chan","type":"file","format":"html","limit":5}`, 400, chat.CodeInvalidParams},
		{"format missing", "A1", `{"rid":"chan","type":"file"}`, 400, chat.CodeInvalidFormat},
		{"format wrong", "A1", `{"rid":"chan","type":"file","format":"csv"}`, 400, chat.CodeInvalidFormat},
		{"no mail-messages", "U1", fileBody("chan", "html"), 400, chat.CodeActionNotAllowed},
		{"no such room", "A1", fileBody("nope", "html"), 400, chat.CodeInvalidRoom},
		{"no access", "A0", fileBody("grp", "html"), 400, chat.CodeNotAllowed},
		{"dates reversed", "A1", `{"rid":"chan","type":"file","format":"html","dateFrom":"2021-01-03","dateTo":"2021-01-01"}`, 400, chat.CodeInvalidDates},
		{"messages without recipients", "A1", `{"rid":"chan","type":"email","messages":["chan-m0"]}`, 400, chat.CodeInvalidRecipient},
		{"recipient check before messages check", "A1", `{"rid":"chan","type":"email","messages":[]}`, 400, chat.CodeInvalidRecipient},
		{"messages empty", "A1", `{"rid":"chan","type":"email","messages":[],"toUsers":["bob"]}`, 400, chat.CodeInvalidMessages},
		{"bad address", "A1", `{"rid":"chan","type":"email","messages":["chan-m0"],"toEmails":["bob at example"]}`, 400, chat.CodeInvalidEmail},
		{"bad address in additionalEmails", "A1", `{"rid":"chan","type":"email","format":"html","additionalEmails":"x@example.com, nope"}`, 400, chat.CodeInvalidEmail},
		{"resolved user's address invalid", "A1", `{"rid":"chan","type":"email","messages":["chan-m0"],"toUsers":["badmail"]}`, 400, chat.CodeInvalidEmail},
		{"header injection in address", "A1", `{"rid":"chan","type":"email","messages":["chan-m0"],"toEmails":["a@example.com\r\nBcc: evil@example.com"]}`, 400, chat.CodeInvalidEmail},
		{"no own address", "noemail", `{"rid":"chan","type":"email","format":"json"}`, 400, chat.CodeInvalidRecipient},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, w.post(c.caller, tokenOf(c.caller), c.body), c.status, c.code)
		})
	}
	if len(w.outbox()) != 0 {
		t.Fatal("a refused request sent mail")
	}
}

func TestOrderOfChecks(t *testing.T) {
	w := newWorld(t, export.Config{RateLimit: 2})
	seed(t, w)
	// Authentication beats a bad body.
	wantError(t, w.post("A1", "wrong", `{`), 401, chat.CodeUnauthorized)
	// Body (format included) beats permission and room.
	wantError(t, w.post("U1", tokenOf("U1"), `{"rid":"nope","type":"file"}`), 400, chat.CodeInvalidFormat)
	// Permission beats the room's existence: no probing for rooms.
	wantError(t, w.post("U0", tokenOf("U0"), fileBody("nope", "html")), 400, chat.CodeActionNotAllowed)
	// Room beats dates.
	wantError(t, w.post("A1", tokenOf("A1"), `{"rid":"nope","type":"file","format":"json","dateFrom":"2021-05-05","dateTo":"2021-01-01"}`), 400, chat.CodeInvalidRoom)
	// Access beats dates.
	wantError(t, w.post("A0", tokenOf("A0"), `{"rid":"grp","type":"file","format":"json","dateFrom":"2021-05-05","dateTo":"2021-01-01"}`), 400, chat.CodeNotAllowed)
	// Access beats recipients.
	wantError(t, w.post("A0", tokenOf("A0"), `{"rid":"dm","type":"email","messages":[]}`), 400, chat.CodeNotAllowed)
	// The rate limit comes after the body and before the permission: U0 has
	// used one call above (the permission refusal); one more is allowed.
	wantError(t, w.post("U0", tokenOf("U0"), fileBody("chan", "html")), 400, chat.CodeActionNotAllowed)
	wantError(t, w.post("U0", tokenOf("U0"), fileBody("chan", "html")), 429, chat.CodeTooManyRequests)
	wantError(t, w.post("U0", tokenOf("U0"), `{"rid":"chan"}`), 400, chat.CodeInvalidParams)
}

func TestRateLimit(t *testing.T) {
	w := newWorld(t, export.Config{RateLimit: 3, RateWindow: time.Minute})
	seed(t, w)
	must(t, w.stack.Store.PutPermissions(context.Background(), []chat.Permission{{ID: export.PermMailMessages, Roles: []string{"admin", "user"}}}))
	for i := range 3 {
		resp := w.post("U1", tokenOf("U1"), fileBody("chan", "json"))
		if resp.StatusCode != 200 {
			t.Fatalf("call %d: %d %s", i, resp.StatusCode, resp.Body)
		}
		if got := resp.Headers["X-RateLimit-Remaining"]; got != fmt.Sprint(2-i) {
			t.Fatalf("remaining = %q after call %d", got, i)
		}
		if resp.Headers["X-RateLimit-Limit"] != "3" {
			t.Fatalf("limit header = %q", resp.Headers["X-RateLimit-Limit"])
		}
	}
	resp := w.post("U1", tokenOf("U1"), fileBody("chan", "json"))
	wantError(t, resp, 429, chat.CodeTooManyRequests)
	if !strings.Contains(body(t, resp)["error"].(string), "60 seconds") || resp.Headers["Retry-After"] != "60" {
		t.Fatalf("429 should say how long to wait: %s %v", resp.Body, resp.Headers)
	}
	if resp.Headers["X-RateLimit-Remaining"] != "0" || resp.Headers["X-RateLimit-Reset"] == "" {
		t.Fatalf("429 headers = %v", resp.Headers)
	}
	// Admins bypass (api-bypass-rate-limit), and the next window is fresh.
	for range 5 {
		if resp := w.post("A1", tokenOf("A1"), fileBody("chan", "json")); resp.StatusCode != 200 {
			t.Fatalf("admin limited: %s", resp.Body)
		}
	}
	w.advance(time.Minute)
	if resp := w.post("U1", tokenOf("U1"), fileBody("chan", "json")); resp.StatusCode != 200 {
		t.Fatalf("next window: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestDateEdges(t *testing.T) {
	w := newWorld(t, export.Config{})
	seed(t, w)
	end := time.Date(2021, 1, 11, 0, 0, 0, 0, time.UTC) // dateTo 2021-01-10 + 1 day
	start := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	msgs := []chat.Message{
		{ID: "before", TS: start.Add(-time.Millisecond)},
		{ID: "first", TS: start},
		{ID: "last", TS: end},
		{ID: "after", TS: end.Add(time.Millisecond)},
		{ID: "hidden", TS: start.Add(time.Hour), Hidden: true},
	}
	for i := range msgs {
		msgs[i].RoomID, msgs[i].Msg, msgs[i].U = "chan", "edge "+msgs[i].ID, chat.UserRef{ID: "A1", Username: "user-A1"}
	}
	must(t, w.stack.Store.PutMessages(context.Background(), msgs))
	resp := w.post("A1", tokenOf("A1"), `{"rid":"chan","type":"file","format":"json","dateFrom":"2021-01-01","dateTo":"2021-01-10"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	files := w.download(t, body(t, resp)["url"].(string))
	doc := files["town-square.json"]
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		var line struct {
			ID string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		ids = append(ids, line.ID)
	}
	if strings.Join(ids, ",") != "first,last" {
		t.Fatalf("exported %v, want first,last", ids)
	}
}

func TestFileExportEndToEnd(t *testing.T) {
	w := newWorld(t, export.Config{})
	seed(t, w)
	for _, format := range []string{"html", "json"} {
		t.Run(format, func(t *testing.T) {
			resp := w.post("A1", tokenOf("A1"), fileBody("chan", format))
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, resp.Body)
			}
			b := body(t, resp)
			link, _ := b["url"].(string)
			if b["success"] != true || b["status"] != "done" || b["exportId"] == "" || b["expiresAt"] == "" ||
				!strings.HasPrefix(link, "https://exports.example.com/api/v1/rooms.export.download?") {
				t.Fatalf("answer = %s", resp.Body)
			}
			files := w.download(t, link)
			doc := map[string]string{"html": "chan.html", "json": "town-square.json"}[format]
			if !strings.Contains(string(files[doc]), "hello 2 in chan") {
				t.Fatalf("%s lacks the messages; entries: %v", doc, keys(files))
			}
			var man struct {
				Messages int64  `json:"messages"`
				TimeZone string `json:"timezone"`
				Entries  []struct {
					Name   string `json:"name"`
					SHA256 string `json:"sha256"`
				} `json:"entries"`
			}
			if err := json.Unmarshal(files["manifest.json"], &man); err != nil {
				t.Fatal(err)
			}
			if man.Messages != 3 || man.TimeZone != "UTC" || len(man.Entries) != 1 || man.Entries[0].Name != doc {
				t.Fatalf("manifest = %s", files["manifest.json"])
			}
			// Status: the owner reads it; nobody else does.
			st := w.call(events.APIGatewayProxyRequest{Path: PathStatus, HTTPMethod: "GET",
				Headers:               map[string]string{"x-user-id": "A1", "x-auth-token": tokenOf("A1")},
				QueryStringParameters: map[string]string{"exportId": b["exportId"].(string)}})
			exp, _ := body(t, st)["export"].(map[string]any)
			if st.StatusCode != 200 || exp["status"] != "done" || exp["exported"] != float64(3) || exp["url"] == nil {
				t.Fatalf("status = %d %s", st.StatusCode, st.Body)
			}
			other := w.call(events.APIGatewayProxyRequest{Path: PathStatus, HTTPMethod: "GET",
				Headers:               map[string]string{"X-User-Id": "pat", "X-Auth-Token": tokenOf("pat")},
				QueryStringParameters: map[string]string{"exportId": b["exportId"].(string)}})
			wantError(t, other, 404, chat.CodeNotFound)
		})
	}
}

func TestLinks(t *testing.T) {
	w := newWorld(t, export.Config{LinkTTL: 48 * time.Hour})
	seed(t, w)
	resp := w.post("A1", tokenOf("A1"), fileBody("chan", "json"))
	link := body(t, resp)["url"].(string)
	// Still valid just before its advertised end, long after a storage URL would have died.
	w.advance(47 * time.Hour)
	if files := w.download(t, link); len(files) != 2 {
		t.Fatalf("entries = %v", keys(files))
	}
	w.advance(2 * time.Hour)
	q := query(t, link)
	wantError(t, w.call(events.APIGatewayProxyRequest{Path: PathDownload, HTTPMethod: "GET", QueryStringParameters: q}), 410, chat.CodeLinkExpired)
	q["sig"] = "forged" + q["sig"][6:]
	wantError(t, w.call(events.APIGatewayProxyRequest{Path: PathDownload, HTTPMethod: "GET", QueryStringParameters: q}), 403, chat.CodeInvalidLink)
}

func TestEmailWithMessages(t *testing.T) {
	w := newWorld(t, export.Config{})
	seed(t, w)
	resp := w.post("A1", tokenOf("A1"), `{"rid":"chan","type":"email","messages":["chan-m2","chan-m0","grp-m0","nope"],
		"toUsers":["bob","ghost","mute"],"toEmails":["carol@example.com"],"subject":"Evidence\r\nBcc: evil@example.com"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	if got := body(t, resp)["missing"]; fmt.Sprint(got) != "[ghost mute]" {
		t.Fatalf("missing = %v", got)
	}
	mails := w.outbox()
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	m, err := mail.ReadMessage(bytes.NewReader(mails[0]))
	if err != nil {
		t.Fatal(err)
	}
	if to := m.Header.Get("To"); !strings.Contains(to, "bob@example.com") || !strings.Contains(to, "carol@example.com") || strings.Contains(to, "evil") {
		t.Fatalf("To = %q", to)
	}
	if m.Header.Get("Bcc") != "" || !strings.Contains(m.Header.Get("Subject"), "Evidence") {
		t.Fatalf("headers = %v", m.Header)
	}
	if m.Header.Get("Reply-To") != "A1@example.com" {
		t.Fatalf("Reply-To = %q", m.Header.Get("Reply-To"))
	}
	text := allText(t, mails[0])
	i0, i2 := strings.Index(text, "hello 0 in chan"), strings.Index(text, "hello 2 in chan")
	if i0 < 0 || i2 < 0 || i0 > i2 || strings.Contains(text, "in grp") {
		t.Fatalf("body must hold chan-m0 then chan-m2 and nothing of grp:\n%s", text)
	}
}

func TestEmailDateRange(t *testing.T) {
	w := newWorld(t, export.Config{})
	seed(t, w)
	// No recipients: the export goes to the caller.
	resp := w.post("A1", tokenOf("A1"), `{"rid":"chan","type":"email","format":"json","dateFrom":"2021-01-01"}`)
	if resp.StatusCode != 200 || body(t, resp)["status"] != "done" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	mails := w.outbox()
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	m, err := mail.ReadMessage(bytes.NewReader(mails[0]))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("To") != "A1@example.com" || m.Header.Get("Subject") != "Room export: town-square" {
		t.Fatalf("headers = %v", m.Header)
	}
	zips := attachments(t, mails[0])
	if len(zips) != 1 {
		t.Fatalf("%d attachments", len(zips))
	}
	files := unzip(t, zips[0])
	if !strings.Contains(string(files["town-square.json"]), "hello 1 in chan") {
		t.Fatalf("attached archive: %v", keys(files))
	}
}

func TestEmailOverAttachmentLimitSendsLink(t *testing.T) {
	w := newWorld(t, export.Config{AttachmentLimit: 10})
	seed(t, w)
	resp := w.post("A1", tokenOf("A1"), `{"rid":"chan","type":"email","format":"html","toEmails":["x@example.com"]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	raw := w.outbox()[0]
	if len(attachments(t, raw)) != 0 || !strings.Contains(allText(t, raw), "https://exports.example.com/api/v1/rooms.export.download?") {
		t.Fatalf("mail should carry the link, not the archive")
	}
}

// failingDirectory breaks one lookup, to see how internal errors are answered.
type failingDirectory struct{ export.Directory }

func (failingDirectory) Room(context.Context, string) (chat.Room, error) {
	return chat.Room{}, errors.New("disk on fire at /var/secret/path")
}

func TestInternalErrorsStayInternal(t *testing.T) {
	w := newWorld(t, export.Config{})
	seed(t, w)
	w.stack.Service.Directory = failingDirectory{w.stack.Store}
	resp := w.post("A1", tokenOf("A1"), fileBody("chan", "html"))
	wantError(t, resp, 500, chat.CodeInternal)
	if strings.Contains(resp.Body, "disk") || strings.Contains(resp.Body, "secret") {
		t.Fatalf("internal detail leaked: %s", resp.Body)
	}
	if logs := w.logs.String(); !strings.Contains(logs, "disk on fire") || !strings.Contains(logs, "req-test") {
		t.Fatalf("the detail must reach the log with the request id:\n%s", logs)
	}
}

func TestRoutes(t *testing.T) {
	w := newWorld(t, export.Config{})
	if r := w.call(events.APIGatewayProxyRequest{Path: "/api/v1/nothing", HTTPMethod: "GET"}); r.StatusCode != 404 {
		t.Fatalf("unknown route: %d", r.StatusCode)
	}
	if r := w.call(events.APIGatewayProxyRequest{Path: PathExport, HTTPMethod: "GET"}); r.StatusCode != 405 {
		t.Fatalf("GET rooms.export: %d", r.StatusCode)
	}
}

func parseMail(t *testing.T, raw []byte) *mail.Message {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func query(t *testing.T, link string) map[string]string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	q := map[string]string{}
	for k, v := range u.Query() {
		q[k] = v[0]
	}
	return q
}

// walk visits every leaf part of a MIME message.
func walk(t *testing.T, header map[string][]string, r io.Reader, visit func(ctype string, params map[string]string, disp string, data []byte)) {
	t.Helper()
	get := func(k string) string {
		if v := header[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	ctype, params, _ := mime.ParseMediaType(get("Content-Type"))
	if strings.HasPrefix(ctype, "multipart/") {
		mr := multipart.NewReader(r, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			walk(t, p.Header, p, visit)
		}
	}
	data, _ := io.ReadAll(r)
	switch strings.ToLower(get("Content-Transfer-Encoding")) {
	case "base64":
		data = decodeBase64(t, data)
	case "quoted-printable":
		data = decodeQP(t, data)
	}
	visit(ctype, params, get("Content-Disposition"), data)
}

func allText(t *testing.T, raw []byte) string {
	t.Helper()
	m := parseMail(t, raw)
	var sb strings.Builder
	walk(t, m.Header, m.Body, func(ctype string, _ map[string]string, _ string, data []byte) {
		if strings.HasPrefix(ctype, "text/") {
			sb.Write(data)
		}
	})
	return sb.String()
}

func attachments(t *testing.T, raw []byte) [][]byte {
	t.Helper()
	m := parseMail(t, raw)
	var out [][]byte
	walk(t, m.Header, m.Body, func(_ string, _ map[string]string, disp string, data []byte) {
		if strings.HasPrefix(disp, "attachment") {
			out = append(out, data)
		}
	})
	return out
}

func TestPagedHTMLExport(t *testing.T) {
	w := newWorld(t, export.Config{HTMLPerPage: 2})
	seed(t, w)
	resp := w.post("A1", tokenOf("A1"), fileBody("chan", "html"))
	files := w.download(t, body(t, resp)["url"].(string))
	for _, name := range []string{"index.html", "chan-0001.html", "chan-0002.html", "manifest.json"} {
		if len(files[name]) == 0 {
			t.Fatalf("no %s in %v", name, keys(files))
		}
	}
	if _, single := files["chan.html"]; single {
		t.Fatal("a paged export has no single page")
	}
	if !strings.Contains(string(files["chan-0002.html"]), "hello 2 in chan") {
		t.Fatal("page 2 lacks the third message")
	}
}
