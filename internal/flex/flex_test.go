package flex

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTimeIsChinaTime(t *testing.T) {
	t.Parallel()
	tm, err := ParseTime("2024-07-02 15:03:24")
	require.NoError(t, err)
	assert.True(t, tm.Equal(time.Date(2024, 7, 2, 7, 3, 24, 0, time.UTC)), tm)
	for _, in := range []string{"", "0000-00-00 00:00:00", "0000-00-00"} {
		z, err := ParseTime(in)
		require.NoError(t, err, in)
		assert.True(t, z.IsZero(), in)
	}
	tm, err = ParseTime("2019-01-22")
	require.NoError(t, err)
	assert.Equal(t, "2019-01-22 00:00:00 +0800", tm.Format("2006-01-02 15:04:05 -0700"))
	tm, err = ParseTime("1686824884")
	require.NoError(t, err)
	assert.Equal(t, int64(1686824884), tm.Unix())
	_, err = ParseTime("yesterday")
	assert.Error(t, err)
}

// TestParseDateTimeMatchesTimeParse checks the fast path against time.ParseInLocation, valid and
// invalid dates alike.
func TestParseDateTimeMatchesTimeParse(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"2024-10-08 23:59:59", "2024-02-29 00:00:00", "2023-02-29 12:00:00", "2024-04-31 00:00:00",
		"2024-13-01 00:00:00", "2024-00-10 00:00:00", "2024-01-00 00:00:00", "2024-01-01 24:00:00",
		"2024-01-01 23:60:00", "2024-01-01 23:59:60", "0001-01-01 00:00:00", "2024-1-01 00:00:000",
		"2024/01/01 00:00:00", "2024-01-01T00:00:00", "2024-01-0a 00:00:00", "+024-01-01 00:00:00",
	} {
		want, wantErr := time.ParseInLocation(time.DateTime, s, China)
		got, ok := parseDateTime(s)
		if wantErr != nil {
			assert.False(t, ok, s)
			continue
		}
		require.True(t, ok, s)
		assert.Equal(t, want, got, s)
	}
}

// TestTextMatchesEncodingJSON checks Text against encoding/json on strings, and its own rules on
// the rest.
func TestTextMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`"plain"`, `" 回访 "`, `"a\/b"`, `"\u00e9\u56de"`, `"tab	in"`, `"a"b"`, `""`,
		`"\"\\\/\b\f\n\r\t"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\u00"`, `"\u00zz"`, `"\x"`, `"end\"`, `"\u0000"`,
		`"\u+0e9"`, `"\uFFFF\uD7FF"`,
	} {
		var want string
		wantErr := json.Unmarshal([]byte(in), &want)
		got, err := Text([]byte(in))
		if wantErr != nil {
			assert.Error(t, err, in)
			continue
		}
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for in, want := range map[string]string{`12`: "12", `-1.5e3`: "-1.5e3", `true`: "true", `null`: "", `[]`: "", ` "x" `: "x",
		"\"bad \xff\"": "bad \xff"} {
		got, err := Text([]byte(in))
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{`{"a":1}`, `[1]`, `"a" "b"`, ``} {
		_, err := Text([]byte(in))
		assert.Error(t, err, in)
	}
}
