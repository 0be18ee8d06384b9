package flex

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInt(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Int{`12`: 12, `"12"`: 12, `" 7 "`: 7, `12.0`: 12, `""`: 0, `null`: 0, `"-3"`: -3} {
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
	for in, want := range map[string]String{`"a"`: "a", `12`: "12", `true`: "true", `null`: ""} {
		var s String
		require.NoError(t, json.Unmarshal([]byte(in), &s), in)
		assert.Equal(t, want, s, in)
	}
	var s String
	assert.Error(t, json.Unmarshal([]byte(`{"a":1}`), &s))
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
