package digelao_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProgramsDoNotLinkTestHelpers checks that a program importing the SDK (or its Redis store)
// links no test helper: net/http/httptest and testify belong to tests and to digelaotest.
func TestProgramsDoNotLinkTestHelpers(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	out, err := exec.CommandContext(context.Background(), goBin, "list", "-deps",
		"github.com/digelao-go/digelao", "github.com/digelao-go/digelao/redisstore").Output()
	require.NoError(t, err)
	require.Contains(t, string(out), "github.com/digelao-go/digelao/internal/transport", "the list is the real one")
	assert.NotRegexp(t, regexp.MustCompile(`(?m)^(net/http/httptest|github\.com/stretchr/testify\b.*)$`), string(out))
}

// TestDependenciesTable keeps README.md's Dependencies table true: every module go.mod requires
// directly has a row, and the row's "used by" names exactly the module's packages that import it
// outside their tests (the root package as "digelao"), or says "tests" when only tests do.
func TestDependenciesTable(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	var mod struct {
		Module  struct{ Path string }
		Require []struct {
			Path     string
			Indirect bool
		}
	}
	out, err := exec.CommandContext(t.Context(), goBin, "mod", "edit", "-json").Output()
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(out, &mod))
	direct := map[string]bool{} // module → has a row
	for _, r := range mod.Require {
		if !r.Indirect {
			direct[r.Path] = false
		}
	}

	// The module's packages, by the name the table gives them, and what they import.
	out, err = exec.CommandContext(t.Context(), goBin, "list", "-json=ImportPath,Name,Imports,TestImports,XTestImports", "./...").Output()
	require.NoError(t, err)
	users, testUsers := map[string][]string{}, map[string][]string{} // module → packages importing it
	pkgs := map[string]bool{}
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		var p struct {
			ImportPath, Name                   string
			Imports, TestImports, XTestImports []string
		}
		require.NoError(t, dec.Decode(&p))
		name := strings.TrimPrefix(p.ImportPath, mod.Module.Path+"/")
		if p.ImportPath == mod.Module.Path {
			name = p.Name
		}
		pkgs[name] = true
		for m := range direct {
			uses := func(imp string) bool { return imp == m || strings.HasPrefix(imp, m+"/") }
			if slices.ContainsFunc(p.Imports, uses) {
				users[m] = append(users[m], name)
			}
			if slices.ContainsFunc(append(p.TestImports, p.XTestImports...), uses) {
				testUsers[m] = append(testUsers[m], name)
			}
		}
	}
	require.NotEmpty(t, users, "the list is the real one")

	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	section := regexp.MustCompile(`(?s)\n## Dependencies\n(.*?)(\n## |$)`).FindSubmatch(readme)
	require.NotNil(t, section, "a Dependencies section")
	rows := regexp.MustCompile(`(?m)^\|.*\|$`).FindAllString(string(section[1]), -1)
	require.Greater(t, len(rows), 2, "a table")
	for _, row := range rows[2:] { // after the header and its rule
		cells := splitRow(row)
		require.GreaterOrEqual(t, len(cells), 2, row)
		var named []string
		for _, s := range spansOf(cells[1], 0, false) {
			if pkgs[s.text] {
				named = append(named, s.text)
			}
		}
		for _, s := range spansOf(cells[0], 0, false) {
			m := s.text
			_, required := direct[m]
			if !assert.True(t, required, "%s has a row but go.mod does not require it directly", m) {
				continue
			}
			direct[m] = true
			if len(users[m]) == 0 {
				assert.NotEmpty(t, testUsers[m], "%s: nothing imports it", m)
				assert.Contains(t, cells[1], "tests", "%s: only tests import it", m)
			}
			assert.ElementsMatch(t, users[m], named, "%s: the packages that import it (outside tests)", m)
		}
	}
	for m, hasRow := range direct {
		assert.True(t, hasRow, "go.mod requires %s: the Dependencies table needs a row for it", m)
	}
}

// TestProgramsBringTheirOwnSQLDriver checks that neither the SDK, nor redisstore, nor sqlstore
// links a database driver: sqlstore speaks database/sql, and the program brings the driver it
// wants. The tests' drivers (pgx, go-sql-driver/mysql, modernc.org/sqlite) stay in the tests.
func TestProgramsBringTheirOwnSQLDriver(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	out, err := exec.CommandContext(context.Background(), goBin, "list", "-deps", "github.com/digelao-go/digelao",
		"github.com/digelao-go/digelao/redisstore", "github.com/digelao-go/digelao/sqlstore").Output()
	require.NoError(t, err)
	require.Contains(t, string(out), "github.com/digelao-go/digelao/sqlstore\n", "the list is the real one")
	require.Contains(t, string(out), "database/sql\n")
	assert.NotRegexp(t, regexp.MustCompile(`(?m)^(github\.com/jackc/|github\.com/go-sql-driver/|modernc\.org/|github\.com/mattn/go-sqlite3|`+
		`github\.com/lib/pq|net/http/httptest$|github\.com/stretchr/testify\b)`), string(out))
	sdk, err := exec.CommandContext(context.Background(), goBin, "list", "-deps", "github.com/digelao-go/digelao").Output()
	require.NoError(t, err)
	assert.NotContains(t, string(sdk), "database/sql\n", "a program that imports the SDK alone does not link database/sql")
}
