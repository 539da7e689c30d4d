package sam

import (
	"bufio"
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// makeEnv is the environment for running the Makefile as `sam build` does:
// the caller's, without what would change the build under test (an
// exported LAMBDA_ARCH or ARTIFACTS_DIR, or the flags and jobserver of an
// outer `make test`).
func makeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "LAMBDA_ARCH", "ARTIFACTS_DIR", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "GOOS", "GOARCH", "CGO_ENABLED":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// TestEveryFunctionHasABuildTarget checks that `sam build` finds
// build-<LogicalId> in the Makefile for every function, that the target
// builds a command of functions/ into $(ARTIFACTS_DIR)/bootstrap, and that
// every command of functions/ is deployed by some function.
func TestEveryFunctionHasABuildTarget(t *testing.T) {
	s := loadStack(t)
	makefile, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	pkgOf := regexp.MustCompile(`\./functions/([A-Za-z0-9_-]+)\s*$`)
	built := map[string]string{}
	for _, id := range s.functions(t) {
		target := "build-" + id
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `\s*:`).Match(makefile) {
			t.Errorf("%s: the Makefile has no %s: target", id, target)
			continue
		}
		cmd := exec.Command("make", "--no-print-directory", "-n", target, "ARTIFACTS_DIR=/artifacts")
		cmd.Dir, cmd.Env = repoRoot, makeEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("make -n %s: %v\n%s", target, err, out)
			continue
		}
		var build string
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if strings.Contains(sc.Text(), " build ") {
				build = strings.TrimSpace(sc.Text())
			}
		}
		m := pkgOf.FindStringSubmatch(build)
		if m == nil || !strings.Contains(build, "/artifacts/bootstrap") {
			t.Errorf("%s: %s does not go build ./functions/<name> into $(ARTIFACTS_DIR)/bootstrap: %q", id, target, build)
			continue
		}
		if other, dup := built[m[1]]; dup {
			t.Errorf("%s and %s both deploy functions/%s", other, id, m[1])
		}
		built[m[1]] = id
		if _, err := os.Stat(filepath.Join(repoRoot, "functions", m[1], "main.go")); err != nil {
			t.Errorf("%s: %s builds functions/%s, which has no main.go", id, target, m[1])
		}
	}
	dirs, err := os.ReadDir(filepath.Join(repoRoot, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, ok := built[d.Name()]; d.IsDir() && !ok {
			t.Errorf("functions/%s is deployed by no function of the template", d.Name())
		}
	}
}

// TestBuildBootstrap runs the build targets as `sam build` does and checks
// the binaries: linux/arm64 without cgo, built with -tags lambda.norpc (no
// net/rpc server, which provided.al2023 does not use), -trimpath and
// -ldflags='-s -w' (no symbol table, no DWARF), and a static ELF for
// aarch64 (no program interpreter), so it runs on the OS-only runtime as
// it is. The sizes it logs are the README's.
func TestBuildBootstrap(t *testing.T) {
	s := loadStack(t)
	for _, id := range s.functions(t) {
		t.Run(id, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command("make", "--no-print-directory", "build-"+id, "ARTIFACTS_DIR="+dir)
			cmd.Dir, cmd.Env = repoRoot, makeEnv()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make build-%s: %v\n%s", id, err, out)
			}
			bin := filepath.Join(dir, "bootstrap")
			fi, err := os.Stat(bin)
			if err != nil {
				t.Fatalf("no bootstrap: %v", err)
			}
			if fi.Mode().Perm()&0o111 == 0 {
				t.Errorf("bootstrap is not executable: %v", fi.Mode())
			}
			t.Logf("%s bootstrap: %d bytes (%.1f MiB)", id, fi.Size(), float64(fi.Size())/(1<<20))

			out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
			if err != nil {
				t.Fatalf("go version -m: %v\n%s", err, out)
			}
			settings := map[string]string{}
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				// "\tbuild\tKEY=VALUE"; VALUE may hold spaces.
				if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "build" {
					k, v, _ := strings.Cut(strings.Join(f[1:], " "), "=")
					settings[k] = v
				}
			}
			for k, want := range map[string]string{
				"GOOS": "linux", "GOARCH": "arm64", "CGO_ENABLED": "0", "-trimpath": "true",
			} {
				if settings[k] != want {
					t.Errorf("go version -m: build %s=%q, want %q", k, settings[k], want)
				}
			}
			if tags := strings.Split(settings["-tags"], ","); !slices.Contains(tags, "lambda.norpc") {
				t.Errorf("go version -m: build -tags=%q, want lambda.norpc", settings["-tags"])
			}

			f, err := elf.Open(bin)
			if err != nil {
				t.Fatalf("not an ELF file: %v", err)
			}
			defer f.Close()
			if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 {
				t.Errorf("ELF machine %v class %v, want EM_AARCH64 ELFCLASS64", f.Machine, f.Class)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("ELF has a PT_INTERP program header: dynamically linked")
				}
			}
			if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
				t.Errorf("ELF imports shared libraries %v", libs)
			}
			// go version -m leaves out -ldflags when -trimpath is set, so
			// -s -w shows in the file: no symbol table, no DWARF.
			for _, name := range []string{".symtab", ".debug_info", ".zdebug_info"} {
				if f.Section(name) != nil {
					t.Errorf("ELF has a %s section: not built with -ldflags='-s -w'", name)
				}
			}
		})
	}
}
