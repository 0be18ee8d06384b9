package digelao

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordsListSendsEveryFilter(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/crmList", "crm_list.json")
	_, _, err := c.Records.List(context.Background(), &RecordListOptions{
		ListOptions: ListOptions{Page: 2, PerPage: 1000},
		CreatedFrom: china("2024-08-01 00:00:00"), CreatedTo: china("2024-10-08 23:59:59"),
		Phone: "13800138000", TaskSN: "dial_task_main_sn|1427", ManualIntents: []IntentGrade{IntentA, IntentB, "C"},
		IDs: []int64{12002, 12003}, ProjectSN: "projects|d98f", NameOrPhone: "张",
		TalkTimeMin: 10, TalkTimeMax: 120, TurnCountMin: 2, ScoreMax: 90, AsksCountMin: 1, AsksCountMax: 5,
		InterventionTimeMin: 3, WarningTimesMax: 4, HangupSerial: "7", QCStatus: "1", ReturnVisit: "0",
		AreaCode: "0755", SeatingAssistance: "1", WarningResults: "w", DynamicLabelling: "d", Mark: "m",
	})
	require.NoError(t, err)
	assertPost(t, got, "/api/crmList", commonJSON+`,"start_create_at":"2024-08-01 00:00:00","end_create_at":"2024-10-08 23:59:59",`+
		`"phone":"13800138000","dial_task_main_sn":"dial_task_main_sn|1427","status_search":"status_manual","status_value":["A","B","C"],`+
		`"ids_json":"[\"12002\",\"12003\"]","project_sn":"projects|d98f","namephone":"\u5f20","talktimes_min":"10","talktimes_max":"120",`+
		`"turn_count_min":"2","score_max":"90","asks_count_min":"1","asks_count_max":"5","fs_intervention_time_min":"3",`+
		`"warning_times_max":"4","hangup_serial_number":"7","qc_status":"1","return_visit":"0","area_code":"0755",`+
		`"seating_assistance":"1","warning_results":"w","dynamic_labelling":"d","mark":"m","pageIndex":"2","pageSize":"1000"}`)

	_, _, err = c.Records.List(context.Background(), &RecordListOptions{Intents: []IntentGrade{IntentA}})
	require.NoError(t, err)
	assertPost(t, got, "/api/crmList", commonJSON+`,"status_search":"status","status_value":["A"],"pageIndex":"0"}`)
}

// TestRecordsListChecksThePhone: a phone filter that is no number would list nothing, as if no
// call had been made; it is refused before sending. A number written with spaces or dashes is
// sent as its digits, as contacts are.
func TestRecordsListChecksThePhone(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	for _, phone := range []string{"abc", "1380013800a", "12"} {
		_, _, err := c.Records.List(context.Background(), &RecordListOptions{Phone: phone})
		assertNothingSent(t, mt, err, phone)
		var ve *ValidationError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, "Phone", ve.Field)
	}
	got := serveReply(t, mt, "POST", "/api/crmList", "crm_list.json")
	_, _, err := c.Records.List(context.Background(), &RecordListOptions{Phone: "138-0013 8000"})
	require.NoError(t, err)
	assertPost(t, got, "/api/crmList", commonJSON+`,"phone":"13800138000","pageIndex":"0"}`)
}

func TestRecordsListDecodesRealisticRows(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	serveReply(t, mt, "POST", "/api/crmList", "crm_list.json")
	recs, total, err := c.Records.List(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, 3, total, `"3"`)
	require.Len(t, recs, 2)
	a, b := recs[0], recs[1]
	assert.Equal(t, "account|a6505ba3e1f24d5c8b7a6f5e4d3c2b1a", a.SN)
	assert.Equal(t, 61, a.TalkTime, `"61"`)
	assert.Equal(t, IntentA, a.Intent())
	assert.Equal(t, "/mnt/record", a.RecordPath)
	assert.True(t, a.ConnectedAt.Equal(time.Date(2024, 10, 22, 1, 35, 38, 0, time.UTC)))
	assert.JSONEq(t, `"88.50"`, string(a.Extra["欠费金额"]), "template columns stay reachable")
	assert.Equal(t, int64(12002), b.ID, "id as a string")
	assert.Empty(t, b.Name, "null name")
	assert.False(t, b.Connected())
	assert.Empty(t, b.RecordFile)

	for name, tc := range map[string]struct {
		opts  *RecordListOptions
		field string // the option the error names
	}{
		"both grades":  {&RecordListOptions{Intents: []IntentGrade{IntentA}, ManualIntents: []IntentGrade{IntentB}}, "Intents"},
		"empty grade":  {&RecordListOptions{Intents: []IntentGrade{""}}, "Intents[0]"},
		"manual grade": {&RecordListOptions{ManualIntents: []IntentGrade{IntentA, " "}}, "ManualIntents[1]"},
		"min > max":    {&RecordListOptions{TalkTimeMin: 10, TalkTimeMax: 5}, "TalkTimeMax"},
		"negative":     {&RecordListOptions{ScoreMin: -1}, "ScoreMin"},
		"page":         {&RecordListOptions{ListOptions: ListOptions{PerPage: -5}}, "PerPage"},
		"backwards":    {&RecordListOptions{CreatedFrom: china("2024-08-02 00:00:00"), CreatedTo: china("2024-08-01 00:00:00")}, "CreatedTo"},
	} {
		_, _, err := c.Records.List(context.Background(), tc.opts)
		var ve *ValidationError
		if assert.ErrorAs(t, err, &ve, name) {
			assert.Equal(t, tc.field, ve.Field, name)
		}
	}
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

// A page's records share its reply instead of each copying its Raw (CallRecord.Raw): an append to
// one record's Raw copies it, and leaves the next record's as it was.
func TestRecordsListRawsShareThePage(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	serveReply(t, mt, "POST", "/api/crmList", "crm_list.json")
	recs, _, err := c.Records.List(context.Background(), nil)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	a, b := recs[0].Raw, recs[1].Raw
	want := string(b)
	require.True(t, json.Valid(a))
	assert.Equal(t, len(a), cap(a))
	_ = append(a, "xxxx"...)
	assert.Equal(t, want, string(b))
}

// An item PHP wrote as [] or {} is an empty record, never a nil one that All would trip over.
func TestRecordsAllReadsEmptyItemsAsRecords(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/api/crmList", httpmock.NewStringResponder(200,
		`{"code":0,"data":{"total":3,"list":[{"id":1,"sn":"account|1"},[],{}]}}`))
	var got []*CallRecord
	for r, err := range c.Records.All(context.Background(), nil) {
		require.NoError(t, err)
		got = append(got, r)
	}
	require.Len(t, got, 3)
	assert.Equal(t, "account|1", got[0].SN)
	assert.NotNil(t, got[1])
	assert.NotNil(t, got[2])
}

// pager serves n records over /api/crmList by pageIndex and pageSize; failPage answers code 20002.
type pager struct {
	n, failPage int
	calls       []string // "page/size" of each call
}

func (pg *pager) respond(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	var q struct {
		Page int `json:"pageIndex,string"`
		Size int `json:"pageSize,string"`
	}
	if err := json.Unmarshal(b, &q); err != nil {
		return nil, err
	}
	pg.calls = append(pg.calls, fmt.Sprintf("%d/%d", q.Page, q.Size))
	if q.Page == pg.failPage {
		return httpmock.NewStringResponse(200, `{"code":20002,"msg":"数据格式错误"}`), nil
	}
	var rows []string
	for i := q.Page * q.Size; i < min((q.Page+1)*q.Size, pg.n); i++ {
		rows = append(rows, fmt.Sprintf(`{"id":%d,"sn":"account|%d"}`, i, i))
	}
	return httpmock.NewStringResponse(200, fmt.Sprintf(`{"code":0,"data":{"total":%d,"list":[%s]}}`, pg.n, strings.Join(rows, ","))), nil
}

func collect(t *testing.T, seq func(func(*CallRecord, error) bool)) ([]int64, error) {
	t.Helper()
	var ids []int64
	for r, err := range seq {
		if err != nil {
			assert.Nil(t, r)
			return ids, err
		}
		ids = append(ids, r.ID)
	}
	return ids, nil
}

func TestRecordsAllPages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n     int
		calls []string
	}{
		{7, []string{"0/3", "1/3", "2/3"}},
		{6, []string{"0/3", "1/3", "2/3"}}, // a full page reaches the total: one page more tells it is true
		{0, []string{"0/3"}},
	} {
		c, mt := newMockClient(t)
		pg := &pager{n: tc.n, failPage: -1}
		mt.RegisterResponder("POST", testBase+"/api/crmList", pg.respond)
		ids, err := collect(t, c.Records.All(context.Background(), &RecordListOptions{ListOptions: ListOptions{PerPage: 3}}))
		require.NoError(t, err)
		assert.Len(t, ids, tc.n)
		for i, id := range ids {
			assert.Equal(t, int64(i), id)
		}
		assert.Equal(t, tc.calls, pg.calls, "n=%d", tc.n)
	}
}

func TestRecordsAllPagesAReplyWithoutTotal(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var pages []string
	mt.RegisterResponder("POST", testBase+"/api/crmList", func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		var q struct {
			Page int `json:"pageIndex,string"`
		}
		if err := json.Unmarshal(b, &q); err != nil {
			return nil, err
		}
		pages = append(pages, fmt.Sprint(q.Page))
		rows := []string{`{"id":1}`, `{"id":2}`}[:2-q.Page] // 2 rows, then 1: no total in either
		if q.Page == 1 {
			rows = []string{`{"id":3}`}
		}
		return httpmock.NewStringResponse(200, `{"code":0,"data":{"list":[`+strings.Join(rows, ",")+`]}}`), nil
	})
	ids, err := collect(t, c.Records.All(context.Background(), &RecordListOptions{ListOptions: ListOptions{PerPage: 2}}))
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2, 3}, ids, "a full page is not the last one")
	assert.Equal(t, []string{"0", "1"}, pages)
}

func TestRecordsAllDefaultPageSizeAndEarlyStop(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	pg := &pager{n: 1200, failPage: -1}
	mt.RegisterResponder("POST", testBase+"/api/crmList", pg.respond)
	for r, err := range c.Records.All(context.Background(), nil) {
		require.NoError(t, err)
		if r.ID == 2 {
			break
		}
	}
	assert.Equal(t, []string{fmt.Sprintf("0/%d", DefaultAllPageSize)}, pg.calls)
}

func TestRecordsAllStopsAtTheFirstError(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	pg := &pager{n: 10, failPage: 1}
	mt.RegisterResponder("POST", testBase+"/api/crmList", pg.respond)
	ids, err := collect(t, c.Records.All(context.Background(), &RecordListOptions{ListOptions: ListOptions{PerPage: 4}}))
	require.ErrorIs(t, err, ErrBadData)
	assert.Equal(t, []int64{0, 1, 2, 3}, ids)
	assert.Len(t, pg.calls, 2)

	_, err = collect(t, c.Records.All(context.Background(), &RecordListOptions{Intents: []IntentGrade{""}}))
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
}

func TestRecordsAllRespectsTheContext(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	pg := &pager{n: 10, failPage: -1}
	mt.RegisterResponder("POST", testBase+"/api/crmList", pg.respond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ids []int64
	var last error
	for r, err := range c.Records.All(ctx, &RecordListOptions{ListOptions: ListOptions{PerPage: 2}}) {
		if err != nil {
			last = err
			break
		}
		ids = append(ids, r.ID)
		cancel() // the page in hand is still yielded; no further page is fetched
	}
	require.ErrorIs(t, last, context.Canceled)
	assert.Equal(t, []int64{0, 1}, ids)
	assert.Len(t, pg.calls, 1)
}

func TestRecordsDialogue(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/cdrshow", "cdrshow.json")
	d, err := c.Records.Dialogue(context.Background(), "account|101405a98acaae36e2b72fea39e11fe2",
		time.Date(2024, 10, 22, 1, 35, 38, 0, time.UTC))
	require.NoError(t, err)
	assertPost(t, got, "/api/cdrshow", commonJSON+`,"accounts_sn":"account|101405a98acaae36e2b72fea39e11fe2","connected_at":"2024-10-22 09:35:38"}`)

	require.Len(t, d.Rounds, 2)
	turns := d.Turns()
	require.Len(t, turns, 3)
	robot, customer, bye := turns[0], turns[1], turns[2]
	assert.False(t, robot.Customer)
	assert.Equal(t, "01问候语+开场白", robot.Node)
	assert.Contains(t, robot.Text, "智能客服")
	assert.Equal(t, "1", robot.ProcessCode, "a number")
	assert.True(t, customer.Customer, `is_answer "1"`)
	assert.Equal(t, "嗯，你说", customer.Answer)
	assert.True(t, strings.HasSuffix(customer.Segment, "_1.wav"))
	assert.JSONEq(t, `"0.93"`, string(customer.Extra["asr_confidence"]))
	assert.Equal(t, "hangup", bye.OutType)
	assert.Equal(t, "5", bye.Score)

	_, err = c.Records.Dialogue(context.Background(), "account|1", time.Time{})
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	_, err = c.Records.Dialogue(context.Background(), "", time.Now())
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestCallResultNames(t *testing.T) {
	t.Parallel()
	names := []string{}
	for r := ResultPowerOff; r <= ResultBusy; r++ {
		names = append(names, r.String())
	}
	assert.Equal(t, []string{"关机", "空号", "停机", "正在通话中", "用户拒接", "无法接通", "暂停服务", "用户正忙"}, names)
	assert.Equal(t, "CallResult(10)", CallResult(10).String())
}

// audio answers with body as a WAV file and records the query.
func audio(query *string, body string) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		*query = r.URL.RawQuery
		resp := httpmock.NewStringResponse(200, body)
		resp.Header.Set("Content-Type", "audio/wav")
		return resp, nil
	}
}

const wavBytes = "RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00"

func TestRecordsDownload(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var query string
	mt.RegisterResponder("GET", testBase+"/api/cdrDownload", audio(&query, wavBytes))
	var buf bytes.Buffer
	file := "/mnt/record/20241022/0935/20241022093538_zzh_zzh1_ec0fdf06_0637.wav"
	n, err := c.Records.Download(context.Background(), "/mnt/record", file, &buf)
	require.NoError(t, err)
	assert.Equal(t, int64(len(wavBytes)), n)
	assert.Equal(t, wavBytes, buf.String())
	assert.Equal(t, commonQuery+"&recordpath=%2Fmnt%2Frecord&recordfile=%2Fmnt%2Frecord%2F20241022%2F0935%2F20241022093538_zzh_zzh1_ec0fdf06_0637.wav"+
		"&url="+urlOf(commonJSON+`,"recordpath":"\/mnt\/record","recordfile":"\/mnt\/record\/20241022\/0935\/20241022093538_zzh_zzh1_ec0fdf06_0637.wav"}`), query)

	_, err = c.Records.Download(context.Background(), "/mnt/record", "", &buf)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	_, err = c.Records.Download(context.Background(), "", file, &buf)
	require.ErrorAs(t, err, &ve, "6.2 requires recordpath too")
	assert.Equal(t, "recordPath", ve.Field)
	_, err = c.Records.Download(context.Background(), "/mnt/record", file, nil)
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestRecordsDownloadSegment(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var query string
	mt.RegisterResponder("GET", testBase+"/api/cdrFragmentDownload", audio(&query, wavBytes))
	var buf bytes.Buffer
	n, err := c.Records.DownloadSegment(context.Background(), "/mnt/record/seg_1.wav", &buf)
	require.NoError(t, err)
	assert.Equal(t, int64(len(wavBytes)), n)
	assert.Equal(t, commonQuery+"&recordfile=%2Fmnt%2Frecord%2Fseg_1.wav&url="+urlOf(commonJSON+`,"recordfile":"\/mnt\/record\/seg_1.wav"}`), query)
	_, err = c.Records.DownloadSegment(context.Background(), "", &buf)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
}

func TestRecordsDownloadRefusesNonFiles(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		status      int
		contentType string
		body        string
		code        int
	}{
		"platform error":   {200, "application/json; charset=utf-8", `{"code":20002,"msg":"数据格式错误"}`, CodeBadData},
		"success envelope": {200, "application/json", `{"code":0,"msg":"ok"}`, 0},
		"html page":        {200, "text/html", "<html><body>404 Not Found</body></html>", 0},
		"missing file":     {404, "text/plain", "file not found", 0},
	} {
		c, mt := newMockClient(t, WithRetries(0, 0))
		mt.RegisterResponder("GET", testBase+"/api/cdrDownload", func(*http.Request) (*http.Response, error) {
			resp := httpmock.NewStringResponse(tc.status, tc.body)
			resp.Header.Set("Content-Type", tc.contentType)
			return resp, nil
		})
		var buf bytes.Buffer
		n, err := c.Records.Download(context.Background(), "/mnt/record", "/mnt/record/x.wav", &buf)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr, name)
		assert.Equal(t, tc.code, apiErr.Code, name)
		assert.Equal(t, tc.status, apiErr.HTTPStatus, name)
		assert.Zero(t, n, name)
		assert.Zero(t, buf.Len(), "nothing is written: %s", name)
	}
}

func TestRecordsDownloadRetriesOnlyBeforeTheBody(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithRetries(2, time.Millisecond))
	calls := 0
	mt.RegisterResponder("GET", testBase+"/api/cdrDownload", func(*http.Request) (*http.Response, error) {
		calls++
		if calls == 1 {
			return httpmock.NewStringResponse(503, "busy"), nil
		}
		resp := httpmock.NewStringResponse(200, wavBytes)
		resp.Header.Set("Content-Type", "audio/wav")
		return resp, nil
	})
	var buf bytes.Buffer
	n, err := c.Records.Download(context.Background(), "/mnt/record", "/mnt/record/x.wav", &buf)
	require.NoError(t, err)
	assert.Equal(t, 2, calls, "a 503 before the file is retried")
	assert.Equal(t, wavBytes, buf.String(), "and the file is written once")
	assert.Equal(t, int64(len(wavBytes)), n)

	// A connection that breaks while the file is streaming is not retried: the bytes written stay
	// counted and the error says so.
	long := wavBytes + strings.Repeat("\x00", 1000) // past the bytes read to tell a file from an error
	calls = 0
	errReset := errors.New("connection reset by peer")
	mt.RegisterResponder("GET", testBase+"/api/cdrDownload", func(*http.Request) (*http.Response, error) {
		calls++
		resp := httpmock.NewStringResponse(200, "")
		resp.Body = io.NopCloser(io.MultiReader(strings.NewReader(long), errReader{errReset}))
		resp.Header.Set("Content-Type", "audio/wav")
		return resp, nil
	})
	buf.Reset()
	n, err = c.Records.Download(context.Background(), "/mnt/record", "/mnt/record/x.wav", &buf)
	require.ErrorIs(t, err, errReset)
	assert.Contains(t, err.Error(), fmt.Sprintf("after %d bytes", len(long)))
	assert.Equal(t, int64(len(long)), n)
	assert.Equal(t, long, buf.String())
	assert.Equal(t, 1, calls)

	// One that breaks within those first bytes has written nothing yet: it is retried.
	calls = 0
	mt.RegisterResponder("GET", testBase+"/api/cdrDownload", func(*http.Request) (*http.Response, error) {
		calls++
		resp := httpmock.NewStringResponse(200, "")
		resp.Body = io.NopCloser(io.MultiReader(strings.NewReader(wavBytes), errReader{errReset}))
		if calls == 3 {
			resp.Body = io.NopCloser(strings.NewReader(wavBytes))
		}
		return resp, nil
	})
	buf.Reset()
	n, err = c.Records.Download(context.Background(), "/mnt/record", "/mnt/record/x.wav", &buf)
	require.NoError(t, err)
	assert.Equal(t, 3, calls)
	assert.Equal(t, wavBytes, buf.String(), "written once")
	assert.Equal(t, int64(len(wavBytes)), n)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestMultiServerSecret(t *testing.T) {
	t.Parallel()
	// md5("Kpd2vKYC1700000000") = "03d30ba6c…": characters 2–9.
	assert.Equal(t, "3d30ba6c", multiServerSecret("Kpd2vKYC", "1700000000"))
	assert.Equal(t, "10424a88", multiServerSecret(testAPIKey, "1729560938"))
}

func TestRecordsDownloadMultiServer(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	c.auth.now = func() time.Time { return time.Unix(1729560938, 0) }
	var query string
	mt.RegisterResponder("GET", testBase+"/api/multiServerCdrDownload", audio(&query, wavBytes))
	var buf bytes.Buffer
	n, err := c.Records.DownloadMultiServer(context.Background(), "/mnt/record", "/mnt/record/x.wav", &buf)
	require.NoError(t, err)
	assert.Equal(t, int64(len(wavBytes)), n)
	assert.Equal(t, commonQuery+"&recordpath=%2Fmnt%2Frecord&recordfile=%2Fmnt%2Frecord%2Fx.wav&timestamp=1729560938&secret=10424a88"+
		"&url="+urlOf(commonJSON+`,"recordpath":"\/mnt\/record","recordfile":"\/mnt\/record\/x.wav","timestamp":"1729560938","secret":"10424a88"}`), query)

	mt.RegisterResponder("GET", testBase+"/api/multiServerCdrDownload",
		httpmock.NewStringResponder(200, `{"code":10001,"msg":"url验证失败 MUOm4NH1"}`).HeaderSet(http.Header{"Content-Type": {"application/json"}}))
	_, err = c.Records.DownloadMultiServer(context.Background(), "/mnt/record", "/mnt/record/x.wav", &buf)
	require.ErrorIs(t, err, ErrSignature)
	assert.NotContains(t, err.Error(), testAPIKey, "an echoed api_key is redacted")
	_, err = c.Records.DownloadMultiServer(context.Background(), "", "", &buf)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
}

func TestRecordsDownloadMultiServerLogsInAgainOnce(t *testing.T) {
	t.Parallel()
	c, f, mt := newLoginClient(t)
	require.NoError(t, callIndex(context.Background(), c))
	f.relogin() // another instance took the key
	var keys []string
	mt.RegisterResponder("GET", testBase+"/api/multiServerCdrDownload", func(r *http.Request) (*http.Response, error) {
		key := r.URL.Query().Get("api_key")
		keys = append(keys, key)
		f.mu.Lock()
		defer f.mu.Unlock()
		resp := httpmock.NewStringResponse(200, wavBytes)
		resp.Header.Set("Content-Type", "audio/wav")
		if key != f.current {
			resp = httpmock.NewStringResponse(200, `{"code":20005,"msg":"api_key验证失败"}`)
			resp.Header.Set("Content-Type", "text/html; charset=UTF-8") // PHP's default type
		}
		return resp, nil
	})
	var buf bytes.Buffer
	n, err := c.Records.DownloadMultiServer(context.Background(), "/mnt/record", "/mnt/record/x.wav", &buf)
	require.NoError(t, err)
	assert.Equal(t, int64(len(wavBytes)), n)
	assert.Equal(t, []string{"key00001", "key00002"}, keys, "the secret is recomputed with the new key")
	assert.EqualValues(t, 2, f.logins.Load())

	f.relogin()
	f.mu.Lock()
	f.reply = `{"code":0,"data":{"user_sn":"SYSUSER|x","api_key":"stale"}}` // logins hand out a key that fails too
	f.mu.Unlock()
	_, err = c.Records.DownloadMultiServer(context.Background(), "/mnt/record", "/mnt/record/x.wav", &buf)
	require.ErrorIs(t, err, ErrAPIKeyInvalid, "one login, then the error")
	assert.EqualValues(t, 3, f.logins.Load())
}

// crmPager serves /api/crmList over n records the way a hostile or limited platform might.
type crmPager struct {
	n       int  // records that exist
	limit   int  // most records a page holds, whatever pageSize asks (0: no limit)
	stopAt  int  // pages from this index on are empty (0: never)
	ignore  bool // pageIndex is ignored: always the first page
	total   int  // the total reported (0: n)
	fetches atomic.Int64
}

func (p *crmPager) respond(r *http.Request) (*http.Response, error) {
	p.fetches.Add(1)
	var req struct {
		PageIndex string `json:"pageIndex"`
		PageSize  string `json:"pageSize"`
	}
	b, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(b, &req) // the client sends numbers as strings
	page, _ := strconv.Atoi(req.PageIndex)
	size, _ := strconv.Atoi(req.PageSize)
	if p.limit > 0 && size > p.limit {
		size = p.limit
	}
	if p.ignore {
		page = 0
	}
	var rows []string
	if p.stopAt == 0 || page < p.stopAt {
		for i := page * size; i < min((page+1)*size, p.n); i++ {
			rows = append(rows, fmt.Sprintf(`{"id":%d,"sn":"account|%032d"}`, i+1, i+1))
		}
	}
	total := p.total
	if total == 0 {
		total = p.n
	}
	return httpmock.NewStringResponse(200, fmt.Sprintf(`{"code":0,"data":{"total":"%d","list":[%s]}}`,
		total, strings.Join(rows, ","))), nil
}

func allRecords(c *Client, opts *RecordListOptions) (map[int64]bool, error) {
	got := map[int64]bool{}
	for r, err := range c.Records.All(context.Background(), opts) {
		if err != nil {
			return got, err
		}
		got[r.ID] = true
	}
	return got, nil
}

func TestRecordsAllPagesByTotal(t *testing.T) {
	t.Parallel()
	// A platform that caps pageSize at 100: every record still comes.
	c, mt := newMockClient(t)
	capped := &crmPager{n: 1200, limit: 100}
	mt.RegisterResponder("POST", testBase+"/api/crmList", capped.respond)
	got, err := allRecords(c, nil)
	require.NoError(t, err)
	assert.Len(t, got, 1200)
	assert.EqualValues(t, 12, capped.fetches.Load())

	// Pages that end before the total: an error, with what came.
	c, mt = newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/api/crmList", (&crmPager{n: 1200, limit: 100, stopAt: 3}).respond)
	got, err = allRecords(c, nil)
	require.ErrorIs(t, err, ErrIncomplete)
	assert.Len(t, got, 300)
	assert.Contains(t, err.Error(), "300 of 1200")

	// A platform that ignores pageIndex: detected, not looped on.
	c, mt = newMockClient(t)
	same := &crmPager{n: 1200, limit: 100, ignore: true}
	mt.RegisterResponder("POST", testBase+"/api/crmList", same.respond)
	_, err = allRecords(c, nil)
	require.ErrorIs(t, err, ErrIncomplete)
	assert.EqualValues(t, 2, same.fetches.Load())
}

func TestEmptyListsInEveryPHPShape(t *testing.T) {
	t.Parallel()
	for _, data := range []string{`[]`, `{}`, `null`, `{"total":0,"list":[]}`, `{"total":"0","list":{}}`,
		`{"total":0,"list":null}`} {
		c, mt := newMockClient(t)
		mt.RegisterResponder("POST", testBase+"/api/crmList",
			httpmock.NewStringResponder(200, `{"code":0,"msg":"获取成功","data":`+data+`}`))
		list, total, err := c.Records.List(context.Background(), nil)
		require.NoError(t, err, data)
		assert.Empty(t, list, data)
		assert.Zero(t, total, data)
		n := 0
		for _, err := range c.Records.All(context.Background(), nil) {
			require.NoError(t, err, data)
			n++
		}
		assert.Zero(t, n, data)
	}
	// A PHP array with holes is written as an object: its values are the items.
	c, mt := newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/api/crmList", httpmock.NewStringResponder(200,
		`{"code":0,"data":{"total":2,"list":{"0":{"id":1,"sn":"account|a"},"2":{"id":3,"sn":"account|c"}}}}`))
	list, _, err := c.Records.List(context.Background(), nil)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "account|c", list[1].SN)
}
