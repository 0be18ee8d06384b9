package digelao

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/flex"
	"github.com/digelao-go/digelao/internal/pushsample"
)

// The documented push samples (6.6.1 of 2019, 6.6.2 of 2024), as far as the pages show them, with
// the sns' elided hex filled in.
const (
	callRecordSample2019 = `{"id":37,"sn":"account|0f1e2d3c4b5a69788796a5b4c3d2e1f0","user_name":"test","user_sn":"SYSUSER|00112233445566778899aabbccddeeff","project_sn":"projects|ffeeddccbbaa99887766554433221100","team_name":"\u4eba\u5de5\u667a\u80fd\u5ba2\u6237\u7ec4","phone":"12345678901","created_at":"2019-01-22 09:46:30","name":"test","address":null,"connected_at":"2019-01-22 09:46:28","disconnected_at":"2019-01-22 09:46:30"}`
	callRecordSample2024 = `{"id":12003,"sn":"account|a6505ba3c1d94e7f8b2a0c6e4d8f1b3a","user_sn":"SYSUSER|317d5a0c2e8b4f6a9d1c3e5b7a9f0d2e","user_name":"zzh1","parent_sn":"zzh","team_sn":"SON","team_name":"\u4eba\u5de5\u667a\u80fd\u5ba2\u6237\u7ec4","created_at":"2024-07-02 15:03:24","updated_at":"2024-07-02 15:03:24","name":"\u5f20\u4e09","phone":"15800000000","address":"","unit":"","unit_phone":null,"project_sn":"projects|d98f3c1a5e7b9d2f4a6c8e0b1d3f5a7c","project_caption":"zzh\u79fb\u52a8\u50ac\u7f34\u56fa\u5b9a\u8bdd\u672f"}`
)

func TestCallRecordDecodesTheDocumentedSamples(t *testing.T) {
	t.Parallel()
	var old CallRecord
	require.NoError(t, json.Unmarshal([]byte(callRecordSample2019), &old))
	assert.Equal(t, int64(37), old.ID)
	assert.Equal(t, "account|0f1e2d3c4b5a69788796a5b4c3d2e1f0", old.SN)
	assert.Equal(t, "人工智能客户组", old.TeamName)
	assert.Empty(t, old.Address, "null is empty")
	assert.Equal(t, time.Date(2019, 1, 22, 9, 46, 28, 0, flex.China), old.ConnectedAt)
	assert.True(t, old.Connected(), "connected_at is set")
	assert.Nil(t, old.Extra)
	assert.Equal(t, callRecordSample2019, string(old.Raw))

	var cur CallRecord
	require.NoError(t, json.Unmarshal([]byte(callRecordSample2024), &cur))
	assert.Equal(t, CallRecord{
		ID: 12003, SN: "account|a6505ba3c1d94e7f8b2a0c6e4d8f1b3a", Phone: "15800000000", Name: "张三",
		UserSN: "SYSUSER|317d5a0c2e8b4f6a9d1c3e5b7a9f0d2e", UserName: "zzh1", ParentSN: "zzh", TeamSN: "SON",
		TeamName: "人工智能客户组", ProjectSN: "projects|d98f3c1a5e7b9d2f4a6c8e0b1d3f5a7c",
		ProjectCaption: "zzh移动催缴固定话术", CreatedAt: time.Date(2024, 7, 2, 15, 3, 24, 0, flex.China),
		UpdatedAt: time.Date(2024, 7, 2, 15, 3, 24, 0, flex.China), Raw: json.RawMessage(callRecordSample2024),
	}, cur)
	assert.False(t, cur.Connected())
}

func TestCallRecordSamplePushDecodes(t *testing.T) {
	t.Parallel()
	var r CallRecord
	require.NoError(t, json.Unmarshal(pushsample.CallRecord("account|1", "13800138000"), &r))
	assert.Equal(t, "account|1", r.SN)
	assert.Equal(t, "13800138000", r.Phone)
	assert.Equal(t, IntentB, r.Intent())
	assert.Equal(t, 35, r.TalkTime)
	assert.True(t, r.Connected())
	assert.Equal(t, "/mnt/record", r.RecordPath)
	assert.Equal(t, 3, r.TurnCount)
	assert.Nil(t, r.Extra, "the sample uses only known members")
}

func TestCallRecordKeepsUnknownMembersAndValuesThatDoNotFit(t *testing.T) {
	t.Parallel()
	var r CallRecord
	require.NoError(t, json.Unmarshal([]byte(`{"sn":"s","姓名":"李四","fs_push_screens":"1","talktimes":12.0}`), &r))
	assert.Equal(t, 12, r.TalkTime)
	assert.Equal(t, 1, r.ScreenPop)
	assert.Equal(t, map[string]json.RawMessage{"姓名": json.RawMessage(`"李四"`)}, r.Extra)

	for bad, member := range map[string]string{`{"talktimes":"12.5"}`: "talktimes", `{"created_at":"tomorrow"}`: "created_at",
		`{"phone":{"a":1}}`: "phone"} {
		var r CallRecord
		require.NoError(t, json.Unmarshal([]byte(bad), &r), bad)
		assert.Len(t, r.Extra, 1, bad)
		assert.Contains(t, r.Extra, member, "kept, not lost: %s", bad)
		out, err := json.Marshal(r)
		require.NoError(t, err)
		assert.Contains(t, string(out), string(r.Extra[member]), "and written back in its place")
	}
	for _, bad := range []string{`[1]`, `"text"`, `{"sn":"a",}`, `{"sn":"a"`} {
		assert.Error(t, json.Unmarshal([]byte(bad), &r), bad)
	}
}

// PHP writes an empty array as [] where a value was expected; such a member is empty, not an
// error that would send the whole record to OnUnknown.
func TestCallRecordTakesPHPEmptyArraysAsAbsent(t *testing.T) {
	t.Parallel()
	var r CallRecord
	require.NoError(t, json.Unmarshal([]byte(`{"sn":"account|1","phone":"13800138000","name":[],"talktimes":[],"connected_at":[]}`), &r))
	assert.Equal(t, "account|1", r.SN)
	assert.Empty(t, r.Name)
	assert.Zero(t, r.TalkTime)
	assert.True(t, r.ConnectedAt.IsZero())
}

// A record's key is what stores remember a delivery by, across processes and releases: it is
// pinned here to its definition (the first 128 bits of the SHA-256 of "sn", a zero byte and the
// sn; of "id", a zero byte and the decimal id without one), for short and long sns alike.
func TestCallRecordKeyIsStable(t *testing.T) {
	t.Parallel()
	want := func(prefix, of string) string {
		sum := sha256.Sum256([]byte(of))
		return prefix + hex.EncodeToString(sum[:16])
	}
	long := strings.Repeat("账号|", 60)
	for _, r := range []CallRecord{
		{SN: "account|a6505ba3c1d94e7f8b2a0c6e4d8f1b3a", ID: 12003},
		{SN: long},
		{ID: 12003},
		{ID: -1},
	} {
		of := "sn\x00" + r.SN
		if r.SN == "" {
			of = "id\x00" + strconv.FormatInt(r.ID, 10)
		}
		assert.Equal(t, want("call:", of), r.key("call:"))
		assert.Equal(t, want("record:", of), r.key("record:"))
	}
	assert.Equal(t, "call:2f5c97234e49301b613a936c4c8ad5af", (&CallRecord{SN: "account|1"}).key("call:"), "golden: printf 'sn\\0account|1' | sha256sum")
	bare := &CallRecord{Phone: "13800000000"}
	content, err := bare.MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, want("call:", "json\x00"+string(content)), bare.key("call:"), "neither sn, id nor a time: its content")
	assert.NotEqual(t, bare.key("call:"), (&CallRecord{Phone: "13800000001"}).key("call:"))

	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	call := CallRecord{Phone: "13800000000", TaskSN: "dial_task_main_sn|1", CreatedAt: at, DisconnectedAt: at}
	z := "0001-01-01T00:00:00Z"
	assert.Equal(t, want("call:", "call\x0013800000000\x00dial_task_main_sn|1\x002026-11-02T09:00:00Z\x00"+z+"\x002026-11-02T09:00:00Z"),
		call.key("call:"), "neither sn nor id: the call — its number, task and times")
	noted := call
	noted.Mark = "已回访"
	assert.Equal(t, call.key("call:"), noted.key("call:"), "a note added later does not make it another call")
	later := call
	later.CreatedAt = at.Add(time.Second)
	assert.NotEqual(t, call.key("call:"), later.key("call:"))
}
