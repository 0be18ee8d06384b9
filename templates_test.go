package digelao

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTemplatesList(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/templatelist", "templatelist.json")
	list, total, err := c.Templates.List(context.Background(), &TemplateListOptions{
		ListOptions: ListOptions{PerPage: 2}, Name: "zzh人机耦合", VoiceBreak: VoiceBreakOnMatch})
	require.NoError(t, err)
	assert.Equal(t, 2, total, "the reply counts nothing: the page's own count")
	assertPost(t, got, "/api/templatelist", commonJSON+`,"pageIndex":"0","pageSize":"2","voice_break":"0",`+
		`"project_name":"zzh\u4eba\u673a\u8026\u5408"}`)

	require.Len(t, list, 2)
	a, b := list[0], list[1]
	assert.Equal(t, int64(118), a.ID)
	assert.Equal(t, "projects|4a92c1e8f07b3d65a9e2c4b1d8f3e6a0", a.SN)
	assert.Equal(t, "zzh人机耦合", a.Name)
	assert.Equal(t, "示例科技", a.ProjectName)
	assert.Equal(t, VoiceBreakOnVoice, a.VoiceBreak, `"1"`)
	assert.Equal(t, time.Date(2024, 3, 5, 4, 0, 0, 0, time.UTC), a.UpdatedAt.UTC())
	assert.JSONEq(t, `"催缴"`, string(a.Extra["scene"]))
	assert.Equal(t, int64(119), b.ID, "id as a string")
	assert.Equal(t, "project|9ac4e1b27d5f3a8c6e0b4d2f1a9c7e35", b.SN, "the singular prefix is kept")
	assert.Empty(t, b.ProjectName, "null")
	assert.Equal(t, VoiceBreakOnMatch, b.VoiceBreak, "wire 0")
	assert.True(t, b.UpdatedAt.IsZero())

	_, _, err = c.Templates.List(context.Background(), nil)
	require.NoError(t, err)
	assertPost(t, got, "/api/templatelist", commonJSON+`,"pageIndex":"0"}`)
	_, total, err = c.Templates.List(context.Background(), &TemplateListOptions{VoiceBreak: 3})
	assert.Zero(t, total)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, 2, mt.GetTotalCallCount())
}

func TestTemplatesGet(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/templatedata", "templatedata.json")
	d, err := c.Templates.Get(context.Background(), "projects|6202a1b2c3d4e5f60718293a4b5c6d7e")
	require.NoError(t, err)
	assertPost(t, got, "/api/templatedata", commonJSON+`,"project_sn":"projects|6202a1b2c3d4e5f60718293a4b5c6d7e",`+
		`"parent_sn":"projects|6202a1b2c3d4e5f60718293a4b5c6d7e"}`) // the table's name, then the example's
	require.NotNil(t, d.Template)
	assert.Equal(t, "projects|6202a1b2c3d4e5f60718293a4b5c6d7e", d.Template.SN)
	assert.Equal(t, "zzh人机耦合", d.Template.Name)
	require.Len(t, d.Questions, 2)
	for i, want := range []Question{
		{SN: "asks|6202a1b2c3d4e5f60718293a4b5c6d7e", Title: "谢谢", Answer: "不客气", AskedTimes: 90},
		{SN: "asks|7313b2c3d4e5f60718293a4b5c6d7e8f", Title: "你是谁", Answer: "我是智能客服", AskedTimes: 60},
	} {
		q := *d.Questions[i]
		assert.Contains(t, string(q.Raw), `"asks_sn"`, "Raw keeps the question as received")
		q.Raw, q.Extra = nil, nil
		assert.Equal(t, want, q)
	}
	assert.JSONEq(t, `"谢谢,多谢"`, string(d.Questions[0].Extra["keywords"]), "members past the page's cut-off stay reachable")
	assert.Nil(t, d.Questions[1].Extra)

	_, err = c.Templates.Get(context.Background(), " ")
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestTemplatesNames(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/getProjects", "get_projects.json")
	list, err := c.Templates.Names(context.Background())
	require.NoError(t, err)
	assertPost(t, got, "/api/getProjects", commonJSON+`}`)
	require.Len(t, list, 2)
	assert.Equal(t, "project|9ac4e1b27d5f3a8c6e0b4d2f1a9c7e35", list[0].SN, "project| as received")
	assert.Equal(t, "projects|68ff3b2a1c0d4e5f6a7b8c9d0e1f2a3b", list[1].SN, "projects| as received")
	assert.Equal(t, "0421-女404-hsz", list[0].Name)
	assert.Equal(t, "艾塔科技", list[0].ProjectName)
	assert.Equal(t, "20210421172227ZSE", list[0].QuestionSN)
	assert.Zero(t, list[0].VoiceBreak, "absent: unknown")
}

// FuzzTemplateListAgreesWithEncodingJSON pins the one-scan decoding of a list reply (the codec's
// DecodeList) to the plain path it replaced, encoding/json into []*Template calling each item's
// UnmarshalJSON: the same templates, but that null items are dropped instead of kept as nil, and
// that PHP's array with holes (an object keyed by index) is read as a list instead of failing.
func FuzzTemplateListAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{`[{"id":1,"sn":"projects|a","created_at":"2024-07-02 15:03:24","voice_break":"1"}]`,
		`[{"project_sn":"project|b","x":[1]},null,{"id":"2","created_at":1719903804}]`, `[]`, `{}`, `null`, `[1]`, `"a"`,
		`{"0":{"sn":"a"},"2":{"sn":"b"}}`, `[{"id":{"a":1}}]`, `[{"sn":"\ud800\u00e9"}]`, `[[]]`, `[{}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) { // the envelope check passes only valid JSON on
			return
		}
		var plain []*Template
		errPlain := json.Unmarshal(data, &plain)
		if isEmpty(data) {
			plain, errPlain = nil, nil // decodeData's rule: nothing to decode
		}
		got, err := decodeList(templateCodec, data)
		for _, tpl := range got {
			tpl.settle()
		}
		if i := bytes.IndexAny(data, "{["); errPlain != nil && i >= 0 && data[i] == '{' {
			return // an object: a list with holes, which only the codec reads
		}
		if (errPlain == nil) != (err == nil) {
			t.Fatalf("%q: encoding/json %v, codec %v", data, errPlain, err)
		}
		var want []*Template
		for _, tpl := range plain {
			if tpl != nil {
				want = append(want, tpl)
			}
		}
		if err == nil {
			assert.Equal(t, want, got, "%q", data)
		}
	})
}
