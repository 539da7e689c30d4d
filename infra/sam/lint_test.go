package sam

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCfnLint runs cfn-lint on the template: the SAM translator, the
// CloudFormation resource schemas and cfn-lint's rules, the checks
// `sam validate --lint` runs. cfn-lint is required in CI (CI=true); on a
// machine without it the test is skipped with the reason.
func TestCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cfn-lint is required when CI=true (pip install cfn-lint): %v", err)
		}
		t.Skipf("cfn-lint not installed (pip install cfn-lint); CI=true makes it required: %v", err)
	}
	cmd := exec.Command(bin, "--", filepath.Join(repoRoot, "template.yaml"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("cfn-lint template.yaml: %v\n%s", err, out)
	}
	if v, err := exec.Command(bin, "--version").Output(); err == nil {
		t.Logf("%s: no findings", strings.TrimSpace(string(v)))
	}
}

// TestSamconfig checks the committed samconfig.toml: the stack name, cached
// parallel builds, linting on validate, and deploy settings that need no
// flags (IAM capability for the functions' roles, a managed artifact
// bucket, a change set to confirm). The region is left to --guided.
func TestSamconfig(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A TOML subset is enough: [section] headers and key = value lines.
	section := ""
	got := map[string]string{}
	header := regexp.MustCompile(`^\[([a-z0-9_.]+)\]$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if m := header.FindStringSubmatch(line); m != nil {
			section = m[1]
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("samconfig.toml: cannot read %q", line)
			continue
		}
		key := strings.TrimSpace(k)
		if section != "" {
			key = section + "." + key
		}
		got[key] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"version":                                     "0.1",
		"default.global.parameters.stack_name":        `"rooms-export"`,
		"default.build.parameters.cached":             "true",
		"default.build.parameters.parallel":           "true",
		"default.validate.parameters.lint":            "true",
		"default.deploy.parameters.capabilities":      `"CAPABILITY_IAM"`,
		"default.deploy.parameters.confirm_changeset": "true",
		"default.deploy.parameters.resolve_s3":        "true",
	} {
		if got[k] != want {
			t.Errorf("samconfig.toml: %s = %q, want %q", k, got[k], want)
		}
	}
	for k, v := range got {
		if strings.HasSuffix(k, ".region") || strings.Contains(v, "LinkSigningKey") || strings.HasSuffix(k, ".s3_bucket") {
			t.Errorf("samconfig.toml sets %s: leave it to sam deploy --guided", k)
		}
	}
}
