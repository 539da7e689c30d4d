package settings

import (
	"os"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	s, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	e := s.Export
	if s.Port != "3000" || s.DataDir != "./.data" || e.RateLimit != 10 || e.RateWindow != time.Minute ||
		e.LinkTTL != 7*24*time.Hour || e.TokenTTL != 90*24*time.Hour || e.AttachmentLimit != 10<<20 || s.AWS.S3PathStyle {
		t.Fatalf("defaults = %+v", s)
	}
}

func TestOverridesAndErrors(t *testing.T) {
	s, err := Load(env(map[string]string{"RATE_LIMIT_CALLS": "3", "LINK_TTL": "48h", "S3_FORCE_PATH_STYLE": "true", "EXPORTS_BUCKET": "b"}))
	if err != nil || s.Export.RateLimit != 3 || s.Export.LinkTTL != 48*time.Hour || !s.AWS.S3PathStyle || s.AWS.Bucket != "b" {
		t.Fatalf("%+v %v", s, err)
	}
	for name, bad := range map[string]string{"RATE_LIMIT_CALLS": "-1", "LINK_TTL": "7 days", "TOKEN_TTL_DAYS": "x", "S3_FORCE_PATH_STYLE": "maybe"} {
		if _, err := Load(env(map[string]string{name: bad})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: %v", name, bad, err)
		}
	}
}

func TestRequireAWS(t *testing.T) {
	full := map[string]string{"DIRECTORY_TABLE": "d", "MESSAGES_TABLE": "m", "JOBS_TABLE": "j", "EXPORTS_BUCKET": "b",
		"WORKER_FUNCTION": "w", "LINK_SIGNING_KEY": strings.Repeat("k", 32)}
	s, _ := Load(env(full))
	if err := s.RequireAWS(false); err != nil {
		t.Fatal(err)
	}
	delete(full, "WORKER_FUNCTION")
	s, _ = Load(env(full))
	if s.RequireAWS(false) == nil || s.RequireAWS(true) != nil {
		t.Fatal("WORKER_FUNCTION is required of the API only")
	}
	full["LINK_SIGNING_KEY"] = "short"
	s, _ = Load(env(full))
	if err := s.RequireAWS(true); err == nil || !strings.Contains(err.Error(), "LINK_SIGNING_KEY") {
		t.Fatalf("short key: %v", err)
	}
}

func TestVarsAreDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range Vars {
		if v.Meaning == "" || seen[v.Name] {
			t.Errorf("%s: undocumented or listed twice", v.Name)
		}
		seen[v.Name] = true
	}
}

// TestREADMEListsEveryVariable keeps the README's configuration reference in
// step with the code.
func TestREADMEListsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(b), "`"+v.Name+"`") {
			t.Errorf("README.md does not document %s", v.Name)
		}
	}
}
