package digelao

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecodeMembersMatchesEncodingJSON checks the one-pass decoding of records against
// encoding/json's own on objects whose member names are the fields' exactly: a realistic push,
// values the fields reject, and what is not an object.
func TestDecodeMembersMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		string(SampleCallRecordPush("account|a6505ba3c1d94e7f8b2a0c6e4d8f1b3a", "15800000000")),
		`{"sn":"a","talktimes":{"bad":1}}`,                   // a value its field rejects
		`{"sn":"a","talktimes":"12","score":"50%","x":null}`, // flexible values, an extra null
		`{"sn":"a","created_at":"2024-02-30 00:00:00"}`,      // an impossible date
		`{"sn":"a","phone":"1","phone":"2"}`,                 // a repeated member: the later wins
		`null`, `[1]`, `"text"`, `{"sn":"a",}`,
	} {
		var got, want callRecordWire
		_, raw, err := decodeLoose([]byte(in), &got, callRecordKeys)
		if wantErr := json.Unmarshal([]byte(in), &want); wantErr != nil {
			require.Error(t, err, in)
			assert.Equal(t, wantErr.Error(), err.Error(), in)
			assert.Zero(t, got, in)
			continue
		}
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		assert.Equal(t, in, string(raw))
	}
}

// Members are matched by exact name: one that only folds to a field's name stays in Extra, and
// never overrides the exact member (encoding/json would take "SN" for sn, and the later of two).
func TestDecodeMembersExactNames(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		sn, phone string
		extra     map[string]json.RawMessage
	}{
		`{"sn":"acct|2","SN":"acct|1"}`:             {"acct|2", "", map[string]json.RawMessage{"SN": json.RawMessage(`"acct|1"`)}},
		`{"SN":"acct|1","sn":"acct|2"}`:             {"acct|2", "", map[string]json.RawMessage{"SN": json.RawMessage(`"acct|1"`)}},
		`{"sn":"a","PHONE":"1","custom":{"x":[1]}}`: {"a", "", map[string]json.RawMessage{"PHONE": json.RawMessage(`"1"`), "custom": json.RawMessage(`{"x":[1]}`)}},
		`{"sn":"a","phone":"1","Phone":{"bad":1}}`:  {"a", "1", map[string]json.RawMessage{"Phone": json.RawMessage(`{"bad":1}`)}},
	}
	for in, want := range tests {
		var w callRecordWire
		extra, _, err := decodeLoose([]byte(in), &w, callRecordKeys)
		require.NoError(t, err, in)
		assert.Equal(t, want.sn, string(w.SN), in)
		assert.Equal(t, want.phone, string(w.Phone), in)
		assert.Equal(t, want.extra, extra, in)
	}
}

// TestDecodeMembersOnePass checks that a realistic record decodes in the one pass.
func TestDecodeMembersOnePass(t *testing.T) {
	t.Parallel()
	sample := SampleCallRecordPush("account|a6505ba3c1d94e7f8b2a0c6e4d8f1b3a", "15800000000")
	var w callRecordWire
	require.NoError(t, fillWire(reflect.ValueOf(&w).Elem(), objectMembers(sample), callRecordKeys))
	assert.Equal(t, "15800000000", string(w.Phone))
}
