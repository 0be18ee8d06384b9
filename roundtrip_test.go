package digelao

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/flex"
	"github.com/digelao-go/digelao/internal/pushsample"
)

// Every decoded type survives JSON: decoded from what the platform sends, marshalled, and
// unmarshalled again, its fields are equal; the output uses the platform's member names, writes
// times in China time and never Raw.
func TestDecodedTypesRoundTrip(t *testing.T) {
	t.Parallel()
	member := func(file, path string) string { // a member of a recorded reply, by a dotted path
		var v any = json.RawMessage(readReply(t, file))
		for _, k := range strings.Split(path, ".") {
			var m map[string]json.RawMessage
			var list []json.RawMessage
			raw := v.(json.RawMessage)
			if json.Unmarshal(raw, &m) == nil {
				v = m[k]
				continue
			}
			require.NoError(t, json.Unmarshal(raw, &list), path)
			v = list[0]
		}
		return string(v.(json.RawMessage))
	}
	for name, tc := range map[string]struct {
		in  string
		new func() any
	}{
		"CallRecord":     {string(pushsample.CallRecord("account|1", "13800138000")), func() any { return new(CallRecord) }},
		"CallRecord 6.1": {member("crm_list.json", "data.list.0"), func() any { return new(CallRecord) }},
		"Task":           {member("task_list.json", "data.list.0"), func() any { return new(Task) }},
		"TaskDetail":     {member("task_details.json", "data.list.0"), func() any { return new(TaskDetail) }},
		"Template":       {member("templatelist.json", "data.0"), func() any { return new(Template) }},
		"Question":       {member("templatedata.json", "data.0"), func() any { return new(Question) }},
		"DialogueTurn":   {member("cdrshow.json", "data.fragment.0.0"), func() any { return new(DialogueTurn) }},
		"SubAccount":     {member("admin_subaccounts.json", "data.0"), func() any { return new(SubAccount) }},
		"Role":           {member("admin_roles.json", "data.0"), func() any { return new(Role) }},
		"BlockedNumber":  {member("admin_blacklist.json", "datas.0"), func() any { return new(BlockedNumber) }},
		"Customer":       {member("admin_customer_list.json", "data.list.0"), func() any { return new(Customer) }},
		"CallingHours":   {member("admin_calltimes.json", "data"), func() any { return new(CallingHours) }},
		"ImportInfo":     {member("import_task_info.json", "data"), func() any { return new(ImportInfo) }},
		"ImportState":    {member("import_state.json", "data"), func() any { return new(ImportState) }},
		"CreatedTask":    {member("add_json.json", "data"), func() any { return new(CreatedTask) }},
		"ImportResult": {string(pushsample.ImportResult("dial_task_main_sn|1", "", map[string]int{"totalCount": 3, "successCount": 2})),
			func() any { return new(ImportResult) }},
		"ImportResult failed": {string(pushsample.ImportResult("dial_task_main_sn|1", "导入文件为空", nil)), func() any { return new(ImportResult) }},
		"TaskAnalytics":       {string(pushsample.TaskAnalytics("dial_task_main_sn|1")), func() any { return new(TaskAnalytics) }},
	} {
		first := tc.new()
		require.NoError(t, json.Unmarshal([]byte(tc.in), first), name)
		out, err := json.Marshal(first)
		require.NoError(t, err, name)
		assert.NotContains(t, string(out), `"Raw"`, name)
		assert.NotContains(t, string(out), `"Extra"`, name)
		second := tc.new()
		require.NoError(t, json.Unmarshal(out, second), "%s: %s", name, out)
		assert.Equal(t, withoutRaw(first), withoutRaw(second), "%s: %s", name, out)

		// Members keep the platform's names: every member of the input is in the output.
		var in, again map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(tc.in), &in), name)
		require.NoError(t, json.Unmarshal(out, &again), name)
		for k := range in {
			assert.Contains(t, again, k, "%s keeps member %q", name, k)
		}
	}
}

// withoutRaw returns a copy of the struct v points to with its Raw field, which holds the bytes
// each decoding received, cleared, and its times in one zone.
func withoutRaw(v any) any {
	c := reflect.New(reflect.TypeOf(v).Elem())
	c.Elem().Set(reflect.ValueOf(v).Elem())
	if f := c.Elem().FieldByName("Raw"); f.IsValid() {
		f.SetZero()
	}
	for i := range c.Elem().NumField() {
		if f := c.Elem().Field(i); f.Type() == reflect.TypeFor[time.Time]() && f.CanSet() {
			f.Set(reflect.ValueOf(f.Interface().(time.Time).In(flex.China)))
		}
	}
	return c.Interface()
}

func TestMarshalledRecordReadsLikeAPush(t *testing.T) {
	t.Parallel()
	var r CallRecord
	require.NoError(t, json.Unmarshal(pushsample.CallRecord("account|1", "13800138000"), &r))
	r.CreatedAt = r.CreatedAt.UTC() // whatever the zone, the platform's form
	out, err := json.Marshal(r)
	require.NoError(t, err)
	for _, want := range []string{`"sn":"account|1"`, `"dial_task_main_sn":"dial_task_main_sn|`, `"talktimes":35`,
		`"created_at":"2024-07-02 15:03:24"`, `"connected_at":"2024-07-02 15:02:49"`} {
		assert.Contains(t, string(out), want)
	}
}
