package phpjson

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendString(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":             `""`,
		"a/b":          `"a\/b"`,
		"é":            `"\u00e9"`,
		"😀":            `"\ud83d\ude00"`,
		"\b\f\n\r\t":   `"\b\f\n\r\t"`,
		"\x00\x1f\x7f": "\"\\u0000\\u001f\x7f\"",
		`"\`:           `"\"\\"`,
		"<>&'":         `"<>&'"`,
		"\u2028\uffff": `"\u2028\uffff"`,
	} {
		got, err := AppendString(nil, in)
		require.NoError(t, err, in)
		assert.Equal(t, want, string(got), in)
	}
	_, err := AppendString(nil, "ok\xc3")
	assert.ErrorIs(t, err, ErrInvalidUTF8)
}
