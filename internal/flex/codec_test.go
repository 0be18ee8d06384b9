package flex

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type inner struct {
	Node  string  `json:"hangUpName"`
	Count int     `json:"hangUpCount"`
	Rate  float64 `json:"hangUpRate"`
}

type record struct {
	ID        int64     `json:"id"`
	SN        string    `json:"sn"`
	Score     float64   `json:"score"`
	Agent     bool      `json:"is_transfertoagent"`
	CreatedAt time.Time `json:"created_at"`
	Stats     []inner   `json:"hang_up_data"`
	Words     []string  `json:"out_of_key_data"`
	Task      *inner    `json:"task"`
	Sub       inner     `json:"sub"`
	Count     *int      `json:"total"`

	Extra map[string]json.RawMessage `json:"-"`
	Raw   json.RawMessage            `json:"-"`
}

var recordCodec = NewCodec[record]()

func decode(t *testing.T, in string) record {
	t.Helper()
	var r record
	require.NoError(t, recordCodec.Decode([]byte(in), &r), in)
	return r
}

func TestCodecToleratesThePlatformsJSON(t *testing.T) {
	t.Parallel()
	r := decode(t, `{"id":"12003","sn":"account|a","score":"83.5","is_transfertoagent":1,
		"created_at":"2024-07-02 15:03:24","hang_up_data":[{"hangUpName":"01","hangUpCount":"5","hangUpRate":"83.33%"}],
		"out_of_key_data":["就是咨询",7,null],"task":[],"sub":{"hangUpCount":2},"total":"0","姓名":"张三"}`)
	assert.EqualValues(t, 12003, r.ID)
	assert.Equal(t, "account|a", r.SN)
	assert.InDelta(t, 83.5, r.Score, 1e-9)
	assert.True(t, r.Agent)
	assert.True(t, r.CreatedAt.Equal(time.Date(2024, 7, 2, 7, 3, 24, 0, time.UTC)))
	assert.Equal(t, []inner{{Node: "01", Count: 5, Rate: 83.33}}, r.Stats)
	assert.Equal(t, []string{"就是咨询", "7"}, r.Words, "numbers as text, null items dropped")
	assert.Nil(t, r.Task, "PHP's [] for an empty object")
	assert.Equal(t, 2, r.Sub.Count)
	require.NotNil(t, r.Count, "a member present, even as 0")
	assert.Equal(t, map[string]json.RawMessage{"姓名": json.RawMessage(`"张三"`)}, r.Extra)
	assert.True(t, strings.HasPrefix(string(r.Raw), `{"id":"12003"`))

	for _, empty := range []string{`null`, `[]`, `{}`, `""`} {
		r := decode(t, `{"id":`+empty+`,"score":`+empty+`,"created_at":`+empty+`,"is_transfertoagent":`+empty+`}`)
		assert.Zero(t, r.ID, empty)
		assert.Zero(t, r.Score, empty)
		assert.True(t, r.CreatedAt.IsZero(), empty)
		assert.False(t, r.Agent, empty)
		assert.Empty(t, r.Extra, empty)
	}
}

func TestCodecKeepsWhatDoesNotFit(t *testing.T) {
	t.Parallel()
	r := decode(t, `{"id":"abc","score":{"x":1},"created_at":"yesterday","is_transfertoagent":"maybe","sn":"ok"}`)
	assert.Zero(t, r.ID)
	assert.Zero(t, r.Score)
	assert.True(t, r.CreatedAt.IsZero())
	assert.Equal(t, "ok", r.SN)
	assert.Equal(t, map[string]json.RawMessage{"id": json.RawMessage(`"abc"`), "score": json.RawMessage(`{"x":1}`),
		"created_at": json.RawMessage(`"yesterday"`), "is_transfertoagent": json.RawMessage(`"maybe"`)}, r.Extra)

	// Written back in its field's place, once, and read back the same.
	out, err := recordCodec.Encode(&r)
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(string(out), `"id":`), "%s", out)
	back := decode(t, string(out))
	assert.Equal(t, r.Extra, back.Extra)

	// Structures that do not fit are errors, not silence.
	for _, in := range []string{`{"hang_up_data":"x"}`, `{"hang_up_data":[1]}`, `{"sub":"x"}`, `{"id":1`, `[1]`} {
		var r record
		assert.Error(t, recordCodec.Decode([]byte(in), &r), in)
	}
}

func TestCodecMatchesNamesExactly(t *testing.T) {
	t.Parallel()
	r := decode(t, `{"sn":"acct|2","SN":"acct|1","Sn":"acct|3"}`)
	assert.Equal(t, "acct|2", r.SN)
	assert.Len(t, r.Extra, 2)
	r = decode(t, `{"sn":"a","sn":"b"}`)
	assert.Equal(t, "b", r.SN, "the last of repeated members, as PHP")
	r = decode(t, `{"\u0073n":"escaped name"}`)
	assert.Equal(t, "escaped name", r.SN)
}

// The last of repeated members wins whole, as PHP's json_decode keeps it: an earlier value that
// did not fit its field leaves nothing behind in Extra once a later one fits.
func TestCodecRepeatedMemberLeavesNoStaleExtra(t *testing.T) {
	t.Parallel()
	r := decode(t, `{"id":"abc","id":7,"sn":[1],"\u0073n":"b","score":{"x":1},"score":"2.5"}`)
	assert.EqualValues(t, 7, r.ID)
	assert.Equal(t, "b", r.SN)
	assert.InDelta(t, 2.5, r.Score, 1e-9)
	assert.Empty(t, r.Extra, "the values PHP dropped")
	r = decode(t, `{"id":7,"id":"abc"}`)
	assert.Zero(t, r.ID)
	assert.Equal(t, map[string]json.RawMessage{"id": json.RawMessage(`"abc"`)}, r.Extra, "the last, which does not fit")
	r = decode(t, `{"sub":{"hangUpName":"x","hangUpCount":[]},"sub":{"hangUpCount":2}}`)
	assert.Equal(t, inner{Count: 2}, r.Sub, "an object replaced whole")
}

func TestCodecKeepsInvalidUTF8(t *testing.T) {
	t.Parallel()
	a, b := decode(t, "{\"sn\":\"acct|\xff\"}"), decode(t, "{\"sn\":\"acct|\xfe\"}")
	assert.NotEqual(t, a.SN, b.SN)
	assert.Equal(t, "acct|\xff", a.SN)
}

func TestCodecListsInEveryPHPShape(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		`[]`: nil, `{}`: nil, `null`: nil, `["a","b"]`: {"a", "b"}, `{"0":"a","2":"c"}`: {"a", "c"},
	} {
		r := decode(t, `{"out_of_key_data":`+in+`}`)
		assert.Equal(t, want, r.Words, in)
	}
}

// An item PHP wrote as [] or {} in a list of pointers is an empty item, never nil.
func TestCodecListItemsAreNeverNil(t *testing.T) {
	t.Parallel()
	for _, c := range []*Codec[rows]{rowsInline, rowsThroughUnmarshalJSON} {
		var r rows
		require.NoError(t, c.Decode([]byte(`{"list":[[],null,{},{"sn":"a"}]}`), &r))
		assert.Equal(t, []*row{{}, {}, {SN: "a", Raw: json.RawMessage(`{"sn":"a"}`)}}, r.List)
	}
	var r rows
	require.Error(t, rowsInline.Decode([]byte(`{"list":[" "]}`), &r), "text is no item")
}

func TestCodecRoundTrips(t *testing.T) {
	t.Parallel()
	n := 3
	r := record{ID: 5, SN: "account|x\"/\\\n\t<>&", Score: 0.1, Agent: true,
		CreatedAt: time.Date(2024, 7, 2, 15, 3, 24, 0, China), Stats: []inner{{"a", 1, 2.5}},
		Words: []string{"就是"}, Task: &inner{Node: "n"}, Count: &n,
		Extra: map[string]json.RawMessage{"姓名": json.RawMessage(`"张三"`), "z": json.RawMessage(`[1,{"a":null}]`)}}
	out, err := recordCodec.Encode(&r)
	require.NoError(t, err)
	assert.True(t, json.Valid(out), "%s", out)
	assert.Contains(t, string(out), `"created_at":"2024-07-02 15:03:24"`, "China time, the platform's form")
	assert.NotContains(t, string(out), `"Raw"`)
	back := decode(t, string(out))
	back.Raw = nil
	assert.True(t, r.CreatedAt.Equal(back.CreatedAt))
	back.CreatedAt = r.CreatedAt
	assert.Equal(t, r, back)

	zero, err := recordCodec.Encode(&record{})
	require.NoError(t, err)
	assert.Contains(t, string(zero), `"created_at":""`)
	assert.Equal(t, record{}, func() record { z := decode(t, string(zero)); z.Raw = nil; return z }())
}

// FuzzScanAgreesWithEncodingJSON pins the scanner to encoding/json: the same inputs are valid, and
// a valid string decodes to the same text (where it is valid UTF-8, which encoding/json rewrites).
func FuzzScanAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}]}`, `"\ud83d\ude00"`, `"\ud800x"`, `-0.5e+10`, `01`, `[1,]`,
		`{"a" : "b" }`, "\"\x01\"", `"\u00zz"`, `tru`, ` 1 `, `1.`, `"\/\b"`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		i := ws(b, 0)
		end, err := skip(b, i, 0)
		ours := err == nil && ws(b, end) == len(b)
		if ours != json.Valid(b) {
			t.Fatalf("valid: ours %v, encoding/json %v, for %q", ours, !ours, b)
		}
		// Members sees what encoding/json sees, the last of a repeated name winning — but for names
		// that are not UTF-8, which it keeps as they are and encoding/json rewrites.
		if ours && b[i] == '{' && utf8.Valid(b) {
			var want map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(b, &want))
			got := map[string]json.RawMessage{}
			require.NoError(t, Members(b, func(name string, v []byte) error { got[name] = v; return nil }))
			for k, v := range want {
				if utf8.ValidString(k) {
					assert.JSONEq(t, string(v), string(got[k]), "member %q of %q", k, b)
				}
			}
		}
		if !ours || b[i] != '"' {
			return
		}
		var want string
		require.NoError(t, json.Unmarshal(b, &want))
		start, stop, _, _ := scanString(b, i)
		got := string(unescape(nil, b[start+1:stop-1]))
		if utf8.ValidString(got) && got != want {
			t.Fatalf("%q: ours %q, encoding/json %q", b, got, want)
		}
	})
}

func TestExact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`"acct|1"`:                   "acct|1",
		"\"acct|\xff\"":              "acct|\xff",
		`" a\u00e9\/\\\"\n\t\b\f\r"`: " a\u00e9/\\\"\n\t\b\f\r",
		`"\ud83d\ude00"`:             "😀",
		`"\uD83D\uDE00x"`:            "😀x",
		`""`:                         "",
		`null`:                       "",
		`[]`:                         "",
		`12003`:                      "12003",
		`1.50`:                       "1.50",
		`true`:                       "true",
	} {
		require.NoError(t, Exact([]byte(in)), in)
		got, err := Text([]byte(in))
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{`"\ud800"`, `"\udc00x"`, `"\ud83dx"`, `"\ud83d\u0041"`, `"\ud83d\n"`, `"a\ud83d"`} {
		assert.ErrorIs(t, Exact([]byte(in)), errLoneSurrogate, in)
	}
}

// row is a type whose UnmarshalJSON is its own Codec's, as the SDK's decoded types are.
type row struct {
	ID    int64                      `json:"id"`
	SN    string                     `json:"sn"`
	At    time.Time                  `json:"at"`
	Extra map[string]json.RawMessage `json:"-"`
	Raw   json.RawMessage            `json:"-"`
}

var rowCodec = NewCodec[row]()

func (r *row) UnmarshalJSON(b []byte) error { return rowCodec.Decode(b, r) }

type rows struct {
	List []*row `json:"list"`
}

var (
	rowsThroughUnmarshalJSON = NewCodec[rows]()
	rowsInline               = NewCodec[rows](Inline[row]())
)

// FuzzInlineAgreesWithUnmarshalJSON pins the in-place decoding of Inline to the plain path, each
// item through its own UnmarshalJSON: the same items, or an error for both.
func FuzzInlineAgreesWithUnmarshalJSON(f *testing.F) {
	for _, s := range []string{`{"list":[{"id":1,"sn":"a","at":"2024-07-02 15:03:24","x":[1]},null,{"id":"2"}]}`,
		`{"list":{"0":{"sn":"b"},"2":[]}}`, `{"list":[{"id":{"a":1}}]}`, `{"list":[1]}`, `{"list":[{"sn":"\ud800"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var plain, inline rows
		errPlain := rowsThroughUnmarshalJSON.Decode(b, &plain)
		errInline := rowsInline.Decode(b, &inline)
		if (errPlain == nil) != (errInline == nil) {
			t.Fatalf("%q: plain %v, inline %v", b, errPlain, errInline)
		}
		if errPlain == nil {
			assert.Equal(t, plain, inline, "%q", b)
		}
	})
}

// FuzzDecodeListAgreesWithUnmarshalJSON pins DecodeList to the plain path: the same list as a
// list field whose items go through their own UnmarshalJSON, or an error for both.
func FuzzDecodeListAgreesWithUnmarshalJSON(f *testing.F) {
	for _, s := range []string{`[{"id":1,"sn":"a","at":"2024-07-02 15:03:24","x":[1]},null,{"id":"2"}]`, `{"0":{"sn":"b"},"2":[]}`,
		`[]`, `{}`, `null`, ` [ ] `, `[{"id":{"a":1}}]`, `[1]`, `"a"`, `[{"sn":"\ud800"}] x`, ``, `{},"":[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var plain rows
		errPlain := rowsThroughUnmarshalJSON.Decode([]byte(`{"list":`+string(b)+`}`), &plain)
		if errPlain == nil && !json.Valid(b) {
			// b closed the wrapping object and went on (`{},"":[]`): the wrapper is JSON, b is not.
			errPlain = errors.New("not one JSON value")
		}
		var list []*row
		errList := rowCodec.DecodeList(b, &list)
		if (errPlain == nil) != (errList == nil) {
			t.Fatalf("%q: plain %v, DecodeList %v", b, errPlain, errList)
		}
		if errPlain == nil {
			assert.Equal(t, plain.List, list, "%q", b)
			assert.NotContains(t, list, (*row)(nil), "%q", b)
		}
	})
}

// FuzzTimeAgreesWithATimeField pins Time to a time field of a Codec: the same time where the
// field takes the value, an error where the field leaves it to Extra or the object fails.
func FuzzTimeAgreesWithATimeField(f *testing.F) {
	for _, s := range []string{`"2024-07-02 15:03:24"`, `1719903804`, `"1719903804"`, `null`, `""`, `[]`, `{}`, `" "`,
		`"0000-00-00 00:00:00"`, `"2024-07-02"`, `"2024-07-02T15:03:24+02:00"`, `true`, `[1]`, `{"a":1}`, `"x"`, `0`, `1 2`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r record
		errField := recordCodec.Decode([]byte(`{"created_at":`+string(b)+`}`), &r)
		_, notFit := r.Extra["created_at"]
		got, err := Time(b)
		if (errField == nil && !notFit) != (err == nil) {
			t.Fatalf("%q: field %v (kept in Extra: %v), Time %v", b, errField, notFit, err)
		}
		if err == nil {
			assert.True(t, r.CreatedAt.Equal(got), "%q: field %s, Time %s", b, r.CreatedAt, got)
			assert.Equal(t, r.CreatedAt.Location(), got.Location(), "%q", b)
		}
	})
}

// A time with a fraction of a second — RFC 3339 from a newer endpoint, or a value a program set —
// reads back to the same instant: the fraction is written when there is one.
func TestCodecRoundTripsFractionsOfASecond(t *testing.T) {
	for _, in := range []string{`"2024-07-02 15:03:24.5"`, `"2024-07-02T15:03:24.123+02:00"`, `"2024-07-02 15:03:24"`} {
		r := decode(t, `{"created_at":`+in+`}`)
		b, err := recordCodec.Encode(&r)
		require.NoError(t, err)
		back := decode(t, string(b))
		assert.True(t, r.CreatedAt.Equal(back.CreatedAt), "%s: %s read back as %s (%s)", in, r.CreatedAt, back.CreatedAt, b)
	}
	r := decode(t, `{"created_at":"2024-07-02 15:03:24"}`)
	b, err := recordCodec.Encode(&r)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"created_at":"2024-07-02 15:03:24"`, "a whole second is written as the platform writes it")
}

// DecodeOwned decodes as Decode does, but its Raw fields are slices of the input, capped so that
// an append copies instead of writing over what follows; it hands over the outermost object's
// members as Members does. Decode copies Raw: the value it made does not change with its input.
func TestDecodeOwned(t *testing.T) {
	t.Parallel()
	in := `{"list":[{"id":1,"sn":"a","x":[1]},{"id":"2","s\u006e":"b"}],"t\u00e9":{"a":1}}`
	var owned, copied rows
	type member struct{ name, value string }
	var members []member
	require.NoError(t, rowsInline.DecodeOwned([]byte(in), &owned, func(name, value []byte) {
		members = append(members, member{string(name), string(value)})
	}))
	require.NoError(t, rowsInline.Decode([]byte(in), &copied))
	assert.Equal(t, copied, owned)
	assert.Equal(t, []member{{"list", in[len(`{"list":`):strings.Index(in, `,"t\u00e9"`)]}, {"té", `{"a":1}`}}, members)

	b := []byte(in)
	require.NoError(t, rowsInline.DecodeOwned(b, &owned, nil))
	first, second := owned.List[0], owned.List[1]
	require.Equal(t, `{"id":1,"sn":"a","x":[1]}`, string(first.Raw))
	assert.Same(t, &b[strings.Index(in, `{"id":1`)], &first.Raw[0], "Raw is the input's bytes")
	assert.Equal(t, len(first.Raw), cap(first.Raw))
	_ = append(first.Raw, "xx"...)
	assert.Equal(t, `{"id":"2","s\u006e":"b"}`, string(second.Raw), "an append to one Raw leaves the next as it was")

	b = []byte(in)
	require.NoError(t, rowsInline.Decode(b, &copied))
	copy(b, strings.Repeat("#", len(b)))
	assert.Equal(t, `{"id":1,"sn":"a","x":[1]}`, string(copied.List[0].Raw), "Decode's Raw is a copy")
}

// FuzzAppendTimeAgreesWithAppendFormat pins appendTime, which writes the digits of a whole second
// by hand, to time's own AppendFormat of timeLayout, for any instant in China time.
func FuzzAppendTimeAgreesWithAppendFormat(f *testing.F) {
	for _, s := range [][2]int64{{1719903804, 0}, {0, 0}, {-62135596800, 0}, {253402300799, 0}, {253402300800, 0},
		{-62135596801, 0}, {1719903804, 1}, {1719903804, 999999999}, {-1, 0}, {-30610224000 - 28800, 0}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec).In(China)
		assert.Equal(t, string(tm.AppendFormat(nil, timeLayout)), string(appendTime(nil, tm)), "%d.%09d", sec, nsec)
	})
}
