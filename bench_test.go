package digelao

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/benchkit"
	"github.com/digelao-go/digelao/internal/pushsample"
)

// TestBenchmarks measures the SDK against fair baselines with the interleaved method of
// internal/benchkit and writes the tables of BENCHMARKS.md: scripts/benchmarks.sh runs it. It runs
// only when DIGELAO_BENCH is set; DIGELAO_BENCH_MD names the file whose marked blocks it rewrites
// (otherwise the tables go to stdout only). Run one table with -run 'TestBenchmarks/sign'.
// Nothing here asserts a time: a target missed is reported, not failed.
func TestBenchmarks(t *testing.T) {
	if os.Getenv("DIGELAO_BENCH") == "" {
		t.Skip("measurements run only with DIGELAO_BENCH=1 (scripts/benchmarks.sh)")
	}
	if os.Getenv(importRSSChild) != "" {
		measureImportRSS(t)
		return
	}
	rep := &benchReport{
		run:    time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		blocks: map[string]string{},
	}
	if rev := os.Getenv("DIGELAO_BENCH_REV"); rev != "" {
		rep.run += ", commit " + rev
	}
	rep.machine = benchkit.Machine()
	all := true
	for _, table := range []struct {
		name    string
		measure func(*testing.T, *benchReport)
	}{
		{"sign", benchSign},
		{"roundtrip", benchRoundTrip},
		{"push", benchPush},
		{"import", benchImport},
		{"page", benchPage},
		{"download", benchDownload},
		{"sync", benchSync},
	} {
		ran := false
		t.Run(table.name, func(t *testing.T) {
			ran = true
			table.measure(t, rep)
		})
		all = all && ran
	}
	if t.Failed() {
		return
	}
	if all { // the summary only when every table was measured in this run
		rep.add("targets", rep.targetTable())
	}
	rep.write(t, os.Getenv("DIGELAO_BENCH_MD"))
}

// benchReport collects the tables of one run.
type benchReport struct {
	machine, run string
	names        []string
	blocks       map[string]string
	targets      []benchkit.Target
}

func (rep *benchReport) add(name, block string) {
	rep.names = append(rep.names, name)
	rep.blocks[name] = block
}

// method is the line above each table: how it was measured, where and when. each says what every
// candidate does in a round.
func (rep *benchReport) method(rounds int, each string) string {
	return fmt.Sprintf("_Measured interleaved: %d rounds; in each round every candidate runs %s, in an order that "+
		"rotates from round to round, after a garbage collection. Ratios are medians of the per-round ratios of "+
		"wall-clock time, with the quartiles [Q1–Q3]; \"by CPU time\" is the same for the CPU time of the process. "+
		"Times, allocations and bytes are medians over the rounds. Machine: %s; load average %s as the table "+
		"started. Run %s._\n\n", rounds, each, rep.machine, benchkit.Load(), rep.run)
}

// about says how long a candidate runs in a round of cfg, and from how many goroutines.
func about(cfg benchkit.Config) string {
	return fmt.Sprintf("for about %s from %s", cfg.Slice, goroutines(max(cfg.Goroutines, 1)))
}

func (rep *benchReport) target(tg benchkit.Target) benchkit.Target {
	rep.targets = append(rep.targets, tg)
	return tg
}

func (rep *benchReport) targetTable() string {
	var b strings.Builder
	fmt.Fprintf(&b, "_Machine: %s. Run %s. Each table below gives its method, rounds and load._\n\n", rep.machine, rep.run)
	b.WriteString("| job | target | measured: median [Q1–Q3] | by CPU time | |\n|---|---|---|---|---|\n")
	for _, tg := range rep.targets {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", tg.Job, tg.Want, tg.Got, tg.CPU, tg.Verdict())
	}
	return b.String()
}

// write prints the tables and, when path is set, puts each into its block of that file.
func (rep *benchReport) write(t *testing.T, path string) {
	for _, name := range rep.names {
		fmt.Printf("\n<!-- bench:%s -->\n%s<!-- /bench:%s -->\n", name, rep.blocks[name], name)
	}
	if path == "" {
		return
	}
	doc, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, name := range rep.names {
		doc, err = benchkit.Splice(doc, name, rep.blocks[name])
		require.NoError(t, err)
	}
	require.NoError(t, os.WriteFile(path, doc, 0o644)) //nolint:gosec // a document of the repository
}

// compare runs benchkit.Compare and fails the test on an error of a candidate.
func compare(t *testing.T, cfg benchkit.Config, cands ...benchkit.Candidate) *benchkit.Result {
	t.Helper()
	res, err := benchkit.Compare(cfg, cands...)
	require.NoError(t, err)
	return res
}

// benchParams is a typical call: the common parameters and a crmList filter with Chinese text.
func benchParams() *Params {
	return NewParams().Set("user_sn", testUserSN).Set("api_key", testAPIKey).
		Set("start_create_at", "2024-08-01 00:00:00").Set("end_create_at", "2024-10-08 23:59:59").
		Set("dial_task_main_sn", "dial_task_main_sn|1427a04cae36a5b7161c0b04b9206fa4").
		Set("source", "回访任务").Set("pageIndex", 0).Set("pageSize", 1000)
}

// crmListCall is benchParams without the common parameters, which the client adds.
func crmListCall() *Params {
	p := benchParams()
	return &Params{keys: p.keys[2:], vals: p.vals[2:]}
}

// signCase is a parameter list Sign is measured on, with its bound (÷ md5 of the same bytes).
type signCase struct {
	name  string
	p     *Params
	bound float64
}

func signCases() []signCase {
	return []signCase{
		{"1 param", signParams(1), 1.6},
		{"10 params", signParams(10), 1.6},
		{"60 params", signParams(60), 1.6},
		{"1,000 Chinese characters", chineseParams(1000), 1.7},
		{"10,000 Chinese characters", chineseParams(10_000), 1.7},
	}
}

// signParams returns n parameters of a typical call: benchParams' members and two more, repeated
// under numbered names past the tenth.
func signParams(n int) *Params {
	base := benchParams().Set("phone", "13800000000").Set("project_sn", "projects|d98f3c1a5e7b9d2f4a6c8e0b1d3f5a7c")
	p := NewParams()
	for i := range n {
		k := base.keys[i%base.Len()]
		if i >= base.Len() {
			k += "_" + strconv.Itoa(i/base.Len())
		}
		p.Set(k, base.vals[i%base.Len()])
	}
	return p
}

// chineseParams returns the common parameters and a note of n Chinese characters (full-width
// punctuation included), each of which PHP escapes as \uXXXX.
func chineseParams(n int) *Params {
	phrase := []rune("您好,这里是客户回访中心,请问您对我们上个月的服务满意吗?")
	note := make([]rune, n)
	for i := range note {
		note[i] = phrase[i%len(phrase)]
	}
	return NewParams().Set("user_sn", testUserSN).Set("api_key", testAPIKey).Set("remark", string(note))
}

// benchSign: Sign against md5 of exactly the bytes it signs (md5.Sum alone, the floor), and the
// client's own request path against md5 of the whole body it sends.
func benchSign(t *testing.T, rep *benchReport) {
	cfg := benchkit.Config{Rounds: 21, Slice: 40 * time.Millisecond}
	var b strings.Builder
	b.WriteString(rep.method(cfg.Rounds, about(cfg)))
	b.WriteString("| signed | bytes hashed | SDK | md5 of the same bytes | SDK ÷ md5 | by CPU time | SDK allocs/op | SDK B/op | target | |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	row := func(name string, size int, res *benchkit.Result, tg benchkit.Target) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | **%s** | %s | %s | %s | %s | %s |\n", name, benchkit.Count(float64(size)),
			benchkit.Duration(res.Time("sdk").Median), benchkit.Duration(res.Time("md5").Median),
			benchkit.FormatSpread(res.Ratio("sdk", "md5"), benchkit.Ratio), tg.CPU,
			benchkit.Count(res.Allocs("sdk").Median), benchkit.Count(res.Bytes("sdk").Median), tg.Want, tg.Verdict())
	}
	for _, sc := range signCases() {
		signed, err := sc.p.MarshalJSON()
		require.NoError(t, err)
		var sig string
		var sum [md5.Size]byte
		res := compare(t, cfg,
			benchkit.Candidate{Name: "sdk", Op: func() (err error) { sig, err = Sign(sc.p); return err }},
			benchkit.Candidate{Name: "md5", Op: func() error { sum = md5.Sum(signed); return nil }})
		require.Equal(t, hex.EncodeToString(sum[:])[1:9], sig) // the results of the last operations
		allocs := res.Allocs("sdk").Median
		tg := rep.target(benchkit.Bound("`Sign` ÷ md5 of the same bytes, "+sc.name, res.Ratio("sdk", "md5"), false, sc.bound, benchkit.Ratio).
			WithCPU(res.CPURatio("sdk", "md5")).And("1 allocation", benchkit.Count(allocs)+" allocs/op", allocs < 1.05))
		row("`Sign`, "+sc.name, len(signed), res, tg)
	}
	sess := &Session{UserSN: testUserSN, APIKey: NewSecret(testAPIKey)}
	call := crmListCall()
	var signer bodySigner // as Client.send signs a POST: the session's prefix encoded and hashed once
	body, err := signer.signedBody(sess, call)
	require.NoError(t, err)
	var out []byte
	var sum [md5.Size]byte
	res := compare(t, cfg,
		benchkit.Candidate{Name: "sdk", Op: func() (err error) { out, err = signer.signedBody(sess, call); return err }},
		benchkit.Candidate{Name: "md5", Op: func() error { sum = md5.Sum(body); return nil }})
	require.Equal(t, body, out)
	require.Equal(t, md5.Sum(body), sum)
	tg := rep.target(benchkit.Bound("the client's request path (a crmList call with the session's user_sn and api_key) ÷ md5 of the whole body",
		res.Ratio("sdk", "md5"), false, 1.3, benchkit.Ratio).WithCPU(res.CPURatio("sdk", "md5")))
	row("the client's request body for a crmList call (merge, encode, sign, append url) vs md5 of the whole body", len(body), res, tg)
	rep.add("sign", b.String())
}

// pageRows is the size of the crmList page measured; DefaultAllPageSize is the same.
const pageRows = 500

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

type plainPage struct {
	Total int           `json:"total"`
	List  []plainRecord `json:"list"`
}

type plainReply struct {
	Code int       `json:"code"`
	Msg  string    `json:"msg"`
	Data plainPage `json:"data"`
}

// pageDecoders returns the candidates of the page benchmark: the whole reply as Records.List
// decodes it (the envelope check, then the codec on data) against encoding/json decoding the same
// bytes into plainReply; and the data member alone, through the codec and through encoding/json.
func pageDecoders(body, data []byte) (reply, dataOnly [2]benchkit.Candidate) {
	sdk := func(b []byte) ([]*CallRecord, error) {
		var lp listPage[*CallRecord]
		if err := recordPages.Decode(b, &lp); err != nil {
			return nil, err
		}
		return lp.page().items, nil
	}
	check := func(n int, err error) error {
		if err == nil && n != pageRows {
			err = fmt.Errorf("decoded %d rows, want %d", n, pageRows)
		}
		return err
	}
	reply = [2]benchkit.Candidate{
		{Name: "sdk", Op: func() error {
			d, apiErr := parseEnvelope(crmListEndpoint, http.StatusOK, body, nil)
			if apiErr != nil {
				return apiErr
			}
			items, err := sdk(d)
			return check(len(items), err)
		}},
		{Name: "json", Op: func() error {
			var r plainReply
			err := json.Unmarshal(body, &r)
			if err == nil && r.Code != 0 {
				err = fmt.Errorf("code %d", r.Code)
			}
			return check(len(r.Data.List), err)
		}},
	}
	dataOnly = [2]benchkit.Candidate{
		{Name: "sdk", Op: func() error { items, err := sdk(data); return check(len(items), err) }},
		{Name: "json", Op: func() error { var p plainPage; err := json.Unmarshal(data, &p); return check(len(p.List), err) }},
	}
	return reply, dataOnly
}

// benchPage: decoding a 500-row crmList page, the SDK's way against encoding/json into a plain
// struct with the same tags (issue 13's target, at most 1.5×).
func benchPage(t *testing.T, rep *benchReport) {
	cfg := benchkit.Config{Rounds: 21, Slice: 100 * time.Millisecond}
	body, data := crmListReply(pageRows)
	reply, dataOnly := pageDecoders(body, data)
	var b strings.Builder
	b.WriteString(rep.method(cfg.Rounds, about(cfg)))
	fmt.Fprintf(&b, "A crmList reply of %d rows, %s bytes (the 6.6.2 sample's fields, PHP-encoded).\n\n", pageRows, benchkit.Count(float64(len(body))))
	b.WriteString("| decoded | SDK | `encoding/json` into a plain struct | SDK ÷ plain | by CPU time | SDK allocs/op, B/op | plain allocs/op, B/op | target | |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range []struct {
		name  string
		cands [2]benchkit.Candidate
		goal  bool
	}{
		{"the whole reply, as `Records.List` decodes it (envelope check, then the codec on `data`)", reply, true},
		{"`data` alone (context: the codec without the envelope check)", dataOnly, false},
	} {
		res := compare(t, cfg, c.cands[:]...)
		tg := benchkit.Bound("decoding a 500-row crmList page ÷ `encoding/json` into a plain struct (issue 13)",
			res.Ratio("sdk", "json"), false, 1.5, benchkit.Ratio).WithCPU(res.CPURatio("sdk", "json"))
		want, verdict := "(context)", ""
		if c.goal {
			want, verdict = rep.target(tg).Want, tg.Verdict()
		}
		fmt.Fprintf(&b, "| %s | %s | %s | **%s** | %s | %s, %s | %s, %s | %s | %s |\n", c.name,
			benchkit.Duration(res.Time("sdk").Median), benchkit.Duration(res.Time("json").Median), tg.Got, tg.CPU,
			benchkit.Count(res.Allocs("sdk").Median), benchkit.Count(res.Bytes("sdk").Median),
			benchkit.Count(res.Allocs("json").Median), benchkit.Count(res.Bytes("json").Median), want, verdict)
	}
	rep.add("page", b.String())
}

// TestBenchBaselines checks that the benchmarks compare like with like: the md5 baselines hash the
// bytes signed, and both page decoders read the same rows. The HTTP baselines are checked in
// TestBenchHTTPBaselines.
func TestBenchBaselines(t *testing.T) {
	t.Run("md5 hashes exactly the bytes Sign signs", func(t *testing.T) {
		for _, sc := range signCases() {
			signed, err := sc.p.MarshalJSON()
			require.NoError(t, err)
			sig, err := Sign(sc.p)
			require.NoError(t, err)
			assert.Equal(t, signBytes(signed), sig, sc.name)
		}
		assert.Equal(t, 1, signParams(1).Len())
		assert.Equal(t, 60, signParams(60).Len())
		v, _ := chineseParams(10_000).Get("remark")
		assert.Equal(t, 10_000, len([]rune(v.(string))))
	})
	t.Run("page decoders read the same rows", func(t *testing.T) {
		body, data := crmListReply(pageRows)
		reply, dataOnly := pageDecoders(body, data)
		for _, c := range append(reply[:], dataOnly[:]...) {
			require.NoError(t, c.Op(), c.Name)
		}
		d, apiErr := parseEnvelope(crmListEndpoint, http.StatusOK, body, nil)
		require.Nil(t, apiErr)
		var lp listPage[*CallRecord]
		require.NoError(t, recordPages.Decode(d, &lp))
		var plain plainReply
		require.NoError(t, json.Unmarshal(body, &plain))
		require.Len(t, lp.List, pageRows)
		require.Len(t, plain.Data.List, pageRows)
		for i, r := range lp.List {
			p := plain.Data.List[i]
			assert.Equal(t, []any{p.ID, p.SN, p.Phone, p.Name, p.TalkTime, p.CreatedAt, p.RecordFile},
				[]any{r.ID, r.SN, r.Phone, r.Name, r.TalkTime, platformTime(r.CreatedAt), r.RecordFile}, "row %d", i)
		}
		assert.Empty(t, lp.List[0].Extra, "every member has a field in CallRecord and in plainRecord")
	})
}
