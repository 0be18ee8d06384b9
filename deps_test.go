package digelao_test

import (
	"context"
	"os/exec"
	"regexp"
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
