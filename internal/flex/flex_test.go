package flex

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInt(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Int{`12`: 12, `"12"`: 12, `" 7 "`: 7, `12.0`: 12, `""`: 0, `null`: 0, `"-3"`: -3, `[]`: 0, `[ ]`: 0} {
		var n Int
		require.NoError(t, json.Unmarshal([]byte(in), &n), in)
		assert.Equal(t, want, n, in)
	}
	for _, in := range []string{`"abc"`, `1.5`, `{}`, `[1]`, `"1e999"`} {
		var n Int
		assert.Error(t, json.Unmarshal([]byte(in), &n), in)
	}
}

func TestFloatAndString(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Float{`83.33`: 83.33, `"50%"`: 50, `"0%"`: 0, `100`: 100, `null`: 0} {
		var f Float
		require.NoError(t, json.Unmarshal([]byte(in), &f), in)
		assert.InDelta(t, float64(want), float64(f), 1e-9, in)
	}
	for in, want := range map[string]String{`"a"`: "a", `12`: "12", `true`: "true", `null`: "", `[]`: ""} {
		var s String
		require.NoError(t, json.Unmarshal([]byte(in), &s), in)
		assert.Equal(t, want, s, in)
	}
	for _, in := range []string{`{"a":1}`, `["a"]`, `{}`} {
		var s String
		assert.Error(t, json.Unmarshal([]byte(in), &s), in)
	}
}

func TestTimeIsChinaTime(t *testing.T) {
	t.Parallel()
	var tm Time
	require.NoError(t, json.Unmarshal([]byte(`"2024-07-02 15:03:24"`), &tm))
	assert.True(t, tm.Equal(time.Date(2024, 7, 2, 7, 3, 24, 0, time.UTC)), tm.Time)
	for _, in := range []string{`""`, `null`, `"0000-00-00 00:00:00"`} {
		var z Time
		require.NoError(t, json.Unmarshal([]byte(in), &z), in)
		assert.True(t, z.IsZero(), in)
	}
	require.NoError(t, json.Unmarshal([]byte(`"2019-01-22"`), &tm))
	assert.Equal(t, "2019-01-22 00:00:00 +0800", tm.Format("2006-01-02 15:04:05 -0700"))
	require.NoError(t, json.Unmarshal([]byte(`1686824884`), &tm))
	assert.Equal(t, int64(1686824884), tm.Unix())
	assert.Error(t, json.Unmarshal([]byte(`"yesterday"`), &tm))
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

// TestStringFastPathMatchesDecoder checks that strings read without the general decoder read as
// the decoder reads them, and that the others still go to it.
func TestStringFastPathMatchesDecoder(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`"plain"`, `" 回访 "`, `"a\/b"`, `"\u00e9\u56de"`, "\"bad \xff\"", `"tab	in"`, `"a"b"`, `""`,
		`"\"\\\/\b\f\n\r\t"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\u00"`, `"\u00zz"`, `"\x"`, `"end\"`, `"\u0000"`,
		`"\u+0e9"`, `"\uFFFF\uD7FF"`,
	} {
		var want string
		wantErr := json.Unmarshal([]byte(in), &want)
		var got String
		err := got.UnmarshalJSON([]byte(in))
		if wantErr != nil {
			assert.Error(t, err, in)
			continue
		}
		require.NoError(t, err, in)
		assert.Equal(t, strings.TrimSpace(want), string(got), in)
	}
	for _, in := range []string{`"plain"`, `"\u56de\/x\n"`} {
		_, ok := unquote([]byte(in))
		assert.True(t, ok, "fast path taken for %s", in)
	}
}
