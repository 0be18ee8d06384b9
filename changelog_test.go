package digelao_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
)

// TestVersionIsTheNewestRelease keeps Version, sent in the User-Agent, equal to the newest release
// of CHANGELOG.md, and the changelog in Keep a Changelog's shape.
func TestVersionIsTheNewestRelease(t *testing.T) {
	b, err := os.ReadFile("CHANGELOG.md")
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^## \[Unreleased\]$`, string(b))
	release := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$`).FindStringSubmatch(string(b))
	require.NotNil(t, release, "a release line")
	assert.Equal(t, release[1], digelao.Version)
	assert.Equal(t, "digelao-go/"+digelao.Version, digelao.DefaultUserAgent)
}

// changelogUnreleased returns the Unreleased section of a changelog and the line it starts on:
// what the next release will add, whose names must exist now (released sections may name what was
// removed since).
func changelogUnreleased(text string) (string, int) {
	start := regexp.MustCompile(`(?m)^## \[Unreleased\]$`).FindStringIndex(text)
	if start == nil {
		return "", 0
	}
	section := text[start[0]:]
	if end := regexp.MustCompile(`(?m)^## \[`).FindAllStringIndex(section, 2); len(end) == 2 {
		section = section[:end[1][0]]
	}
	return section, 1 + strings.Count(text[:start[0]], "\n")
}
