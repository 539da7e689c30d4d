// Package settings is the one configuration loader: every environment
// variable any function or the local server reads is read here, so the
// README's reference and the template's environment can be checked against
// one list (Names).
package settings

import (
	"fmt"
	"strconv"
	"time"

	"github.com/rooms-export/rooms-export/shared/export"
)

// Settings is the whole configuration.
type Settings struct {
	Export export.Config

	// Local server.
	Port      string // PORT, default 3000
	DataDir   string // DATA_DIR, default ./.data
	PublicURL string // PUBLIC_URL: base of download links; derived from the request when empty
	LogLevel  string // LOG_LEVEL: debug, info (default), warn, error
}

// Var documents one environment variable.
type Var struct {
	Name, Default, Meaning string
}

// Vars lists every variable Load reads, for docs and template checks.
var Vars = []Var{
	{"PORT", "3000", "local server port (it listens on 127.0.0.1)"},
	{"DATA_DIR", "./.data", "local server state: database, files, outbox, signing key"},
	{"PUBLIC_URL", "", "base URL of download links (derived from the request when empty)"},
	{"LOG_LEVEL", "info", "debug, info, warn or error"},
	{"TOKEN_TTL_DAYS", "90", "login tokens expire after this many days (personal access tokens never do)"},
	{"RATE_LIMIT_CALLS", "10", "rooms.export calls per user per window"},
	{"RATE_LIMIT_WINDOW", "60s", "rate-limit window (Go duration)"},
	{"LINK_TTL", "168h", "lifetime of download links and archives (Go duration)"},
	{"ATTACHMENT_LIMIT_BYTES", "10485760", "largest archive attached to a mail; bigger ones are sent as a link"},
	{"INLINE_MAX_MESSAGES", "20000", "exports with more messages run in the background"},
	{"MAIL_FROM", "rooms-export@localhost", "the From address of every mail"},
}

// Load reads the configuration through getenv (os.Getenv in production).
func Load(getenv func(string) string) (Settings, error) {
	get := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		for _, v := range Vars {
			if v.Name == name {
				return v.Default
			}
		}
		return ""
	}
	var s Settings
	var err error
	s.Port, s.DataDir, s.PublicURL, s.LogLevel = get("PORT"), get("DATA_DIR"), get("PUBLIC_URL"), get("LOG_LEVEL")
	days, err := positiveInt(get, "TOKEN_TTL_DAYS")
	if err != nil {
		return s, err
	}
	s.Export.TokenTTL = time.Duration(days) * 24 * time.Hour
	if s.Export.RateLimit, err = positiveInt(get, "RATE_LIMIT_CALLS"); err != nil {
		return s, err
	}
	if s.Export.RateWindow, err = duration(get, "RATE_LIMIT_WINDOW"); err != nil {
		return s, err
	}
	if s.Export.LinkTTL, err = duration(get, "LINK_TTL"); err != nil {
		return s, err
	}
	limit, err := positiveInt(get, "ATTACHMENT_LIMIT_BYTES")
	if err != nil {
		return s, err
	}
	s.Export.AttachmentLimit = int64(limit)
	inline, err := positiveInt(get, "INLINE_MAX_MESSAGES")
	if err != nil {
		return s, err
	}
	s.Export.InlineMaxMessages = int64(inline)
	s.Export.MailFrom = get("MAIL_FROM")
	s.Export = s.Export.WithDefaults()
	return s, nil
}

func positiveInt(get func(string) string, name string) (int, error) {
	n, err := strconv.Atoi(get(name))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("settings: %s must be a positive integer", name)
	}
	return n, nil
}

func duration(get func(string) string, name string) (time.Duration, error) {
	d, err := time.ParseDuration(get(name))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("settings: %s must be a positive duration such as 60s or 168h", name)
	}
	return d, nil
}
