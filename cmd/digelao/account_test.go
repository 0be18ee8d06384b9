package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSeatsAreTheSubAccounts keeps one wording across the commands: "AI seats" are the
// sub-accounts (what accounts list lists and --seat takes), and login's ai_count is the calls the
// account places at once, not a number of seats.
func TestSeatsAreTheSubAccounts(t *testing.T) {
	ctx := context.Background()
	_, vars := fake(t)
	login := cli(ctx, vars, "login")
	require.Equal(t, exitOK, login.code, login.stderr)
	assert.Contains(t, login.stdout, ", 5 AI calls at once (ai_count); api_key valid until ")
	assert.NotContains(t, login.stdout, "seat")

	list := cli(ctx, vars, "accounts", "list")
	require.Equal(t, exitOK, list.code, list.stderr)
	assert.Contains(t, list.stdout, "\n1 of 1 sub-accounts (AI seats)\n")
}
