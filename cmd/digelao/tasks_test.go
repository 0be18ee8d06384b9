package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
)

// createArgs are the arguments of "tasks create" for the fake's template and seat.
func createArgs(name, file string, extra ...string) []string {
	return append([]string{"tasks", "create", "--name", name, "--template", digelaotest.TemplateSN,
		"--seat", digelaotest.SeatSN, "--contacts", file}, extra...)
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

func gbk(t *testing.T, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	require.NoError(t, err)
	return b
}

// TestContactsAsExcelSavesThem: the files Excel writes — CSV UTF-8 with its byte-order mark and
// CRLF lines, CSV in GBK from a Chinese Windows, empty trailing rows, an .xlsx — import with every
// name intact.
func TestContactsAsExcelSavesThem(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, file string
		body       func(t *testing.T) []byte
	}{
		{"bom", "c.csv", func(*testing.T) []byte {
			return []byte("\xef\xbb\xbf电话,姓名,地址\r\n13800138000,张三,北京\r\n13900139000,李四,上海\r\n,,\r\n")
		}},
		{"gbk", "c.csv", func(t *testing.T) []byte {
			return gbk(t, "手机号,客户姓名,地址\r\n13800138000,张三,北京\r\n13900139000,李四,上海\r\n")
		}},
		{"english headers", "c.csv", func(*testing.T) []byte {
			return []byte("Phone,Name,地址\n13800138000,张三,北京\n13900139000,李四,上海\n")
		}},
		{"xlsx", "c.xlsx", func(*testing.T) []byte {
			return digelaotest.Workbook([]string{"电话", "姓名", "地址"}, []string{"13800138000", "张三", "北京"},
				[]string{"13900139000", "李四", "上海"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, vars := fake(t, digelaotest.WithManualTime())
			r := cli(ctx, vars, createArgs("回访", writeFile(t, tc.file, tc.body(t)), "--start")...)
			require.Equal(t, exitOK, r.code, r.stderr)
			assert.Regexp(t, `^task \d+ \(dial_task_main_sn\|`, r.stdout)
			require.NoError(t, srv.Flush(ctx))
			names := map[string]string{}
			for _, rec := range srv.CallRecords() {
				names[rec.Phone] = rec.Name
			}
			assert.Equal(t, map[string]string{"13800138000": "张三", "13900139000": "李四"}, names)
			assertNoSecrets(t, srv, r)
		})
	}
}

func TestContactsThatCannotBeRead(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	for _, tc := range []struct {
		name string
		body []byte
		want []string
	}{
		{"no phone column", []byte("\xef\xbb\xbfName,Mobile Number,备注\nx,13800138000,y\n"),
			[]string{`no phone column among the headers "Name", "Mobile Number", "备注"`, "phone, mobile, tel, 号码", "电话 or 手机"}},
		{"utf-16", []byte("\xff\xfe\x35\x75\xdd\x8b"), []string{"UTF-16", `"CSV UTF-8"`}},
		{"header only", []byte("电话,姓名\n"), []string{"a header row and no contacts"}},
		{"extra fields", []byte("电话\n13800138000,x\n"), []string{"c.csv:2: 2 fields, but the header names 1 column"}},
		{"semicolons", []byte("电话;姓名\n13800138000;张三\n"), []string{"separated by semicolons (电话;姓名)", "CSV UTF-8"}},
	} {
		r := cli(ctx, vars, createArgs("回访", writeFile(t, "c.csv", tc.body))...)
		assert.Equal(t, exitInput, r.code, tc.name)
		assert.Empty(t, r.stdout, tc.name)
		for _, w := range tc.want {
			assert.Contains(t, r.stderr, w, tc.name)
		}
	}
	assert.Empty(t, srv.Requests(), "a file that cannot be read sends nothing")

	// Once the template's columns are known: a column it lacks, a number that is not one.
	r := cli(ctx, vars, createArgs("回访", writeFile(t, "c.csv", []byte("电话,部门\n13800138000,销售\n")))...)
	assert.Equal(t, exitInput, r.code)
	assert.Contains(t, r.stderr, `column "部门" is not one of the template's: "姓名", "电话", "地址", "公司名称", "备注"`)
	r = cli(ctx, vars, createArgs("回访", writeFile(t, "c.csv", gbk(t, "姓名,联系电话\n张三,13800138000\n李四,138-abc\n")))...)
	assert.Equal(t, exitInput, r.code)
	assert.Regexp(t, `c\.csv:3, column "联系电话": "138-abc" is not a phone number`, r.stderr)
	assert.Empty(t, srv.Tasks(), "no task was created")

	// Every row the platform would refuse is named at once, up to 20, and the others counted.
	csv := writeFile(t, "c.csv", []byte("电话,姓名\n13800138000,张三\n+8613900139000,李四\n1390013900a,王五\n"))
	r = cli(ctx, vars, createArgs("回访", csv)...)
	assert.Equal(t, exitInput, r.code, r.stderr)
	assert.Equal(t, "digelao: 2 rows the platform would refuse, so nothing was sent:\n"+
		`  invalid `+csv+`:3, column "电话": "+8613900139000" is not a phone number (5 to 20 digits)`+"\n"+
		`  invalid `+csv+`:4, column "电话": "1390013900a" is not a phone number (5 to 20 digits)`+"\n", r.stderr)
	var many strings.Builder
	many.WriteString("电话\n13800138000\n")
	for i := range 25 {
		fmt.Fprintf(&many, "x%d\n", i)
	}
	r = cli(ctx, vars, createArgs("回访", writeFile(t, "c.csv", []byte(many.String())))...)
	assert.Equal(t, exitInput, r.code, r.stderr)
	assert.Contains(t, r.stderr, "digelao: 25 rows the platform would refuse")
	assert.Equal(t, 20, strings.Count(r.stderr, "is not a phone number"), "the first 20")
	assert.Contains(t, r.stderr, `c.csv:22, column "电话": "x19"`+" is not a phone number (5 to 20 digits)\n  … and 5 more\n")
	assert.Empty(t, srv.Tasks(), "no task was created")

	// A template without a column for the number takes no contacts; the command says so.
	srv, vars = fake(t, digelaotest.WithTemplate(digelaotest.Template{SN: "projects|nophone", Name: "无号码", Company: "示例科技",
		Columns: []string{"姓名", "地址"}}))
	r = cli(ctx, vars, "tasks", "create", "--name", "回访", "--template", "projects|nophone", "--seat", digelaotest.SeatSN,
		"--contacts", writeFile(t, "c.csv", []byte("电话,姓名\n13800138000,张三\n")))
	assert.Equal(t, exitPlatform, r.code, r.stderr)
	assert.Contains(t, r.stderr, "template projects|nophone has no column for the number (电话 or 手机)")
	assert.NotContains(t, r.stderr, "Columns")
	assert.Empty(t, srv.Tasks())
}

func TestTemplates(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	list := cli(ctx, vars, "templates", "list")
	require.Equal(t, exitOK, list.code, list.stderr)
	assert.Regexp(t, regexp.QuoteMeta(digelaotest.TemplateSN)+` +`+digelaotest.TemplateName, list.stdout)

	lines := cli(ctx, vars, "templates", "list", "--json")
	require.Equal(t, exitOK, lines.code, lines.stderr)
	c, err := srv.Client()
	require.NoError(t, err)
	want, err := c.Templates.Names(ctx)
	require.NoError(t, err)
	assertJSONLines(t, want, lines.stdout)

	cols := cli(ctx, vars, "templates", "columns", digelaotest.TemplateSN)
	require.Equal(t, exitOK, cols.code, cols.stderr)
	assert.Regexp(t, `(?m)^电话 +yes$`, cols.stdout)
	assert.Regexp(t, `(?m)^姓名 +-$`, cols.stdout)

	unknown := cli(ctx, vars, "templates", "columns", "projects|nope")
	assert.Equal(t, exitPlatform, unknown.code)
	assert.Contains(t, unknown.stderr, "digelao templates list")
	assertUsage(t, cli(ctx, vars, "templates", "columns"), "accepts 1 arg(s)")
}

// assertJSONLines checks that out is one line per value, each json.Marshal of the SDK's value.
func assertJSONLines[T any](t *testing.T, want []T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, len(want), out)
	for i, w := range want {
		b, err := json.Marshal(w)
		require.NoError(t, err)
		assert.JSONEq(t, string(b), lines[i])
	}
}

// TestAppendToATaskThePlatformDoesNotKnow: the platform answers 20002 to contacts for a task sn it
// does not know; the error names --append-to, counts contacts from 1, and says "digelao: " once.
func TestAppendToATaskThePlatformDoesNotKnow(t *testing.T) {
	ctx := context.Background()
	_, vars := fake(t)
	csv := writeFile(t, "c.csv", []byte("电话\n13800138000\n"))
	r := cli(ctx, vars, createArgs("回访", csv, "--append-to", "dial_task_main_sn|nope")...)
	assert.Equal(t, exitPlatform, r.code, r.stderr)
	assert.Equal(t, 1, strings.Count(r.stderr, "digelao: "), "the error once: %s", r.stderr)
	assert.Contains(t, r.stderr, "digelao: --append-to dial_task_main_sn|nope: batch 1 (contacts 1 to 1): POST /api/addJsonOfAsync: code 20002")
	assert.Contains(t, r.stderr, "is it the sn of one of this account's tasks?")
	assert.Empty(t, r.stdout)
}

// pausedAndFinished creates two tasks on a fake: one finished, one paused (not started).
func pausedAndFinished(t *testing.T) (*digelaotest.Server, map[string]string, digelaotest.Task, digelaotest.Task) {
	t.Helper()
	ctx := context.Background()
	srv, vars := fake(t, digelaotest.WithManualTime(), digelaotest.WithOutcomes(func(c digelaotest.Call) digelaotest.Outcome {
		if c.Phone == "13800138000" {
			return digelaotest.Outcome{Connected: true, Grade: "A"}
		}
		return digelaotest.Outcome{Connected: true, Grade: "C"}
	}))
	csv := writeFile(t, "c.csv", []byte("电话,姓名\n13800138000,张三\n13900139000,李四\n"))
	require.Equal(t, exitOK, cli(ctx, vars, createArgs("已完成", csv, "--start")...).code)
	require.Equal(t, exitOK, cli(ctx, vars, createArgs("未开始", csv)...).code)
	require.NoError(t, srv.Flush(ctx))
	tasks := srv.Tasks()
	require.Len(t, tasks, 2)
	require.Equal(t, 1, tasks[0].Status, "finished")
	require.Equal(t, 4, tasks[1].Status, "paused")
	return srv, vars, tasks[0], tasks[1]
}

func TestNoSilentEmptyResults(t *testing.T) {
	ctx := context.Background()
	srv, vars, finished, paused := pausedAndFinished(t)
	for _, status := range []string{"paused", "PAUSED", "4", "暂停发送", describe(digelao.TaskPaused), " paused (4) "} {
		r := cli(ctx, vars, "tasks", "list", "--status", status)
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Contains(t, r.stdout, paused.SN, status)
		assert.NotContains(t, r.stdout, finished.SN, status)
	}
	for _, grade := range []string{"a", "A", "a,b"} {
		r := cli(ctx, vars, "records", "list", "--intent", grade, "--json")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, 1, strings.Count(r.stdout, "\n"), "the one A record for --intent %s: %s", grade, r.stdout)
		assert.Contains(t, r.stdout, "13800138000")
	}
	assertNoSecrets(t, srv)
}

func TestTasksOperateSaysWhatHappened(t *testing.T) {
	ctx := context.Background()
	srv, vars, finished, paused := pausedAndFinished(t)
	id := func(task digelaotest.Task) string { return strconv.FormatInt(task.ID, 10) }

	r := cli(ctx, vars, "tasks", "operate", id(finished), "pause")
	assert.Equal(t, exitPlatform, r.code)
	assert.Contains(t, r.stderr, "the platform answered 操作成功 but did not change task "+id(finished)+": it is still finished (已发送)")

	r = cli(ctx, vars, "tasks", "operate", "99999", "pause")
	assert.Equal(t, exitPlatform, r.code)
	assert.Contains(t, r.stderr, "no task with id 99999")
	assert.NotRegexp(t, `^digelao: .*数据格式错误 \(malformed data\)`, r.stderr, "not the bare code")

	r = cli(ctx, vars, "tasks", "operate", id(paused), "RESUME")
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "task "+id(paused)+": RESUME: paused (暂停发送) → running (发送中)\n", r.stdout)

	r = cli(ctx, vars, "tasks", "operate", id(finished), "delete")
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "task "+id(finished)+": deleted\n", r.stdout)
	assert.True(t, srv.Tasks()[0].Deleted)
}

func TestOutput(t *testing.T) {
	ctx := context.Background()
	srv, vars, _, _ := pausedAndFinished(t)
	c, err := srv.Client()
	require.NoError(t, err)

	// --json: json.Marshal of the SDK's type, a line each.
	tasks, _, err := c.Tasks.List(ctx, &digelao.TaskListOptions{ListOptions: digelao.ListOptions{PerPage: 100}})
	require.NoError(t, err)
	r := cli(ctx, vars, "tasks", "list", "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	assertJSONLines(t, tasks, r.stdout)
	records, _, err := c.Records.List(ctx, &digelao.RecordListOptions{ListOptions: digelao.ListOptions{PerPage: 100}})
	require.NoError(t, err)
	r = cli(ctx, vars, "records", "list", "--json", "--all")
	require.Equal(t, exitOK, r.code, r.stderr)
	assertJSONLines(t, records, r.stdout)

	// Tables: China time, labelled; columns aligned by display width, Chinese names included.
	r = cli(ctx, vars, "tasks", "list")
	require.Equal(t, exitOK, r.code, r.stderr)
	lines := strings.Split(r.stdout, "\n")
	assert.Contains(t, lines[0], "CREATED (UTC+8)")
	at := displayWidth(lines[0][:strings.Index(lines[0], "STATUS")])
	for _, l := range lines[1:3] {
		i := strings.Index(l, "paused (暂停发送)")
		if i < 0 {
			i = strings.Index(l, "finished (已发送)")
		}
		require.Positive(t, i, l)
		assert.Equal(t, at, displayWidth(l[:i]), "STATUS starts in the same cell: %q", l)
	}
	assert.Contains(t, r.stdout, tasks[0].CreatedAt.In(chinaTime).Format(time.DateTime))
	assert.Contains(t, r.stdout, "2 of 2 tasks created today (China time")
}

func TestDisplayWidth(t *testing.T) {
	for s, w := range map[string]int{"abc": 3, "张三": 4, "（）": 4, "e\u0301": 1, "한국": 4, "": 0} {
		assert.Equal(t, w, displayWidth(s), s)
	}
}

// bigCSV writes a contacts CSV of n mobile numbers, each once.
func bigCSV(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("电话,姓名\n")
	for i := range n {
		fmt.Fprintf(&b, "139%08d,客户%d\n", i, i)
	}
	return writeFile(t, "big.csv", []byte(b.String()))
}

// TestCreateInBatches: more than 30,000 contacts go in batches, each reported; with --wait each
// batch's import is waited for before the next is sent, with progress on a terminal.
func TestCreateInBatches(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t, digelaotest.WithTimeScale(10*time.Millisecond))
	file := bigCSV(t, 65000)

	r := cliIn(ctx, onTerminal(), vars, createArgs("大批", file, "--wait")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	tasks := srv.Tasks()
	require.Len(t, tasks, 1, "one task: the later batches are appended to it")
	id, sn := tasks[0].ID, tasks[0].SN
	assert.Equal(t, 65000, tasks[0].Numbers)
	want := fmt.Sprintf(`batch 1 of 3: contacts 1 to 30000 (%[1]s:2 to 30001) sent to task %[2]d (%[3]s); 30000 imported
batch 2 of 3: contacts 30001 to 60000 (%[1]s:30002 to 60001) sent; 30000 imported
batch 3 of 3: contacts 60001 to 65000 (%[1]s:60002 to 65001) sent; 5000 imported
task %[2]d (%[3]s): 65000 contacts from %[1]s (UTF-8) in 3 batches: 65000 imported
task %[2]d does not call until started (no --start): digelao tasks operate %[2]d resume
`, file, id, sn)
	assert.Equal(t, want, r.stdout)
	for _, s := range []string{"sending batch 1 of 3 (contacts 1 to 30000)…", "sending batch 3 of 3 (contacts 60001 to 65000)…",
		"batch 2 of 3: waiting for the import…"} {
		assert.Contains(t, r.stderr, s, "progress on a terminal")
	}
	var appends []string
	for _, req := range srv.Requests() {
		if req.Path == "/api/addJsonOfAsync" {
			v, _ := req.Get("dial_task_main_sn")
			appends = append(appends, v)
		}
	}
	assert.Equal(t, []string{"", sn, sn}, appends)

	// Piped and without --wait: the batches and the task, no progress.
	r = cli(ctx, vars, createArgs("大批二", bigCSV(t, 30001), "--start")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3, r.stdout)
	assert.Regexp(t, `^batch 1 of 2: contacts 1 to 30000 \(.*:2 to 30001\) sent to task \d+ \(dial_task_main_sn\|\w+\)$`, lines[0])
	assert.Regexp(t, `^batch 2 of 2: contacts 30001 to 30001 \(.*:30002 to 30002\) sent$`, lines[1])
	assert.Regexp(t, `^task \d+ \(dial_task_main_sn\|\w+\): 30001 of 30001 contacts from .* sent for import in 2 batches$`, lines[2])
	assert.NotContains(t, r.stdout, "does not call until started", "--start")
	assertNoSecrets(t, srv, r)
}

// TestCreateWaitSaysWhatWasLeftOut: --wait shows what the platform imported and why it left
// contacts out; odd numbers are named before anything is sent.
func TestCreateWaitSaysWhatWasLeftOut(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t, digelaotest.WithTimeScale(10*time.Millisecond))
	require.Equal(t, exitOK, cli(ctx, vars, "blacklist", "add", "13800138000").code)
	file := writeFile(t, "c.csv", []byte("电话,姓名\n13800138000,张三\n13900139000,李四\n139-0013-9000,李四\n12345,王五\n075512345678,赵六\n"))
	r := cli(ctx, vars, createArgs("回访", file, "--wait")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `^task \d+ \(dial_task_main_sn\|\w+\): 5 contacts from .*c\.csv \(UTF-8\) in 1 batch: `+
		`3 imported, 2 left out: 1 on the do-not-call list, 1 repeated in the task\n`+
		`task \d+ does not call until started \(no --start\): digelao tasks operate \d+ resume\n$`, r.stdout)
	assert.Equal(t, "warning: 1 number is neither a Chinese mobile number (1[3-9] and 9 digits) nor a fixed-line number "+
		"(0, area code, number), and is sent as it is: "+file+":5 12345\n", r.stderr)

	// Said before anything is sent: also when the platform cannot be reached.
	r = cli(ctx, with(vars, "DIGELAO_BASE_URL", "http://127.0.0.1:1", "DIGELAO_TIMEOUT", "2s"), createArgs("回访", file)...)
	assert.Equal(t, exitPlatform, r.code)
	assert.Regexp(t, `^warning: 1 number is neither .*\n`, r.stderr)
	assertNoSecrets(t, srv, r)
}

// TestCreateWaitSaysWhyWorkbookRowsWereRefused: a workbook is read by the platform, yet the rows it
// refuses are explained as a CSV's are, by the template's columns (read once, 5.11).
func TestCreateWaitSaysWhyWorkbookRowsWereRefused(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t, digelaotest.WithTimeScale(10*time.Millisecond))
	file := writeFile(t, "c.xlsx", digelaotest.Workbook([]string{"电话", "姓名"},
		[]string{"13800138000", "张三"}, []string{"", "王五"}))
	r := cli(ctx, vars, createArgs("回访", file, "--wait")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `^task \d+ \(dial_task_main_sn\|\w+\): `+regexp.QuoteMeta(file)+` uploaded: `+
		`1 imported, 1 left out: 1 refused \(listed below\)\n`+
		`rows refused:\n`+
		`  姓名=王五, 电话=, 地址=, 公司名称=, 备注=: the required column "电话" is empty\n`, r.stdout)
	models := 0
	for _, req := range srv.Requests() {
		if req.Path == "/api/exportModel" {
			models++
		}
	}
	assert.Equal(t, 1, models, "the template's columns are read once")
	assertNoSecrets(t, srv, r)
}

func TestRefusedRowsSayWhy(t *testing.T) {
	s := &sheet{path: "c.csv", header: []string{"电话", "姓名"}, phone: 0, name: 1,
		rows: [][]string{{"13800138000", "张三"}, {"12345", "李四"}, {"", "王五"}}, lines: []int{2, 3, 5}}
	im := &contactImport{sheet: s, req: &digelao.CreateTaskRequest{Columns: digelao.Columns{
		{Name: "姓名"}, {Name: "电话", Required: true}, {Name: "地址"}}}}
	assert.Equal(t, "c.csv:3  姓名=李四, 电话=12345, 地址=: not a Chinese mobile or fixed-line number",
		im.describeRow(digelao.RejectedRow{"电话": "12345", "姓名": "李四"}))
	assert.Equal(t, `c.csv:5  姓名=王五, 电话=, 地址=: the required column "电话" is empty`,
		im.describeRow(digelao.RejectedRow{"电话": "", "姓名": "王五"}))
	assert.Equal(t, "c.csv:2  姓名=张三, 电话=138-0013-8000, 地址=北京: refused by the platform, which gives no reason",
		im.describeRow(digelao.RejectedRow{"电话": "138-0013-8000", "姓名": "张三", "地址": "北京"}))
	// Columns unknown: the columns the row has.
	im = &contactImport{req: &digelao.CreateTaskRequest{}}
	assert.Equal(t, "姓名=李四, 电话=12345: not a Chinese mobile or fixed-line number",
		im.describeRow(digelao.RejectedRow{"电话": "12345", "姓名": "李四"}))
}

func TestChinesePhones(t *testing.T) {
	for s, ok := range map[string]bool{
		"13800138000": true, "138 0013 8000": true, "8613800138000": true, "008613800138000": true,
		"01012345678": true, "075512345678": true, "07551234567": true,
		"12345": false, "12800138000": false, "1380013800": false, "10086": false, "0123456789": false,
		"4008001234": false, "138001380001": false, "": false,
	} {
		_, got := chinesePhone(s)
		assert.Equal(t, ok, got, s)
	}
}

// TestJSONWritesWireNamesAndOneTimeFormat: every --json line holds the platform's member names
// (never a Go field name) and every time as "YYYY-MM-DD hh:mm:ss", China time.
func TestJSONWritesWireNamesAndOneTimeFormat(t *testing.T) {
	ctx := context.Background()
	_, vars, _, _ := pausedAndFinished(t)
	require.Equal(t, exitOK, cli(ctx, vars, "blacklist", "add", "13700137000", "--days", "3").code)
	recs := cli(ctx, vars, "records", "list", "--json")
	require.Equal(t, exitOK, recs.code, recs.stderr)
	var rec struct {
		SN          string `json:"sn"`
		ConnectedAt string `json:"connected_at"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.SplitN(recs.stdout, "\n", 2)[0]), &rec))

	goName := regexp.MustCompile(`^[A-Z][A-Za-z]*$`)
	rfc3339 := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d`)
	dateTime := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$`)
	var walk func(path string, v any)
	times := 0
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				assert.NotRegexp(t, goName, k, "%s: a Go field name", path)
				walk(path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x)
			}
		case string:
			assert.NotRegexp(t, rfc3339, v, "%s: one time format", path)
			if dateTime.MatchString(v) {
				times++
			}
		}
	}
	for _, args := range [][]string{
		{"templates", "list"}, {"templates", "columns", digelaotest.TemplateSN}, {"tasks", "list"},
		{"records", "list"}, {"dialogue", rec.SN, rec.ConnectedAt}, {"blacklist", "list"},
		{"accounts", "list"}, {"accounts", "roles"},
	} {
		r := cli(ctx, vars, append(args, "--json")...)
		require.Equal(t, exitOK, r.code, "%q: %s", args, r.stderr)
		require.NotEmpty(t, r.stdout, "%q", args)
		for line := range strings.Lines(r.stdout) {
			var v any
			require.NoError(t, json.Unmarshal([]byte(line), &v), "%q: %s", args, line)
			walk(strings.Join(args, " "), v)
		}
	}
	assert.Positive(t, times, "times were seen")
	debug := cli(ctx, vars, "templates", "list", "--debug")
	require.Equal(t, exitOK, debug.code, debug.stderr)
	assert.Regexp(t, `^time="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d" level=DEBUG`, debug.stderr, "and the log's")
	assert.NotRegexp(t, rfc3339, debug.stderr)

	// A template's columns are written as 5.11 lists them, "*" marking a required one: the header
	// row a contacts file takes.
	cols := cli(ctx, vars, "templates", "columns", digelaotest.TemplateSN, "--json")
	assert.Equal(t, "\"姓名\"\n\"*电话\"\n\"地址\"\n\"公司名称\"\n\"备注\"\n", cols.stdout)
}
