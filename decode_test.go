package digelao

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecodeMembersMatchesEncodingJSON checks the one-pass decoding of records against
// encoding/json's own (decodeMembers with no members given), on a realistic push and on the
// objects the one pass hands back to encoding/json.
func TestDecodeMembersMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		string(SampleCallRecordPush("account|a6505ba3c1d94e7f8b2a0c6e4d8f1b3a", "15800000000")),
		`{"sn":"a","PHONE":"1","custom":{"x":[1]}}`,          // a field matched case-insensitively
		`{"sn":"a","phone":"1","Phone":"2"}`,                 // both spellings: the later wins
		`{"sn":"a","talktimes":{"bad":1}}`,                   // a value its field rejects
		`{"sn":"a","talktimes":"12","score":"50%","x":null}`, // flexible values, an extra null
		`{"sn":"a","created_at":"2024-02-30 00:00:00"}`,      // an impossible date
		`null`, `[1]`, `"text"`, `{"sn":"a",}`,
	} {
		var fast, exact callRecordWire
		fastExtra, fastRaw, fastErr := decodeLoose([]byte(in), &fast, callRecordKeys)
		exactExtra, exactRaw, exactErr := decodeMembers([]byte(in), nil, &exact, callRecordKeys)
		if exactErr != nil {
			require.Error(t, fastErr, in)
			assert.Equal(t, exactErr.Error(), fastErr.Error(), in)
			continue
		}
		require.NoError(t, fastErr, in)
		assert.Equal(t, exact, fast, in)
		assert.Equal(t, exactExtra, fastExtra, in)
		assert.Equal(t, exactRaw, fastRaw, in)
	}
}

// TestDecodeMembersOnePass checks that a realistic record takes the one pass, not the fallback.
func TestDecodeMembersOnePass(t *testing.T) {
	t.Parallel()
	sample := SampleCallRecordPush("account|a6505ba3c1d94e7f8b2a0c6e4d8f1b3a", "15800000000")
	var w callRecordWire
	assert.True(t, fillWire(reflect.ValueOf(&w).Elem(), objectMembers(sample), callRecordKeys))
	assert.Equal(t, "15800000000", string(w.Phone))
}
