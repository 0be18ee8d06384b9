package main

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestQuickstartRunsOffline runs the README's main command in-process against the fake platform.
func TestQuickstartRunsOffline(t *testing.T) {
	for _, env := range []string{"DIGELAO_BASE_URL", "DIGELAO_USERNAME", "DIGELAO_ACCESS_ID", "DIGELAO_CALLBACK_URL", "DIGELAO_PHONES"} {
		t.Setenv(env, "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"Logging in", "import result", "call-record push", "3 records", "Done."} {
		if !bytes.Contains(out.Bytes(), []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
