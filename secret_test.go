package digelao

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrintersNeverReachASecret(t *testing.T) {
	t.Parallel()
	const tok = "push-token-0123456789"
	h := PushHandler{Token: NewSecret(tok)}
	cfg := CallbackRequest{CallbackURL: "https://crm.example.com/push", Token: NewSecret(tok)}
	sess := Session{UserSN: "SYSUSER|x", APIKey: NewSecret(tok)}
	values := []any{
		&struct{ Push PushHandler }{}, // filled below: printing a handler by value is what leaked
		&struct{ push *PushHandler }{&h},
		cfg, &cfg, struct{ c CallbackRequest }{cfg}, struct{ C *CallbackRequest }{&cfg},
		sess, &sess, struct{ s Session }{sess}, struct{ S []Session }{[]Session{sess}},
		map[string]Secret{"k": NewSecret(tok)},
	}
	values[0].(*struct{ Push PushHandler }).Push.Token = NewSecret(tok)
	var out strings.Builder
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
	}
	logger := slog.New(slog.NewTextHandler(&out, nil))
	jsonLogger := slog.New(slog.NewJSONHandler(&out, nil))
	for _, v := range values {
		logger.Info("x", "v", v)
		jsonLogger.Info("x", "v", v)
	}
	assert.NotContains(t, out.String(), tok)
	assert.NotContains(t, out.String(), fmt.Sprintf("%x", tok))
	assert.Contains(t, out.String(), "[REDACTED]")

	// What a marshalled Secret reads back as is refused, not taken for a credential.
	var back Secret
	require.Error(t, back.UnmarshalJSON([]byte(`"[REDACTED]"`)))
	require.NoError(t, back.UnmarshalJSON([]byte(`"from-a-config-file"`)))
	assert.Equal(t, "from-a-config-file", back.Value())
}
