package digelao

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/benchkit"
	"github.com/digelao-go/digelao/internal/pushsample"
)

// The benchmarks set the SDK against baselines that do the same work with none of its code: their
// own PHP-json encoder and md5 (phpObject, baseSign), net/http, and encoding/json into plain
// structs. Each comparison is a benchmark with two sub-benchmarks, impl=sdk and impl=base, that go test
// -bench runs like any other; scripts/benchmarks.sh runs them round after round, alternating which
// of the two goes first, and TestBenchmarks writes BENCHMARKS.md from the rounds. Tests named
// TestBench… check that each pair does the same work.

// race runs a comparison's sub-benchmarks impl=sdk and impl=base (benchstat -col /impl sets them
// side by side) one after the other: the baseline first when DIGELAO_BENCH_BASE_FIRST is set, which
// scripts/benchmarks.sh alternates round by round.
func race(b *testing.B, sdk, base func(*testing.B)) {
	runs := []func(*testing.B){sdk, base}
	names := []string{"impl=sdk", "impl=base"}
	if os.Getenv("DIGELAO_BENCH_BASE_FIRST") != "" {
		slices.Reverse(runs)
		slices.Reverse(names)
	}
	for i, run := range runs {
		b.Run(names[i], run)
	}
}

// measure runs op b.N times in all from the given number of goroutines, reports allocations (of
// the whole process: on loopback, both ends) and the process's CPU time (cpuPerOp), and fails the
// benchmark on op's first error.
func measure(b *testing.B, goroutines int, op func() error) {
	defer cpuPerOp(b)()
	b.ResetTimer()
	if goroutines <= 1 {
		for range b.N {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	var (
		next  atomic.Int64
		first atomic.Pointer[error]
		wg    sync.WaitGroup
	)
	for range goroutines {
		wg.Go(func() {
			for first.Load() == nil && next.Add(1) <= int64(b.N) {
				if err := op(); err != nil {
					first.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	if err := first.Load(); err != nil {
		b.Fatal(*err)
	}
}

// cpuPerOp reports allocations, and returns the function that reports the CPU time the process
// spent per op since (cpu-ns/op): every goroutine's and the garbage collector's, which other
// processes on a shared machine do not inflate.
func cpuPerOp(b *testing.B) func() {
	b.ReportAllocs()
	start, ok := benchkit.CPUTime()
	return func() {
		if end, _ := benchkit.CPUTime(); ok && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// phpObject appends the members kv (name, value, name, value, …) as PHP's json_encode writes an
// array of strings: the baselines' own encoder, written plainly, a rune at a time.
func phpObject(dst []byte, kv ...string) []byte {
	dst = append(dst, '{')
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(phpString(dst, kv[i]), ':')
		dst = phpString(dst, kv[i+1])
	}
	return append(dst, '}')
}

// phpString appends s as PHP's json_encode writes a string with its default flags: "/" escaped,
// every character past ASCII as \uXXXX (a surrogate pair past U+FFFF).
func phpString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	u := func(dst []byte, r rune) []byte {
		return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
	}
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '/':
			dst = append(dst, '\\', byte(r))
		case r == '\b':
			dst = append(dst, `\b`...)
		case r == '\f':
			dst = append(dst, `\f`...)
		case r == '\n':
			dst = append(dst, `\n`...)
		case r == '\r':
			dst = append(dst, `\r`...)
		case r == '\t':
			dst = append(dst, `\t`...)
		case r < 0x20 || r >= 0x80 && r <= 0xffff:
			dst = u(dst, r)
		case r < 0x80:
			dst = append(dst, byte(r))
		default:
			r1, r2 := utf16.EncodeRune(r)
			dst = u(u(dst, r1), r2)
		}
	}
	return append(dst, '"')
}

// baseSign returns the platform's url value for the signed bytes b: characters 2–9 of md5's hex.
func baseSign(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])[1:9]
}

// baseBody returns the POST body of the members kv: signed, with url added last.
func baseBody(kv ...string) []byte {
	b := phpObject(make([]byte, 0, 512), kv...)
	sig := baseSign(b)
	return append(append(append(b[:len(b)-1], `,"url":"`...), sig...), `"}`...)
}

// params returns the members kv as Params, the SDK's way: pageIndex and pageSize as integers, as
// ListOptions sets them (they are sent as text all the same).
func params(kv ...string) *Params {
	p := NewParams()
	for i := 0; i < len(kv); i += 2 {
		if n, err := strconv.Atoi(kv[i+1]); err == nil && strings.HasPrefix(kv[i], "page") {
			p.Set(kv[i], n)
			continue
		}
		p.Set(kv[i], kv[i+1])
	}
	return p
}

// common is the session's user_sn and api_key, which open every call's parameters.
func common() []string { return []string{"user_sn", testUserSN, "api_key", testAPIKey} }

// signCase is a parameter list Sign is measured on.
type signCase struct {
	name string
	kv   []string
}

func signCases() []signCase {
	return []signCase{
		{"params=1", signParams(1)}, {"params=10", signParams(10)}, {"params=60", signParams(60)},
		{"chinese=1000", chineseParams(1000)}, {"chinese=10000", chineseParams(10_000)},
	}
}

// signParams returns n parameters of a typical call: a crmList filter's members, repeated under
// numbered names past the tenth.
func signParams(n int) []string {
	base := slices.Concat(common(), []string{"start_create_at", "2024-08-01 00:00:00", "end_create_at", "2024-10-08 23:59:59",
		"dial_task_main_sn", "dial_task_main_sn|1427a04cae36a5b7161c0b04b9206fa4", "source", "回访任务",
		"pageIndex", "0", "pageSize", "1000", "phone", "13800000000", "project_sn", "projects|d98f3c1a5e7b9d2f4a6c8e0b1d3f5a7c"})
	var kv []string
	for i := range n {
		k, v := base[2*(i%10)], base[2*(i%10)+1]
		if i >= 10 {
			k += "_" + strconv.Itoa(i/10)
		}
		kv = append(kv, k, v)
	}
	return kv
}

// chineseParams returns the common parameters and a note of n Chinese characters (full-width
// punctuation included), each of which PHP escapes as \uXXXX.
func chineseParams(n int) []string {
	phrase := []rune("您好,这里是客户回访中心,请问您对我们上个月的服务满意吗?")
	note := make([]rune, n)
	for i := range note {
		note[i] = phrase[i%len(phrase)]
	}
	return append(common(), "remark", string(note))
}

// BenchmarkSign: Sign against md5 of exactly the bytes it signs — the floor, since a signer must
// at least hash.
func BenchmarkSign(b *testing.B) {
	for _, sc := range signCases() {
		b.Run(sc.name, func(b *testing.B) {
			p, signed := params(sc.kv...), phpObject(nil, sc.kv...)
			race(b, func(b *testing.B) {
				defer cpuPerOp(b)()
				for b.Loop() {
					if _, err := Sign(p); err != nil {
						b.Fatal(err)
					}
				}
			}, func(b *testing.B) {
				defer cpuPerOp(b)()
				for b.Loop() {
					md5.Sum(signed)
				}
			})
		})
	}
}

// crmListCall is a crmList call's own parameters (the client adds user_sn and api_key).
func crmListCall() []string {
	return []string{"start_create_at", "2024-08-01 00:00:00", "end_create_at", "2024-10-08 23:59:59",
		"dial_task_main_sn", "dial_task_main_sn|1427a04cae36a5b7161c0b04b9206fa4", "source", "回访任务", "pageIndex", "0", "pageSize", "1000"}
}

// BenchmarkRequestBody: the client's own request path for a crmList call — the session's user_sn
// and api_key (encoded, and md5's state after them, kept once per session), then the call's
// members encoded and hashed into a body allocated once, url appended — against md5 of the whole
// body it sends.
func BenchmarkRequestBody(b *testing.B) {
	sess := &Session{UserSN: testUserSN, APIKey: NewSecret(testAPIKey)}
	call := params(crmListCall()...)
	body := baseBody(slices.Concat(common(), crmListCall())...)
	var signer bodySigner
	race(b, func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			if _, err := signer.signedBody(sess, call); err != nil {
				b.Fatal(err)
			}
		}
	}, func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			md5.Sum(body)
		}
	})
}

// crmListReply returns a crmList reply of n rows, PHP-encoded as the platform sends it, and its
// data member. The rows are the 6.6.2 sample with their own sn and phone.
func crmListReply(n int) (body, data []byte) {
	rows := make([]string, n)
	for i := range rows {
		rows[i] = string(pushsample.CallRecord(fmt.Sprintf("account|%032x", i), fmt.Sprintf("138%08d", i)))
	}
	data = []byte(`{"total":` + strconv.Itoa(n) + `,"list":[` + strings.Join(rows, ",") + `]}`)
	return []byte(`{"code":0,"msg":"ok","data":` + string(data) + `}`), data
}

// plainRecord is CallRecord's json tags on plain types that fit the data: what encoding/json
// decodes the same bytes into.
type plainRecord struct {
	ID                 int64   `json:"id"`
	SN                 string  `json:"sn"`
	Phone              string  `json:"phone"`
	Name               string  `json:"name"`
	UserSN             string  `json:"user_sn"`
	UserName           string  `json:"user_name"`
	ParentSN           string  `json:"parent_sn"`
	TeamSN             string  `json:"team_sn"`
	TeamName           string  `json:"team_name"`
	TaskSN             string  `json:"dial_task_main_sn"`
	Source             string  `json:"source"`
	ProjectSN          string  `json:"project_sn"`
	ProjectCaption     string  `json:"project_caption"`
	Address            string  `json:"address"`
	Unit               string  `json:"unit"`
	UnitPhone          string  `json:"unit_phone"`
	RecordPath         string  `json:"recordpath"`
	RecordFile         string  `json:"recordfile"`
	Status             string  `json:"status"`
	StatusManual       string  `json:"status_manual"`
	Operator           string  `json:"operator"`
	Mark               string  `json:"mark"`
	HangupSerial       string  `json:"hangup_serial_number"`
	TalkTime           int     `json:"talktimes"`
	TurnCount          int     `json:"turn_count"`
	AsksCount          int     `json:"asks_count"`
	Score              float64 `json:"score"`
	TransferredToAgent int     `json:"is_transfertoagent"`
	ScreenPop          int     `json:"fs_push_screens"`
	CreatedAt          string  `json:"created_at"`
	UpdatedAt          string  `json:"updated_at"`
	StartedAt          string  `json:"started_at"`
	ConnectedAt        string  `json:"connected_at"`
	DisconnectedAt     string  `json:"disconnected_at"`
	PushedAt           string  `json:"pushed_at"`
	ListenedAt         string  `json:"listened_at"`
	InterventionAt     string  `json:"intervention_at"`
}

// plainReply is a crmList reply as encoding/json decodes it into plain types; its code may come
// as a number or as text, as PHP sends both.
type plainReply struct {
	Code json.RawMessage `json:"code"`
	Msg  string          `json:"msg"`
	Data struct {
		Total int           `json:"total"`
		List  []plainRecord `json:"list"`
	} `json:"data"`
}

// okCode reports whether a reply's code is 0, as a number or as text.
func okCode(code json.RawMessage) bool {
	n, err := strconv.Atoi(strings.Trim(string(code), `"`))
	return err == nil && n == 0
}

// pageRows is the size of the crmList page BenchmarkDecodePage decodes (issue 13's figure).
const pageRows = 500

// decodePage decodes a crmList reply as Records.List decodes it: the envelope check, then the codec
// on data.
func decodePage(body []byte) ([]*CallRecord, error) {
	d, apiErr := parseEnvelope(crmListEndpoint, http.StatusOK, body, nil)
	if apiErr != nil {
		return nil, apiErr
	}
	var lp listPage[*CallRecord]
	err := recordPages.Decode(d, &lp)
	return lp.List, err
}

// decodePlain decodes a crmList reply with encoding/json into plainReply and checks its code.
func decodePlain(body []byte) ([]plainRecord, error) {
	var r plainReply
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	if !okCode(r.Code) {
		return nil, fmt.Errorf("code %s: %s", r.Code, r.Msg)
	}
	return r.Data.List, nil
}

// BenchmarkDecodePage: a 500-row crmList reply decoded as Records.List decodes it, against
// encoding/json into plainReply.
func BenchmarkDecodePage(b *testing.B) {
	body, _ := crmListReply(pageRows)
	rows := func(n int, err error) error {
		if err == nil && n != pageRows {
			err = fmt.Errorf("decoded %d rows, want %d", n, pageRows)
		}
		return err
	}
	race(b,
		func(b *testing.B) {
			measure(b, 1, func() error { l, err := decodePage(body); return rows(len(l), err) })
		},
		func(b *testing.B) {
			measure(b, 1, func() error { l, err := decodePlain(body); return rows(len(l), err) })
		})
}

// TestBenchBaselines checks that the baselines do the SDK's work: the hand-written encoder writes
// the bytes Sign signs and the client sends, and both page decoders read the same rows. The HTTP
// baselines are checked in TestBenchHTTPBaselines.
func TestBenchBaselines(t *testing.T) {
	t.Run("the baseline's encoder writes what the SDK signs", func(t *testing.T) {
		for _, sc := range signCases() {
			signed, err := params(sc.kv...).MarshalJSON()
			require.NoError(t, err)
			assert.Equal(t, string(signed), string(phpObject(nil, sc.kv...)), sc.name)
			sig, err := Sign(params(sc.kv...))
			require.NoError(t, err)
			assert.Equal(t, baseSign(signed), sig, sc.name)
		}
		assert.Len(t, signParams(60), 120)
		assert.Equal(t, 10_000, len([]rune(chineseParams(10_000)[5])))
		odd := []string{"a/\"\\", "\b\f\n\r\t\x01\x7f", "é😀", "<>&'"}
		want, err := params(odd...).MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, string(want), string(phpObject(nil, odd...)), "every escape")
	})
	t.Run("the request body is the client's", func(t *testing.T) {
		var signer bodySigner
		got, err := signer.signedBody(&Session{UserSN: testUserSN, APIKey: NewSecret(testAPIKey)}, params(crmListCall()...))
		require.NoError(t, err)
		assert.Equal(t, string(baseBody(slices.Concat(common(), crmListCall())...)), string(got))
	})
	t.Run("page decoders read the same rows", func(t *testing.T) {
		body, _ := crmListReply(pageRows)
		recs, err := decodePage(body)
		require.NoError(t, err)
		plain, err := decodePlain(body)
		require.NoError(t, err)
		require.Len(t, recs, pageRows)
		require.Len(t, plain, pageRows)
		for i, r := range recs {
			p := plain[i]
			assert.Equal(t, []any{p.ID, p.SN, p.Phone, p.Name, p.TalkTime, p.CreatedAt, p.RecordFile},
				[]any{r.ID, r.SN, r.Phone, r.Name, r.TalkTime, platformTime(r.CreatedAt), r.RecordFile}, "row %d", i)
		}
		assert.Empty(t, recs[0].Extra, "every member has a field in CallRecord and in plainRecord")
		_, err = decodePlain([]byte(`{"code":"20005","msg":"expired"}`))
		require.ErrorContains(t, err, "code \"20005\"", "the plain decoder checks the code")
	})
}
