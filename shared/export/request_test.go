package export

import (
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

func TestParseRequestErrors(t *testing.T) {
	cases := []struct {
		name, body, code string
	}{
		{"not json", `nope`, chat.CodeInvalidParams},
		{"array", `[1]`, chat.CodeInvalidParams},
		{"null", `null`, chat.CodeInvalidParams},
		{"two values", `{"rid":"r","type":"file","format":"html"} {}`, chat.CodeInvalidParams},
		{"missing rid", `{"type":"file","format":"html"}`, chat.CodeInvalidParams},
		{"rid not string", `{"rid":5,"type":"file","format":"html"}`, chat.CodeInvalidParams},
		{"missing type", `{"rid":"r","format":"html"}`, chat.CodeInvalidParams},
		{"bad type", `{"rid":"r","type":"fax","format":"html"}`, chat.CodeInvalidParams},
		{"unknown field", `{"rid":"r","type":"file","format":"html","foo":1}`, chat.CodeInvalidParams},
		{"bad date", `{"rid":"r","type":"file","format":"html","dateFrom":"2023-02-29"}`, chat.CodeInvalidParams},
		{"date garbage", `{"rid":"r","type":"file","format":"html","dateTo":"yesterday"}`, chat.CodeInvalidParams},
		{"date not string", `{"rid":"r","type":"file","format":"html","dateTo":20210101}`, chat.CodeInvalidParams},
		{"toUsers not list", `{"rid":"r","type":"email","format":"html","toUsers":"bob"}`, chat.CodeInvalidParams},
		{"messages of numbers", `{"rid":"r","type":"email","messages":[1],"toEmails":["a@b.co"]}`, chat.CodeInvalidParams},
		{"bad timezone", `{"rid":"r","type":"file","format":"html","timezone":"Mars/Olympus"}`, chat.CodeInvalidParams},
		{"file no format", `{"rid":"r","type":"file"}`, chat.CodeInvalidFormat},
		{"file bad format", `{"rid":"r","type":"file","format":"pdf"}`, chat.CodeInvalidFormat},
		{"format not string", `{"rid":"r","type":"file","format":1}`, chat.CodeInvalidFormat},
		{"email range no format", `{"rid":"r","type":"email","toEmails":["a@b.co"]}`, chat.CodeInvalidFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRequest([]byte(c.body))
			if got := chat.CodeOf(err); got != c.code {
				t.Fatalf("code = %q (%v), want %q", got, err, c.code)
			}
		})
	}
}

func TestParseRequestNamesTheField(t *testing.T) {
	_, err := ParseRequest([]byte(`{"rid":"r","type":"file","format":"html","dateFrom":"2023-02-29"}`))
	ce, ok := err.(*chat.Error)
	if !ok || ce.Message() != `Invalid parameter "dateFrom": not a real YYYY-MM-DD date [error-invalid-params]` {
		t.Fatalf("got %v", err)
	}
}

func TestParseRequestAccepts(t *testing.T) {
	r, err := ParseRequest([]byte(`{"rid":"r","type":"email","messages":["a","b"],"toUsers":["bob"],
		"toEmails":["x@y.co"],"additionalEmails":" p@q.co, ,r@s.co","subject":"Hi","dateFrom":null,"timezone":"Europe/Berlin"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !r.HasMessages || len(r.Messages) != 2 || r.Format != "" || r.Subject != "Hi" || r.TimeZone != "Europe/Berlin" {
		t.Fatalf("parsed %+v", r)
	}
	if got := len(r.ToEmails); got != 3 {
		t.Fatalf("toEmails+additionalEmails = %v", r.ToEmails)
	}
	r, err = ParseRequest([]byte(`{"rid":"r","type":"email","messages":[]}`))
	if err != nil || !r.HasMessages || len(r.Messages) != 0 {
		t.Fatalf("empty messages: %+v %v", r, err)
	}
}

func TestRange(t *testing.T) {
	now := time.Date(2024, 5, 6, 13, 0, 0, 0, time.UTC)
	parse := func(body string) Request {
		t.Helper()
		r, err := ParseRequest([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// Whole dateTo day is in: [from 00:00, to+1d 00:00].
	from, to, _, err := parse(`{"rid":"r","type":"file","format":"json","dateFrom":"2021-01-01","dateTo":"2021-01-31"}`).Range(now)
	if err != nil || !from.Equal(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)) || !to.Equal(time.Date(2021, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("range = %v..%v %v", from, to, err)
	}
	// Missing dates: the epoch and today.
	from, to, _, _ = parse(`{"rid":"r","type":"file","format":"json"}`).Range(now)
	if !from.Equal(time.Unix(0, 0)) || !to.Equal(time.Date(2024, 5, 7, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("defaults = %v..%v", from, to)
	}
	// dateFrom = dateTo + 1 day is accepted; + 2 days is not.
	if _, _, _, err := parse(`{"rid":"r","type":"file","format":"json","dateFrom":"2021-01-02","dateTo":"2021-01-01"}`).Range(now); err != nil {
		t.Fatalf("from = to+1 refused: %v", err)
	}
	_, _, _, err = parse(`{"rid":"r","type":"file","format":"json","dateFrom":"2021-01-03","dateTo":"2021-01-01"}`).Range(now)
	if chat.CodeOf(err) != chat.CodeInvalidDates {
		t.Fatalf("from = to+2: %v", err)
	}
	// A time zone moves the day boundaries.
	from, to, loc, _ := parse(`{"rid":"r","type":"file","format":"json","dateFrom":"2021-01-01","dateTo":"2021-01-01","timezone":"Asia/Tokyo"}`).Range(now)
	if loc.String() != "Asia/Tokyo" || !from.Equal(time.Date(2020, 12, 31, 15, 0, 0, 0, time.UTC)) || !to.Equal(time.Date(2021, 1, 1, 15, 0, 0, 0, time.UTC)) {
		t.Fatalf("tokyo = %v..%v", from, to)
	}
	// RFC 3339 instants are exact: no +1 day.
	from, to, _, _ = parse(`{"rid":"r","type":"file","format":"json","dateFrom":"2021-01-01T10:00:00Z","dateTo":"2021-01-01T11:00:00.5+01:00"}`).Range(now)
	if !from.Equal(time.Date(2021, 1, 1, 10, 0, 0, 0, time.UTC)) || !to.Equal(time.Date(2021, 1, 1, 10, 0, 0, 5e8, time.UTC)) {
		t.Fatalf("instants = %v..%v", from, to)
	}
}

func TestLinkSigner(t *testing.T) {
	s := LinkSigner{Key: []byte("0123456789abcdef0123456789abcdef")}
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	link := s.Link("https://api.example.com/prod/", "job1", exp)
	want := "https://api.example.com/prod/api/v1/rooms.export.download?"
	if len(link) <= len(want) || link[:len(want)] != want {
		t.Fatalf("link = %s", link)
	}
	sig := s.sig("job1", exp.Unix())
	if ok, _ := s.Verify("job1", "1893456000", sig, exp.Add(-time.Hour)); !ok {
		t.Fatal("valid link refused")
	}
	if ok, expired := s.Verify("job1", "1893456000", sig, exp.Add(time.Second)); ok || !expired {
		t.Fatal("expired link accepted")
	}
	if ok, _ := s.Verify("job2", "1893456000", sig, exp.Add(-time.Hour)); ok {
		t.Fatal("signature of another export accepted")
	}
	if ok, _ := s.Verify("job1", "1893456001", sig, exp.Add(-time.Hour)); ok {
		t.Fatal("extended expiry accepted")
	}
	other := LinkSigner{Key: []byte("another key, another key, another")}
	if ok, _ := other.Verify("job1", "1893456000", sig, exp.Add(-time.Hour)); ok {
		t.Fatal("signature under another key accepted")
	}
}

func TestHashTokenIsRocketChats(t *testing.T) {
	// Rocket.Chat: Accounts._hashLoginToken = base64(sha256(token)).
	if got := HashToken("abc"); got != "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=" {
		t.Fatalf("HashToken = %s", got)
	}
}
