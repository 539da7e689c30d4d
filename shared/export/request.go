package export

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// Request is a validated rooms.export body (SPEC §1).
type Request struct {
	RoomID   string
	Type     string // chat.DeliveryFile or chat.DeliveryEmail
	Format   string // chat.FormatHTML, chat.FormatJSON, or "" (email with messages)
	DateFrom Date
	DateTo   Date
	TimeZone string // IANA name; "" means UTC

	ToUsers  []string
	ToEmails []string // toEmails plus the addresses of additionalEmails
	Subject  string
	Messages []string
	// HasMessages tells Rocket.Chat's form (messages given, maybe empty) from
	// the date-range form (messages absent or null).
	HasMessages bool
}

// Date is a dateFrom/dateTo value: a calendar day (YYYY-MM-DD) or, as an
// extension, an exact RFC 3339 instant.
type Date struct {
	Set     bool
	Day     string    // YYYY-MM-DD when a calendar day was given
	Instant time.Time // when an RFC 3339 instant was given
}

var knownFields = map[string]bool{
	"rid": true, "type": true, "format": true, "dateFrom": true, "dateTo": true,
	"toUsers": true, "toEmails": true, "subject": true, "messages": true,
	"additionalEmails": true, "timezone": true,
}

func invalid(field, why string) *chat.Error {
	return chat.E(chat.CodeInvalidParams, "Invalid parameter %q: %s", field, why)
}

// ParseRequest validates a rooms.export body. Its errors are
// error-invalid-params (naming the field) and error-invalid-format, the
// body-validation step of SPEC §1.1.
func ParseRequest(body []byte) (Request, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil || raw == nil || dec.More() {
		return Request{}, chat.E(chat.CodeInvalidParams, "The body must be a JSON object")
	}
	for name := range raw {
		if !knownFields[name] {
			return Request{}, invalid(name, "unknown field")
		}
	}
	var r Request
	var err error
	if r.RoomID, err = requiredString(raw, "rid"); err != nil {
		return Request{}, err
	}
	if r.Type, err = requiredString(raw, "type"); err != nil {
		return Request{}, err
	}
	if r.Type != chat.DeliveryFile && r.Type != chat.DeliveryEmail {
		return Request{}, invalid("type", `must be "file" or "email"`)
	}
	format, formatSet, err := optionalString(raw, "format")
	if err != nil {
		return Request{}, chat.E(chat.CodeInvalidFormat, "Invalid export format")
	}
	if r.DateFrom, err = parseDate(raw, "dateFrom"); err != nil {
		return Request{}, err
	}
	if r.DateTo, err = parseDate(raw, "dateTo"); err != nil {
		return Request{}, err
	}
	tz, _, err := optionalString(raw, "timezone")
	if err != nil {
		return Request{}, err
	}
	if tz != "" {
		if _, lerr := time.LoadLocation(tz); lerr != nil || strings.HasPrefix(tz, "/") || strings.Contains(tz, "..") {
			return Request{}, invalid("timezone", "not a known IANA time zone")
		}
		r.TimeZone = tz
	}
	if r.ToUsers, _, err = stringList(raw, "toUsers"); err != nil {
		return Request{}, err
	}
	if r.ToEmails, _, err = stringList(raw, "toEmails"); err != nil {
		return Request{}, err
	}
	if r.Messages, r.HasMessages, err = stringList(raw, "messages"); err != nil {
		return Request{}, err
	}
	if r.Subject, _, err = optionalString(raw, "subject"); err != nil {
		return Request{}, err
	}
	extra, _, err := optionalString(raw, "additionalEmails")
	if err != nil {
		return Request{}, err
	}
	for _, a := range strings.Split(extra, ",") {
		if a = strings.TrimSpace(a); a != "" {
			r.ToEmails = append(r.ToEmails, a)
		}
	}

	// The format: required for files, and for the date-range form of email
	// (it selects the attached document); optional with messages.
	needFormat := r.Type == chat.DeliveryFile || !r.HasMessages
	switch {
	case formatSet && format != chat.FormatHTML && format != chat.FormatJSON:
		return Request{}, chat.E(chat.CodeInvalidFormat, "Invalid export format")
	case !formatSet && needFormat:
		return Request{}, chat.E(chat.CodeInvalidFormat, "Invalid export format")
	}
	r.Format = format
	return r, nil
}

func requiredString(raw map[string]json.RawMessage, field string) (string, error) {
	s, set, err := optionalString(raw, field)
	if err != nil {
		return "", err
	}
	if !set || s == "" {
		return "", invalid(field, "required")
	}
	return s, nil
}

// optionalString reads a string field; null or absent is unset.
func optionalString(raw map[string]json.RawMessage, field string) (string, bool, error) {
	v, ok := raw[field]
	if !ok || isNull(v) {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false, invalid(field, "must be a string")
	}
	return s, true, nil
}

func stringList(raw map[string]json.RawMessage, field string) ([]string, bool, error) {
	v, ok := raw[field]
	if !ok || isNull(v) {
		return nil, false, nil
	}
	var list []string
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, false, invalid(field, "must be an array of strings")
	}
	if len(list) > 1000 {
		return nil, false, invalid(field, "at most 1000 entries")
	}
	out := list[:0]
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, true, nil
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

func parseDate(raw map[string]json.RawMessage, field string) (Date, error) {
	s, set, err := optionalString(raw, field)
	if err != nil || !set {
		return Date{}, err
	}
	if len(s) == len("2006-01-02") {
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return Date{}, invalid(field, "not a real YYYY-MM-DD date")
		}
		return Date{Set: true, Day: s}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return Date{}, invalid(field, "must be YYYY-MM-DD or an RFC 3339 instant")
	}
	return Date{Set: true, Instant: t}, nil
}

// Range resolves the request's dates to inclusive instants (SPEC §4):
// [dateFrom 00:00, dateTo + 1 day 00:00] in the request's zone; a missing
// dateFrom is the epoch, a missing dateTo is today. Exact instants are used as
// given. dateFrom after the end is error-invalid-dates.
func (r Request) Range(now time.Time) (from, to time.Time, loc *time.Location, err error) {
	loc = time.UTC
	if r.TimeZone != "" {
		if loc, err = time.LoadLocation(r.TimeZone); err != nil {
			return time.Time{}, time.Time{}, nil, invalid("timezone", "not a known IANA time zone")
		}
	}
	from = time.Unix(0, 0).UTC()
	switch {
	case r.DateFrom.Day != "":
		from, _ = time.ParseInLocation(time.DateOnly, r.DateFrom.Day, loc)
	case r.DateFrom.Set:
		from = r.DateFrom.Instant
	}
	switch {
	case r.DateTo.Day != "":
		day, _ := time.ParseInLocation(time.DateOnly, r.DateTo.Day, loc)
		to = day.AddDate(0, 0, 1)
	case r.DateTo.Set:
		to = r.DateTo.Instant
	default:
		y, m, d := now.In(loc).Date()
		to = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	}
	if from.After(to) {
		return time.Time{}, time.Time{}, nil, chat.E(chat.CodeInvalidDates, "From date cannot be after To date")
	}
	return from.UTC(), to.UTC(), loc, nil
}
