package digelao_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The READMEs' Go blocks are compiled, so that what a user pastes builds. A block is one of:
//
//   - a whole file, starting with "package";
//   - declarations, starting with "func" or "type";
//   - statements, compiled as the body of a function that returns an error.
//
// A block may begin with comments naming what it uses without declaring:
//
//	// given: c *digelao.Client; ctx context.Context
//
// Imports are added for the packages a block names.
func TestReadmeGoBlocksCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every README block")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root, err := filepath.Abs(".")
	require.NoError(t, err)
	dir := t.TempDir()
	mod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	requires := string(mod[strings.Index(string(mod), "require"):])
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), fmt.Appendf(nil,
		"module readmecheck\n\ngo 1.25\n\nrequire github.com/digelao-go/digelao v0.0.0\n\nreplace github.com/digelao-go/digelao => %s\n\n%s",
		root, requires), 0o600))
	sum, err := os.ReadFile("go.sum")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o600))

	where := map[string]string{} // package directory → README and line, for the failure message
	for _, readme := range []string{"README.md", "README.zh-CN.md"} {
		text, err := os.ReadFile(readme)
		require.NoError(t, err)
		for _, b := range goBlocks(string(text)) {
			pkg := fmt.Sprintf("b%03d", len(where))
			where[pkg] = fmt.Sprintf("%s:%d", readme, b.line)
			require.NoError(t, os.MkdirAll(filepath.Join(dir, pkg), 0o750))
			require.NoError(t, os.WriteFile(filepath.Join(dir, pkg, "block.go"), []byte(wrapBlock(b.code)), 0o600))
		}
	}
	require.NotEmpty(t, where, "no Go blocks found")
	cmd := exec.Command(goBin, "build", "-mod=mod", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := string(out)
		for pkg, at := range where {
			msg = strings.ReplaceAll(msg, "b"+pkg[1:]+"/block.go", at+" (block)")
		}
		t.Fatalf("README Go blocks do not compile:\n%s", msg)
	}
}

type goBlock struct {
	line int
	code string
}

// goBlocks returns the ```go blocks of a Markdown text.
func goBlocks(text string) []goBlock {
	var blocks []goBlock
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```go" {
			continue
		}
		start := i + 1
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
		}
		blocks = append(blocks, goBlock{line: start + 1, code: strings.Join(lines[start:i], "\n")})
	}
	return blocks
}

var (
	givenRE   = regexp.MustCompile(`^\s*// given: (.*)$`)
	commentRE = regexp.MustCompile(`(?m)(^|\s)//.*$`) // not "https://"
)

// imports maps the package names README blocks use to their paths.
var imports = map[string]string{
	"digelao": "github.com/digelao-go/digelao", "digelaotest": "github.com/digelao-go/digelao/digelaotest",
	"redisstore": "github.com/digelao-go/digelao/redisstore", "redis": "github.com/redis/go-redis/v9",
	"require": "github.com/stretchr/testify/require", "assert": "github.com/stretchr/testify/assert",
	"context": "context", "errors": "errors", "fmt": "fmt", "io": "io", "os": "os", "path": "path",
	"filepath": "path/filepath", "strings": "strings", "time": "time", "log": "log", "slog": "log/slog",
	"http": "net/http", "httptest": "net/http/httptest", "json": "encoding/json", "rand": "crypto/rand",
	"signal": "os/signal", "syscall": "syscall", "testing": "testing", "sync": "sync", "bytes": "bytes",
	"sql": "database/sql", "sqlstore": "github.com/digelao-go/digelao/sqlstore",
}

// wrapBlock turns a block into a Go file; see TestReadmeGoBlocksCompile.
func wrapBlock(code string) string {
	var given []string
	lines := strings.Split(code, "\n")
	for len(lines) > 0 {
		m := givenRE.FindStringSubmatch(lines[0])
		if m == nil {
			break
		}
		for decl := range strings.SplitSeq(m[1], ";") {
			if decl = strings.TrimSpace(decl); decl != "" {
				given = append(given, decl)
			}
		}
		lines = lines[1:]
	}
	body := strings.Join(lines, "\n")
	if strings.HasPrefix(strings.TrimSpace(body), "package ") {
		return body
	}
	var used []string
	code = commentRE.ReplaceAllString(body, "") + strings.Join(given, "\n")
	for name, path := range imports {
		if regexp.MustCompile(`\b` + name + `\.`).MatchString(code) {
			used = append(used, fmt.Sprintf("%q", path))
		}
	}
	slices.Sort(used)
	var f strings.Builder
	fmt.Fprintf(&f, "package readme\n\nimport (\n%s\n)\n\n", strings.Join(used, "\n"))
	for _, decl := range given {
		fmt.Fprintf(&f, "var %s\n", decl)
	}
	first := strings.TrimSpace(body)
	if strings.HasPrefix(first, "func ") || strings.HasPrefix(first, "type ") || strings.HasPrefix(first, "var ") {
		fmt.Fprintf(&f, "\n%s\n", body)
		return f.String()
	}
	fmt.Fprintf(&f, "\nfunc _() error {\n%s\n\treturn nil\n}\n", body)
	return f.String()
}
